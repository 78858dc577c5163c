/** @file Fusion: which runs of operations become one kernel, and that fused results equal unfused ones. */

import { grad, jit, lax, nn, numpy as np, Array as MgArray } from 'metalgrad';
import { allocateRegisters } from '../lib/compiler/fusion';
import { ElementwiseKernel } from '../lib/compiler/kernel';
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

  test('registers are reused once dead: the 8-op chain needs 4 registers, and results are unchanged', () => {
    const chain = (a: MgArray) => np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(a, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1);
    const msl = kernelsOf(chain, x)[0].msl;
    expect(new Set(msl.match(/\br\d+(?=[_ ])/g)).size).toBe(4);
    // Values stored for later (two outputs) and a literal read twice stay live while needed.
    const f = (a: MgArray) => {
      const t = np.tanh(np.add(a, 0.5));
      const u = np.multiply(np.exp(np.multiply(t, 0.5)), 0.5);
      return [t, np.add(u, t), np.subtract(u, 0.5)];
    };
    const ks = kernelsOf(f, x);
    expect(ks).toHaveLength(1);
    const got = jit(f)(x) as MgArray[];
    (f(x) as MgArray[]).forEach((want, i) => expectClose(got[i], want.toArray() as never, { rtol: 1e-6, atol: 1e-6 }));
  });

  test('register allocation keeps inputs, never writes a register its instruction reads, and keeps outputs live', () => {
    const k: ElementwiseKernel = {
      kind: 'elementwise', shape: [4], consts: [2],
      inputs: [{ dtype: 'float32', view: { arg: 0, offset: 0, strides: [1] } }],
      outputs: [{ dtype: 'float32', view: { arg: 1, offset: 0, strides: [1] }, reg: 2 }, { dtype: 'float32', view: { arg: 2, offset: 0, strides: [1] }, reg: 4 }],
      nregs: 5,
      instrs: [
        { op: 'const', kind: 'float32', dst: 1, a: 0, b: -1, c: -1 },
        { op: 'mul', kind: 'float32', dst: 2, a: 0, b: 1, c: -1 },
        { op: 'exp', kind: 'float32', dst: 3, a: 2, b: -1, c: -1 },
        { op: 'add', kind: 'float32', dst: 4, a: 3, b: 1, c: -1 },
      ],
    };
    const r = allocateRegisters(k);
    expect(r.instrs.map((i) => [i.dst, i.a, i.b])).toEqual([[1, 0, -1], [2, 0, 1], [3, 2, -1], [4, 3, 1]]);
    expect(r.outputs.map((o) => o.reg)).toEqual([2, 4]);
    const chain: ElementwiseKernel = { ...k, outputs: [k.outputs[1]] };
    const c = allocateRegisters(chain);
    // exp's result reuses mul's register once mul's value is dead; the const stays live until add.
    expect(c.instrs.map((i) => [i.dst, i.a, i.b])).toEqual([[1, 0, -1], [2, 0, 1], [3, 2, -1], [2, 3, 1]]);
    expect(c.nregs).toBe(4);
    expect(c.outputs[0].reg).toBe(2);
    for (const ins of c.instrs) expect([ins.a, ins.b, ins.c]).not.toContain(ins.dst);
  });

  test('matmul gradients copy no transposes: the GEMM reads transposed operands in place', () => {
    const w = np.array([[0.5, -1], [2, 0.25], [1, 1]]);
    const b = np.array([[1, 2, 3], [4, 5, 6]]);
    const loss = (w: MgArray, a: MgArray) => np.sum(np.tanh(np.matmul(np.matmul(a, w), np.transpose(w))));
    const ks = kernelsOf(grad(loss, { argnums: [0, 1] }) as never, w, b);
    // The user's own transpose (w.T) is read in place by the GEMM, and the one reverse mode applies
    // to its cotangent is a strided load fused into the add that follows: no kernel copies a transpose.
    // The tanh and its derivative run as the second matmul's epilogue.
    expect(ks.map((k) => k.ops.join(','))).toEqual(['dot_general', 'dot_general,tanh,mul,sub,broadcast_in_dim,mul', 'dot_general', 'dot_general', 'dot_general', 'dot_general', 'transpose,add']);
    // Against finite differences of the same loss.
    const [gw] = jit(grad(loss, { argnums: [0, 1] }))(w, b) as MgArray[];
    const eps = 1e-3;
    const wd = Array.from(w.data());
    const fd = wd.map((_, i) => {
      const at = (d: number) => loss(np.array(wd.map((v, j) => (j === i ? v + d : v))).reshape([3, 2]), b).item();
      return (at(eps) - at(-eps)) / (2 * eps);
    });
    Array.from(gw.data()).forEach((g, i) => expect(g).toBeCloseTo(fd[i], 2));
  });

  test('broadcast operands fuse into the consumer, and a reduction takes the group as its prologue', () => {
    const b = np.array([1, 2, 3]);
    const f = (a: MgArray, c: MgArray) => np.sum(np.exp(np.add(a, c)), { axis: 1 });
    const ks = kernelsOf(f, x, b);
    expect(ks.map((k) => k.ops)).toEqual([['broadcast_in_dim', 'add', 'exp', 'reduce_sum']]);
    expect(ks[0].inputs).toBe(2);
    expect(ks[0].outputs).toBe(1);
    expectClose(jit(f)(x, b), f(x, b).toArray() as never, { rtol: 1e-6 });
  });

  describe('reductions with fused prologues', () => {
    const a = np.array(Array.from({ length: 60 }, (_, i) => Math.sin(i * 1.7) * 3)).reshape([3, 4, 5]);
    const cases: [string, (a: MgArray) => MgArray | MgArray[], string[][]][] = [
      ['variance: sum((x - mean)^2) in 2 kernels (the mean divides in its epilogue)', (v) => np.sum(np.square(np.subtract(v, np.mean(v)))), [['reduce_sum', 'div'], ['sub', 'mul', 'reduce_sum']]],
      ['a row reduction (innermost axis)', (v) => np.max(np.tanh(v), { axis: 2 }), [['tanh', 'reduce_max']]],
      ['a column reduction (leading axes)', (v) => np.sum(np.multiply(v, v), { axis: [0, 1] }), [['mul', 'reduce_sum']]],
      ['a middle axis', (v) => np.min(np.abs(v), { axis: 1 }), [['abs', 'reduce_min']]],
      ['a value used twice is stored and reduced', (v) => { const e = np.exp(v); return [e, np.sum(e, { axis: 0 })]; }, [['exp', 'reduce_sum']]],
      ['an int reduction', (v) => np.sum(np.astype(np.multiply(v, 1000), 'int32'), { axis: 2 }), [['mul', 'convert', 'reduce_sum']]],
      ['a bool reduction (any)', (v) => lax.reduceMax(np.greater(v, 2), [1]) as MgArray, [['gt', 'reduce_max']]],
    ];
    test.each(cases)('%s', (_name, f, ops) => {
      const ks = kernelsOf(f as never, a);
      expect(ks.map((k) => k.ops)).toEqual(ops);
      const got = jit(f)(a);
      const want = f(a);
      const list = (v: MgArray | MgArray[]) => (Array.isArray(v) ? v : [v]);
      list(want).forEach((w, i) => expectClose(list(got)[i], w.toArray() as never, { rtol: 1e-5, atol: 1e-5 }));
    });

    test('softmax runs in 3 kernels', () => {
      const ks = kernelsOf((v) => nn.softmax(v), a);
      expect(ks.length).toBeLessThanOrEqual(3);
    });
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
