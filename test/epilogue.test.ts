/**
 * @file Epilogue fusion: elementwise work on a reduction's or a matmul's result runs inside that
 * kernel. Kernel counts and fused ops from `lower().kernels`, and results equal to plans built with
 * `fusion: { epilogues: false }` (the same kernels, the epilogue a kernel of its own).
 */

import fc from 'fast-check';
import { grad, jit, lax, makeJaxpr, nn, numpy as np, random, Array as MgArray, NDArray } from 'metalgrad';
import { fuse } from '../lib/compiler/fusion';
import { epilogueOf, Kernel, ReduceKernel } from '../lib/compiler/kernel';
import { encodeProgram } from '../lib/backend/encode';
import { native } from '../lib/backend/native';
import { expectClose } from './util';

type Fn = (...xs: MgArray[]) => MgArray | MgArray[];
const list = (v: MgArray | MgArray[]): MgArray[] => (Array.isArray(v) ? v : [v]);
const kernelsOf = (f: Fn, ...args: MgArray[]) => jit(f).lower(...args).kernels;
const unfused = (f: Fn) => jit(f, { fusion: { epilogues: false } });

/** Fused and unfused plans give the same values (bit for bit unless `tol`), and both match eager. */
function expectSameAsUnfused(f: Fn, args: MgArray[], tol = 0): void {
  const got = list(jit(f)(...args));
  const want = list(unfused(f)(...args));
  const eager = list(f(...args));
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    expect(g.dtype).toBe(want[i].dtype);
    expectClose(g, want[i].toArray() as never, { rtol: tol, atol: tol });
    expectClose(g, eager[i].toArray() as never, { rtol: 1e-5, atol: 1e-5 });
  });
}

const x = random.normal(random.key(0), [37, 50]);
const w = random.normal(random.key(1), [50, 33]);
const b = random.normal(random.key(2), [33]);
const dense = (a: MgArray, wt: MgArray, bias: MgArray) => np.add(np.matmul(a, wt), bias);

describe('reduction epilogues', () => {
  test('mean is one kernel: the divide runs on each accumulated sum', () => {
    for (const axis of [0, 1, undefined]) {
      const f = (a: MgArray) => np.mean(a, { axis });
      const ks = kernelsOf(f, x);
      expect(ks.map((k) => k.ops)).toEqual([['reduce_sum', 'div']]);
      expect(ks[0].inputs).toBe(1);
      expect(ks[0].outputs).toBe(1);
      expect(unfused(f).lower(x).kernels).toHaveLength(2);
      expectSameAsUnfused(f, [x]);
    }
  });

  test('var: the mean and the variance each divide in their reduction kernel', () => {
    const f = (a: MgArray) => np.var(a, { axis: 1 });
    expect(kernelsOf(f, x).map((k) => k.ops)).toEqual([['reduce_sum', 'div'], ['broadcast_in_dim', 'sub', 'mul', 'reduce_sum', 'div']]);
    expectSameAsUnfused(f, [x]);
    expectSameAsUnfused((a) => np.std(a, { axis: 0, keepdims: true }), [x]);
  });

  test('logsumexp is two kernels: the max with its guard, the sum of exps with log + max', () => {
    const f = (a: MgArray) => nn.logsumexp(a, { axis: 1 });
    const ks = kernelsOf(f, x);
    expect(ks.length).toBeLessThanOrEqual(2);
    expect(ks.map((k) => k.ops)).toEqual([
      ['reduce_max', 'reshape', 'abs', 'eq', 'select'],
      ['broadcast_in_dim', 'sub', 'exp', 'reduce_sum', 'reshape', 'log', 'add'],
    ]);
    expectSameAsUnfused(f, [x]);
    // Rows of -inf take the guard's path.
    const inf = np.array([[-Infinity, -Infinity, -Infinity], [1, 2, 3]]);
    expectSameAsUnfused(f, [inf]);
    expectSameAsUnfused((a) => nn.logsumexp(a), [x]);
  });

  test('logSoftmax and softmax', () => {
    const ls = (a: MgArray) => nn.logSoftmax(a);
    expect(kernelsOf(ls, x).map((k) => k.ops)).toEqual([
      ['reduce_max', 'reshape', 'abs', 'eq', 'select'],
      ['broadcast_in_dim', 'sub', 'exp', 'reduce_sum', 'reshape', 'log'],
      ['broadcast_in_dim', 'sub'],
    ]);
    expectSameAsUnfused(ls, [x]);
    expectSameAsUnfused((a) => nn.logSoftmax(a, { axis: 0 }), [x]);
    const sm = (a: MgArray) => nn.softmax(a);
    expect(kernelsOf(sm, x).length).toBeLessThanOrEqual(3);
    expectSameAsUnfused(sm, [x]);
    // A division by the sum at the reduced shape is the sum's epilogue.
    const inv = (a: MgArray) => np.multiply(a, np.reciprocal(np.sum(np.exp(a), { axis: 1, keepdims: true })));
    expect(kernelsOf(inv, x).map((k) => k.ops)).toEqual([['exp', 'reduce_sum', 'reshape', 'div'], ['broadcast_in_dim', 'mul']]);
    expectSameAsUnfused(inv, [x]);
  });

  test('a result used elsewhere is stored as well; other dtypes; int and bool reductions', () => {
    const keep = (a: MgArray) => {
      const s = np.sum(a, { axis: 1 });
      return [s, np.sqrt(np.abs(s)), np.greater(s, 0)];
    };
    const ks = kernelsOf(keep, x);
    expect(ks.map((k) => k.ops)).toEqual([['reduce_sum', 'abs', 'gt', 'sqrt']]);
    expect(ks[0].outputs).toBe(3);
    expectSameAsUnfused(keep, [x]);
    // Only a bool comes out: the sum goes to a buffer of its own.
    const positive = (a: MgArray) => np.greater(np.sum(a, { axis: 0 }), 0);
    expect(kernelsOf(positive, x)).toHaveLength(1);
    expectSameAsUnfused(positive, [x]);
    const xi = np.astype(np.multiply(x, 100), 'int32');
    expectSameAsUnfused((a) => np.add(np.multiply(np.sum(a, { axis: 1 }), 3), np.max(a, { axis: 1 })), [xi]);
    expectSameAsUnfused((a) => np.logicalNot(lax.reduceMax(np.greater(a, 1), [1]) as MgArray), [x]);
  });

  test('empty reductions run the epilogue on the identity', () => {
    const e = np.zeros([3, 0]);
    expectSameAsUnfused((a) => np.add(np.sum(a, { axis: 1 }), 2), [e]);
    expectSameAsUnfused((a) => np.mean(a, { axis: 0 }), [np.zeros([0, 4])]);
  });

  test('many rows, and a reduction over the leading axis (the column order)', () => {
    const big = random.normal(random.key(3), [2000, 9]);
    expectSameAsUnfused((a) => np.tanh(np.mean(a, { axis: 1 })), [big]);
    expectSameAsUnfused((a) => np.multiply(np.sum(np.exp(a), { axis: 0 }), 0.5), [big]);
  });
});

describe('matmul epilogues', () => {
  test('a dense layer with relu is one kernel; the matmul result is not stored', () => {
    const f = (a: MgArray, wt: MgArray, bias: MgArray) => nn.relu(dense(a, wt, bias));
    const ks = kernelsOf(f, x, w, b);
    expect(ks).toHaveLength(1);
    expect(ks[0].ops[0]).toBe('dot_general');
    expect(ks[0].ops).toEqual(expect.arrayContaining(['broadcast_in_dim', 'add']));
    expect(ks[0].inputs).toBe(3);
    expect(ks[0].outputs).toBe(1);
    expect(unfused(f).lower(x, w, b).kernels).toHaveLength(2);
    expectSameAsUnfused(f, [x, w, b]);
  });

  test('gelu, residual add and scaling', () => {
    expectSameAsUnfused((a, wt, bias) => nn.gelu(dense(a, wt, bias)), [x, w, b]);
    expectSameAsUnfused((a, wt, bias) => nn.gelu(dense(a, wt, bias), { approximate: false }), [x, w, b]);
    const sq = random.normal(random.key(4), [50, 50]);
    const residual = (a: MgArray, wt: MgArray) => np.add(np.multiply(np.matmul(a, wt), 0.5), a);
    expect(kernelsOf(residual, x, sq)).toHaveLength(1);
    expectSameAsUnfused(residual, [x, sq]);
  });

  test('transposed operands, narrow outputs and batched matmuls', () => {
    expectSameAsUnfused((a, wt) => np.tanh(np.matmul(np.transpose(wt), np.transpose(a))), [x, w]);
    const narrow = random.normal(random.key(5), [50, 2]);
    expectSameAsUnfused((a, wt) => np.exp(np.matmul(a, wt)), [x, narrow]);
    const xb = random.normal(random.key(6), [4, 9, 6]);
    const wb = random.normal(random.key(7), [4, 6, 5]);
    const bb = random.normal(random.key(8), [5]);
    const f = (a: MgArray, wt: MgArray, bias: MgArray) => nn.sigmoid(np.add(np.matmul(a, wt), bias));
    expect(kernelsOf(f, xb, wb, bb)).toHaveLength(1);
    expectSameAsUnfused(f, [xb, wb, bb]);
    // Empty contraction: the epilogue runs on zeros.
    expectSameAsUnfused((a, wt) => np.add(np.matmul(a, wt), 1), [np.zeros([3, 0]), np.zeros([0, 4])]);
  });

  test('a result read by another matmul, or reshaped for one, is left alone', () => {
    const w2 = random.normal(random.key(15), [33, 4]);
    expectSameAsUnfused((a, wt, wo) => np.matmul(np.matmul(a, wt), wo), [x, w, w2]);
    expectSameAsUnfused((a, wt, wo) => np.matmul(np.reshape(np.sum(a, { axis: 1 }), [1, 37]), np.reshape(np.matmul(a, wt), [37, 33])), [x, w, w2]);
    expectSameAsUnfused((a) => np.einsum('i,i,j->j', np.sum(a, { axis: 1 }), np.max(a, { axis: 1 }), np.mean(a, { axis: 0 })), [x]);
  });

  test('int32 matmuls and a bool epilogue', () => {
    const xi = np.astype(np.multiply(x, 10), 'int32');
    const wi = np.astype(np.multiply(w, 10), 'int32');
    expectSameAsUnfused((a, wt) => np.maximum(np.matmul(a, wt), 3), [xi, wi]);
    expectSameAsUnfused((a, wt) => np.greater(np.matmul(a, wt), 0), [x, w]);
  });

  test('the matmul result is stored when used elsewhere (e.g. kept for a later op)', () => {
    const f = (a: MgArray, wt: MgArray, bias: MgArray) => {
      const y = np.matmul(a, wt);
      return [y, nn.relu(np.add(y, bias))];
    };
    const ks = kernelsOf(f, x, w, b);
    expect(ks).toHaveLength(1);
    expect(ks[0].outputs).toBe(2);
    expectSameAsUnfused(f, [x, w, b]);
  });

  test('MLP gradients are unchanged by epilogue fusion', () => {
    const w2 = random.normal(random.key(9), [33, 10]);
    const b2 = random.normal(random.key(10), [10]);
    const labels = np.astype(np.greater(random.normal(random.key(11), [37, 10]), 0), 'float32');
    const loss = (a: MgArray, w1: MgArray, b1: MgArray, wo: MgArray, bo: MgArray) => {
      const h = nn.relu(dense(a, w1, b1));
      const logits = dense(h, wo, bo);
      return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits), labels), { axis: 1 })));
    };
    const g = grad(loss, { argnums: [1, 2, 3, 4] });
    const args = [x, w, b, w2, b2];
    const fused = jit(g)(...(args as [MgArray, MgArray, MgArray, MgArray, MgArray])) as MgArray[];
    const plain = jit(g, { fusion: { epilogues: false } })(...(args as [MgArray, MgArray, MgArray, MgArray, MgArray])) as MgArray[];
    const eager = g(...(args as [MgArray, MgArray, MgArray, MgArray, MgArray])) as MgArray[];
    fused.forEach((v, i) => {
      expectClose(v, plain[i].toArray() as never, { rtol: 1e-6, atol: 1e-7 });
      expectClose(v, eager[i].toArray() as never, { rtol: 1e-4, atol: 1e-6 });
    });
    const fusedKernels = jit(g).lower(...(args as [MgArray, MgArray, MgArray, MgArray, MgArray])).kernels.length;
    const plainKernels = jit(g, { fusion: { epilogues: false } }).lower(...(args as [MgArray, MgArray, MgArray, MgArray, MgArray])).kernels.length;
    expect(fusedKernels).toBeLessThan(plainKernels);
  });
});

describe('scheduling for epilogues', () => {
  test('an SGD update joins the GEMM and the reduction that compute its gradients', () => {
    const lr = 0.1;
    const step = (wt: MgArray, bias: MgArray, a: MgArray) => {
      const [gw, gb] = grad((p: MgArray, q: MgArray) => np.sum(nn.relu(dense(a, p, q))), { argnums: [0, 1] })(wt, bias) as MgArray[];
      // The updates come last in the traced program; the scheduler brings them next to their gradients.
      return [np.subtract(wt, np.multiply(gw, lr)), np.subtract(bias, np.multiply(gb, lr))];
    };
    const ops = kernelsOf(step as Fn, w, b, x).map((k) => k.ops.join(','));
    expect(ops.some((o) => /^dot_general,.*mul,sub$/.test(o))).toBe(true);
    expect(ops.some((o) => /reduce_sum,.*mul,sub$/.test(o))).toBe(true);
    expect(ops.filter((o) => o === 'mul,sub')).toEqual([]);
    expectSameAsUnfused(step as Fn, [w, b, x], 1e-6);
  });
});

describe('the fusion pass', () => {
  test('fuse attaches the epilogue to the kernel IR of the reduction or matmul', () => {
    const steps = fuse(makeJaxpr((a: NDArray, wt: NDArray, bias: NDArray) => nn.relu(dense(a, wt, bias)))(x as NDArray, w as NDArray, b as NDArray).jaxpr);
    expect(steps).toHaveLength(1);
    const step = steps[0];
    if (step.kind !== 'fused') throw new Error('expected one fused step');
    expect(step.group.kernel.kind).toBe('matmul');
    const e = epilogueOf(step.group.kernel);
    expect(e).toBeDefined();
    // The epilogue reads the product in place of its output: C goes where the relu goes.
    if (step.group.kernel.kind !== 'matmul' || !e) return;
    expect(e.kernel.inputs[e.src].view.arg).toBe(step.group.kernel.c.arg);
    expect(e.kernel.outputs.map((o) => o.view.arg)).toContain(step.group.kernel.c.arg);
    const off = fuse(makeJaxpr((a: NDArray) => np.mean(a))(x as NDArray).jaxpr, { epilogues: false });
    expect(off).toHaveLength(2);
  });

  test('the native engine rejects a malformed epilogue with a clear error', () => {
    // sum over the rows of a [3, 4] input into 3 elements, then out = -sum into buffer 2.
    const sum: ReduceKernel = { kind: 'reduce', op: 'sum', dtype: 'float32', shape: [3, 4], input: { arg: 0, offset: 0, strides: [4, 1] }, axes: [1], output: { arg: 1, offset: 0 } };
    const neg = (arg: number, strides = [1]) => ({
      kind: 'elementwise' as const,
      shape: [3],
      inputs: [{ dtype: 'float32' as const, view: { arg, offset: 0, strides } }],
      outputs: [{ dtype: 'float32' as const, view: { arg: 2, offset: 0, strides: [1] }, reg: 1 }],
      nregs: 2,
      instrs: [{ op: 'neg' as const, kind: 'float32' as const, dst: 1, a: 0, b: -1, c: -1 }],
      consts: [],
    });
    const run = (k: Kernel, out = new Float32Array(3)) => {
      const p = encodeProgram([k]);
      native().run(p.code, p.consts, [new Float32Array(12).fill(1), new Float32Array(3), out]);
      return out;
    };
    expect(Array.from(run({ ...sum, epilogue: { kernel: neg(1), src: 0 } }))).toEqual([-4, -4, -4]);
    expect(() => run({ ...sum, epilogue: { kernel: neg(0), src: 0 } })).toThrow('step 0 (reduce): epilogue src input must read the step\'s result contiguously');
    expect(() => run({ ...sum, epilogue: { kernel: neg(1, [2]), src: 0 } })).toThrow(/src input must read the step's result contiguously/);
    expect(() => run({ ...sum, epilogue: { kernel: neg(1), src: 3 } })).toThrow('epilogue src is input 3 but the epilogue has 1 inputs');
  });

  test('jit rejects a malformed fusion option', () => {
    expect(() => jit((a: MgArray) => a, { fusion: { epilogue: false } as never })).toThrow(/jit: option `fusion` must be an object \{epilogues\?: boolean\}/);
    expect(() => jit((a: MgArray) => a, { fusion: { epilogues: 1 } as never })).toThrow(/option `fusion`/);
  });

  test('random compositions after a reduction or matmul equal their unfused plans', () => {
    const head = fc.integer({ min: 0, max: 4 });
    const chain = fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 5 });
    const m = random.normal(random.key(12), [6, 5]);
    const u = random.normal(random.key(13), [6]);
    const v = random.normal(random.key(14), [5]);
    fc.assert(
      fc.property(head, chain, (h, ops) => {
        const f = (a: MgArray, col: MgArray, row: MgArray): MgArray[] => {
          let r: MgArray = [
            () => np.sum(a, { axis: 0 }),
            () => np.max(a, { axis: 1 }),
            () => np.mean(np.exp(a), { axis: 0, keepdims: true }),
            () => np.matmul(np.transpose(a), np.reshape(col, [6, 1])),
            () => np.matmul(np.reshape(row, [1, 5]), np.transpose(a)),
          ][h]();
          const outs: MgArray[] = [];
          for (const op of ops) {
            const s = r;
            r = [
              () => np.tanh(s),
              () => np.add(s, np.mean(row)),
              () => np.multiply(s, 0.5),
              () => np.maximum(s, 0),
              () => np.exp(np.negative(np.abs(s))),
              () => np.where(np.greater(s, 0.1), s, np.multiply(s, s)),
              () => {
                outs.push(s);
                return np.subtract(s, 1);
              },
              () => np.sqrt(np.abs(s)),
            ][op]();
          }
          return [...outs, r];
        };
        expectSameAsUnfused(f, [m, u, v], 1e-6);
      }),
      { seed: 4242, numRuns: 60 },
    );
  });
});
