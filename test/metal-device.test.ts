/**
 * @file Tests that need a real Metal device (macOS on Apple silicon): jitted and eager work on 'metal'
 * against 'cpu', the addon's argument checks and compile errors, and the on-disk pipeline cache across
 * two processes. Elsewhere, or with METALGRAD_DEVICE=cpu, the suite is skipped and says why;
 * METALGRAD_REQUIRE_METAL=1 (CI on macOS, after the self-check passed) makes that a failure.
 */

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { devicePut, grad, jit, nn, numpy as np, NDArray } from 'metalgrad';
import { native } from '../lib/backend/native';

/** Why the suite cannot run here, or '' when it can. */
function unavailable(): string {
  if (process.env.METALGRAD_DEVICE === 'cpu') return 'METALGRAD_DEVICE=cpu asks for the CPU path only';
  try {
    devicePut(0, 'metal');
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}
const reason = unavailable();
if (reason) {
  if (process.env.METALGRAD_REQUIRE_METAL === '1') throw new Error(`METALGRAD_REQUIRE_METAL=1 but the Metal tests cannot run: ${reason}`);
  // Straight to stderr: jest hides console output of a suite whose tests are all skipped.
  process.stderr.write(`test/metal-device.test.ts: the Metal device tests are skipped (not run, not passed): ${reason}\n`);
}
const suite = reason ? describe.skip : describe;
const ROOT = path.join(__dirname, '..');

const close = (got: NDArray, want: NDArray, tol = 1e-5): void => {
  expect(got.shape).toEqual(want.shape);
  const g = got.data();
  want.data().forEach((w, i) => {
    if (Number.isNaN(w)) expect(g[i]).toBeNaN();
    else if (!Number.isFinite(w)) expect(g[i]).toBe(w);
    else expect(Math.abs(g[i] - w)).toBeLessThanOrEqual(tol * (1 + Math.abs(w)));
  });
};

suite('on the Metal device', () => {
  const n = 300_000; // several thousand threadgroups
  const big = np.array(Array.from({ length: n }, (_, i) => Math.cos(i * 0.013) * 4));
  const m = np.array(Array.from({ length: 96 * 80 }, (_, i) => Math.sin(i * 0.7))).reshape([96, 80]);
  const fns: [string, (a: NDArray) => NDArray, NDArray][] = [
    ['a fused chain over 300k elements', (a) => np.maximum(np.subtract(np.multiply(np.exp(np.negative(np.abs(a))), 3), 0.5), np.sin(a)), big],
    ['special values', (a) => np.divide(np.log(a), np.sqrt(a)), np.array([0, -1, Infinity, NaN, 1e-30, 2])],
    ['softmax rows', (a) => nn.softmax(a, { axis: 1 }), m],
    ['logsumexp', (a) => nn.logsumexp(a, { axis: 0 }), m],
    ['matmul', (a) => np.matmul(a, np.transpose(a)), m],
    ['a long sum (a threadgroup per output)', (a) => np.sum(np.square(a)), big],
    ['row maxima (a SIMD-group per output)', (a) => np.max(np.reshape(a, [600, 500]), { axis: 1 }), big],
    ['column minima (a thread per output)', (a) => np.min(np.reshape(a, [100, 3000]), { axis: 0 }), big],
    ['a batched matmul with edges', (a) => np.matmul(np.reshape(a, [4, 96, 20]), np.reshape(a, [4, 20, 96])), m],
    ['argmin', (a) => np.argmin(a, { axis: 1 }), m],
    ['integer ops', (a) => np.multiply(a.astype('int32'), -3), np.multiply(m, 10)],
    ['a gradient', (a) => grad((y: NDArray) => np.sum(nn.gelu(y)))(a), m],
  ];
  test.each(fns)('%s matches the CPU', (_, f, x) => {
    const want = jit(f)(devicePut(x, 'cpu'));
    const got = jit(f)(devicePut(x, 'metal'));
    expect(got.device).toBe('metal');
    close(got, want, 1e-4);
  });

  test('eager operations on metal arrays', () => {
    const a = devicePut(m, 'metal');
    const y = np.sum(np.multiply(a, a), { axis: 1 });
    expect(y.device).toBe('metal');
    close(y, np.sum(np.multiply(devicePut(m, 'cpu'), devicePut(m, 'cpu')), { axis: 1 }), 1e-5);
  });

  test('the addon checks its arguments and reports compile errors with the source line', () => {
    const metal = native().metal!;
    expect(() => metal.allocate(-1)).toThrow(/allocate: bytes must be a non-negative integer below 2\^32/);
    expect(() => metal.dispatch(Int32Array.from([1, 99999, 1, 0]), [])).toThrow(/unknown pipeline 99999/);
    const bad = 'kernel void metalgrad_kernel(device float* out [[buffer(0)]], uint gid [[thread_position_in_grid]]) {\n  out[gid] = not_declared;\n}\n';
    expect(() => metal.compile(bad, 'metalgrad_kernel')).toThrow(/not_declared/);
  });

  test('a second process finds the pipelines in the on-disk cache', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metalgrad-cache-'));
    const dist = path.join(ROOT, 'dist', 'lib');
    if (!fs.existsSync(path.join(dist, 'index.js'))) throw new Error(`${dist} is missing: build it with \`npm run build:ts\``);
    const script = `
      const mg = require(${JSON.stringify(path.join(dist, 'index.js'))});
      const { backendFor } = require(${JSON.stringify(path.join(dist, 'backend', 'devices.js'))});
      const x = mg.devicePut(mg.numpy.array([1, 2, 3, 4]), 'metal');
      const y = mg.jit((a) => mg.numpy.tanh(mg.numpy.multiply(a, 3.25)))(x);
      console.log(JSON.stringify({ y: Array.from(y.data()), stats: backendFor('metal').stats() }));`;
    const runOnce = () => {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, METALGRAD_CACHE_DIR: dir } });
      if (r.status !== 0) throw new Error(`the child process failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop() as string);
    };
    try {
      const first = runOnce();
      const second = runOnce();
      expect(first.stats.archiveError).toBe('');
      expect(first.stats.compiled).toBeGreaterThan(0);
      expect(fs.existsSync(first.stats.archivePath)).toBe(true);
      expect(second.stats.compiled).toBe(0);
      expect(second.stats.archiveHits).toBe(first.stats.compiled);
      expect(second.y).toEqual(first.y);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
