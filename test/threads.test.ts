/**
 * @file Threads of the native CPU path: setNumThreads validation, and jitted matmuls (plain,
 * transposed, batched), elementwise chains and reductions giving identical results at 1 and 2 threads.
 */

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
    ['batched matmul', () => jit(np.matmul)(values([12, 40, 50], 5), values([12, 50, 30], 6)).data() as Float32Array],
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
