/**
 * @file Metal self-check, run by CI on macOS before the Metal tests: prints the device and its GPU
 * family, runs a few jitted functions on 'metal' and on 'cpu' and compares them. Exit status: 0 when
 * they match, 1 when they differ (e.g. a paravirtual GPU that returns zeros), 2 without a Metal device.
 */

import { devicePut, devices, jit, nn, numpy as np, Array } from 'metalgrad';
import { backendFor } from '../lib/backend/devices';
import { MetalBackend } from '../lib/backend/metal';

function main(): number {
  if (!devices().includes('metal')) {
    try {
      devicePut(0, 'metal');
    } catch (e) {
      console.log(`Metal self-check: no Metal device: ${(e as Error).message}`);
    }
    return 2;
  }
  const metal = backendFor('metal') as MetalBackend;
  console.log(`Metal self-check on "${metal.info.name}" (${metal.info.apple7 ? 'Apple7 or newer' : 'older than Apple7, e.g. a paravirtual device'}); pipeline archive: ${metal.info.archivePath || 'off'}`);
  const x = np.array(globalThis.Array.from({ length: 4096 }, (_, i) => Math.sin(i * 0.37) * 3)).reshape([64, 64]);
  const checks: [string, (a: Array) => Array][] = [
    ['elementwise', (a) => np.add(np.multiply(np.tanh(a), 2), 1)],
    ['softmax', (a) => nn.softmax(a, { axis: -1 })],
    ['matmul', (a) => np.matmul(a, np.transpose(a))],
    ['sum', (a) => np.sum(np.square(a), { axis: 0 })],
    ['long sum (a threadgroup per output)', (a) => np.sum(np.square(a))],
  ];
  let failed = 0;
  for (const [name, f] of checks) {
    const want = jit(f)(devicePut(x, 'cpu')).data();
    const got = jit(f)(devicePut(x, 'metal')).data();
    let worst = 0;
    want.forEach((w, i) => (worst = Math.max(worst, Math.abs(got[i] - w) / (1 + Math.abs(w)))));
    const ok = worst <= 1e-4;
    if (!ok) failed++;
    console.log(`  ${name}: ${ok ? 'ok' : 'MISMATCH'} (largest relative difference ${worst.toExponential(2)})`);
  }
  const s = metal.stats();
  console.log(`  pipelines compiled ${s.compiled}, from the archive ${s.archiveHits}, from memory ${s.memoryHits}${s.archiveError ? `; archive problem: ${s.archiveError}` : ''}`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
