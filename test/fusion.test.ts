/** @file Fusion: which runs of operations become one kernel, and that fused results equal unfused ones. */

import { jit, lax, numpy as np, Array as MgArray } from 'metalgrad';
import { expectClose } from './util';

const kernelsOf = (f: (...xs: MgArray[]) => MgArray | MgArray[], ...args: MgArray[]) => jit(f).lower(...args).kernels;

describe('elementwise fusion', () => {
  const x = np.array([[-1.5, 0, 2], [0.25, -3, 4]]);

  test('the README example and the 8-op chain are one kernel reading one buffer', () => {
    expect(kernelsOf((a) => np.add(np.multiply(a, a), 1), x)).toHaveLength(1);
    const chain = (a: MgArray) => np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(a, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1);
    const [k] = kernelsOf(chain, x);
    expect(kernelsOf(chain, x)).toHaveLength(1);
    expect(k.ops).toEqual(['mul', 'add', 'tanh', 'mul', 'add', 'max', 'mul', 'sub']);
    expect(k.inputs).toBe(1);
    expect(k.outputs).toBe(1);
    expect(k.msl).toContain('kernel void');
    expectClose(jit(chain)(x), chain(x).toArray() as never, { rtol: 1e-6, atol: 1e-6 });
  });

  test('broadcast operands fuse into the consumer; a reduction ends the group', () => {
    const b = np.array([1, 2, 3]);
    const ks = kernelsOf((a, c) => np.sum(np.exp(np.add(a, c)), { axis: 1 }), x, b);
    expect(ks.map((k) => k.ops)).toEqual([['broadcast_in_dim', 'add', 'exp'], ['reduce_sum']]);
  });

  test('a value used after a reduction is stored by its group and reused, not recomputed', () => {
    const f = (a: MgArray) => {
      const e = np.exp(np.multiply(a, 2));
      return np.divide(e, np.sum(e));
    };
    const ks = kernelsOf(f, x);
    expect(ks.map((k) => k.ops.filter((o) => o === 'exp').length).reduce((s, n) => s + n, 0)).toBe(1);
    expectClose(jit(f)(x), f(x).toArray() as never, { rtol: 1e-6, atol: 1e-6 });
  });

  test('many independent stored values stay within the per-kernel buffer limit', () => {
    const f = (a: MgArray) => Array.from({ length: 40 }, (_, i) => np.add(a, i + 0.5));
    const ks = kernelsOf(f, x);
    for (const k of ks) expect(k.inputs + k.outputs).toBeLessThanOrEqual(31);
    const got = jit(f)(x);
    const want = f(x);
    got.forEach((g, i) => expectClose(g, want[i].toArray() as never, { rtol: 0, atol: 0 }));
  });

  test('transposes and slices of inputs fuse as strided loads', () => {
    const f = (a: MgArray) => np.multiply(np.transpose(a), lax.slice(np.transpose(a), [0, 0], [3, 2]));
    expect(kernelsOf(f, x)).toHaveLength(1);
    expectClose(jit(f)(x), f(x).toArray() as never, { rtol: 0, atol: 0 });
  });
});
