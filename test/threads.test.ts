/**
 * @file Threads of the native CPU path: setNumThreads validation, the METALGRAD_NUM_THREADS
 * and METALGRAD_ISA contracts, clean process exit with live workers, and jitted matmuls (plain,
 * transposed, batched), elementwise chains and reductions giving identical results at 1 and 2
 * threads.
 */

import { spawnSync } from 'child_process';
import * as path from 'path';
import { grad, jit, numThreads, numpy as np, setNumThreads } from 'metalgrad';

/** Deterministic float32 values in [-1, 1) of the given shape. */
function values(shape: number[], seed: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s >>> 8) / 8388608 - 1;
  }
  return np.array(data).reshape(shape);
}

function atThreads<T>(threads: number, f: () => T): T {
  const before = numThreads();
  setNumThreads(threads);
  try {
    return f();
  } finally {
    setNumThreads(before);
  }
}

describe('setNumThreads / numThreads', () => {
  test('sets and reports the thread count', () => {
    atThreads(3, () => expect(numThreads()).toBe(3));
    atThreads(1, () => expect(numThreads()).toBe(1));
  });

  test('rejects anything but an integer from 1 to 1024, naming the function and argument', () => {
    expect(() => setNumThreads('2' as unknown as number)).toThrow(
      'setNumThreads: argument `n` must be an integer from 1 to 1024, received string "2"');
    expect(() => setNumThreads(undefined as unknown as number)).toThrow(TypeError);
    for (const bad of [0, -1, 1.5, NaN, Infinity, 1025]) {
      expect(() => setNumThreads(bad)).toThrow(
        `setNumThreads: argument \`n\` must be an integer from 1 to 1024, received ${bad}`);
    }
  });
});

describe('results agree at 1 and 2 threads', () => {
  const cases: [string, () => Float32Array][] = [
    ['matmul', () => jit(np.matmul)(values([130, 300], 1), values([300, 170], 2)).data() as Float32Array],
    ['transposed matmul (A^T B, A B^T)', () => {
      const f = jit((a: any, b: any) => np.add(np.matmul(np.transpose(a), b), np.matmul(a, np.transpose(b))));
      return f(values([120, 120], 3), values([120, 120], 4)).data() as Float32Array;
    }],
    ['batched matmul', () => jit(np.matmul)(values([12, 60, 50], 5), values([12, 50, 40], 6)).data() as Float32Array],
    ['elementwise chain', () => {
      const f = jit((x: any) => np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(x, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1));
      return f(values([300, 1100], 7)).data() as Float32Array;
    }],
    ['reductions', () => {
      const x = values([4, 100000], 8);
      const f = jit((v: any) => np.concatenate([np.sum(v, { axis: 1 }), np.max(v, { axis: 1 }), np.sum(np.transpose(v), { axis: 0 }), np.reshape(np.sum(v), [1])]));
      return f(x).data() as Float32Array;
    }],
    ['gradient of a small MLP layer', () => {
      const loss = (w: any, x: any) => np.sum(np.tanh(np.matmul(x, w)));
      return jit(grad(loss))(values([200, 100], 9), values([160, 200], 10)).data() as Float32Array;
    }],
  ];
  test.each(cases)('%s', (_name, run) => {
    const one = atThreads(1, run);
    const two = atThreads(2, run);
    expect(two.length).toBe(one.length);
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });
});

describe('METALGRAD_NUM_THREADS and process exit', () => {
  const addon = path.join(__dirname, '..', 'build', 'Release', 'metalgrad.node');
  // A child process that loads the addon, runs a 200 x 200 x 200 matmul (big enough to wake the
  // workers) and prints the thread count; `exit` ends it with process.exit while workers are idle.
  const child = (env: string | undefined, exit = false, isa?: string) => spawnSync(process.execPath, ['-e', `
    const addon = require(${JSON.stringify(addon)});
    const n = 200, code = new Int32Array([0x4D47, 1, 1, 4, 20, 0, 1, n, n, n,
      0, 0, 0, n, 1,  1, 0, 0, n, 1,  2, 0, 0, n, 1]);
    const a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
    addon.run(code, new Float64Array(0), [a, a, c]);
    if (c[0] !== n) throw new Error('matmul gave ' + c[0]);
    console.log(addon.numThreads());
    ${exit ? 'process.exit(0);' : ''}
  `], { env: { ...process.env, METALGRAD_NUM_THREADS: env, METALGRAD_ISA: isa }, encoding: 'utf8', timeout: 30000 });

  test('sets the starting thread count; the process exits cleanly with workers started', () => {
    for (const [env, exit] of [['1', false], ['2', false], ['3', true]] as const) {
      const r = child(env, exit);
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(env);
    }
  });

  test('an invalid value is a clear error, not a crash', () => {
    const r = child('two');
    expect(r.signal).toBeNull();
    expect(r.stderr).toContain("METALGRAD_NUM_THREADS must be an integer from 1 to 1024, received 'two'");
  });

  test('METALGRAD_ISA picks the GEMM micro-kernel; an unknown one is a clear error', () => {
    const ok = child('2', false, 'generic');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const bad = child('2', false, 'sse9');
    expect(bad.signal).toBeNull();
    expect(bad.stderr).toContain("METALGRAD_ISA must be generic, sse2, avx2 or avx512, received 'sse9'");
  });
});
