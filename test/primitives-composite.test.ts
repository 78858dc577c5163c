/**
 * @file Op table, edge shapes and compositions: large operands (past any small-size fast path),
 * zero-size arrays, size-1 axes, and short chains of ops whose jit version fuses elementwise work
 * across broadcasts, transposes and reductions. Checked by `testRows` (test/reference.ts). Also
 * gradients at kinks and ties, where finite differences do not apply and JAX's conventions decide.
 */

import { Array as MgArray, grad, jit, lax, nn, numpy as np } from 'metalgrad';
import * as ref from './reference';
import { map, Ref, Row, testRows, zip } from './reference';

/** (x - mean) / sqrt(var + eps) over the last axis, as a float64 reference. */
function layerNormRef(x: Ref): Ref {
  const mu = ref.reduce(x, -1, ref.meanOf, true);
  const v = ref.reduce(x, -1, ref.varOf(0), true);
  return zip((a, m, s) => (a - m) / Math.sqrt(s + 1e-5), x, mu, v);
}

const big: Partial<Row> = { finiteDiff: false, tol: { rtol: 1e-4, atol: 1e-4 } };

testRows([
  // Large operands: eager, jit, vmap and the jvp/vjp identity (finite differences would be slow).
  { name: 'matmul [33,65] × [65,17]', args: [{ shape: [33, 65] }, { shape: [65, 17] }], f: np.matmul, ref: ref.matmul, ...big },
  { name: 'sum axis 1 of [7,129,5]', args: [{ shape: [7, 129, 5] }], f: (x) => np.sum(x, { axis: 1 }), ref: (x) => ref.reduce(x, 1, ref.sumOf), ...big, inAxes: [2] },
  { name: 'max axes [0,2] of [9,4,70]', args: [{ shape: [9, 4, 70] }], f: (x) => np.max(x, { axis: [0, 2] }), ref: (x) => ref.reduce(x, [0, 2], ref.maxOf), ...big },
  { name: 'argmax axis 0 of [300,3]', args: [{ shape: [300, 3] }], f: (x) => np.argmax(x, { axis: 0 }), ref: (x) => ref.reduce(x, 0, ref.argmaxOf), dtype: 'int32' },
  { name: 'exp of [1000]', args: [{ shape: [1000] }], f: np.exp, ref: (x) => map(x, Math.exp), ...big },
  { name: 'transpose [2,1,0] of [5,6,7]', args: [{ shape: [5, 6, 7] }], f: (x) => np.transpose(x), ref: (x) => ref.transpose(x), ...big },

  // Zero-size and size-1 shapes.
  { name: 'sum over an empty axis', args: [{ shape: [0, 3] }], f: (x) => np.sum(x, { axis: 0 }), ref: (x) => ref.reduce(x, 0, ref.sumOf) },
  { name: 'prod over an empty axis', args: [{ shape: [3, 0] }], f: (x) => np.prod(x, { axis: 1 }), ref: (x) => ref.reduce(x, 1, ref.prodOf) },
  { name: 'matmul with k = 0', args: [{ shape: [2, 0] }, { shape: [0, 3] }], f: np.matmul, ref: ref.matmul },
  { name: 'add of [0,4] and [4]', args: [{ shape: [0, 4] }, { shape: [4] }], f: np.add, ref: (a, b) => zip((u, v) => u + v, a, b) },
  { name: 'concatenate with an empty piece', args: [{ shape: [2, 0] }, { shape: [2, 3] }], f: (a, b) => np.concatenate([a, b], { axis: 1 }), ref: (a, b) => ref.concat([a, b], 1) },
  { name: 'lax.slice to an empty result', args: [{ shape: [3, 4] }], f: (x) => lax.slice(x, [1, 2], [1, 4]), ref: (x) => ref.slice(x, [1, 2], [1, 4]) },
  { name: 'sum of [1,3,1] over size-1 axes', args: [{ shape: [1, 3, 1] }], f: (x) => np.sum(x, { axis: [0, 2] }), ref: (x) => ref.reduce(x, [0, 2], ref.sumOf) },
  { name: 'matmul [1,4] × [4,1]', args: [{ shape: [1, 4] }, { shape: [4, 1] }], f: np.matmul, ref: ref.matmul },

  // Compositions (under jit these fuse).
  {
    name: 'dense layer tanh(x @ w + b)',
    args: [{ shape: [4, 3] }, { shape: [3, 5] }, { shape: [5] }],
    f: (x, w, b) => np.tanh(np.add(np.matmul(x, w), b)),
    ref: (x, w, b) => zip((u, v) => Math.tanh(u + v), ref.matmul(x, w), b),
    inAxes: [0, null, null],
  },
  {
    name: 'sum(sin(xᵀ) * y, axis 1)',
    args: [{ shape: [4, 3] }, { shape: [3, 4] }],
    f: (x, y) => np.sum(np.multiply(np.sin(np.transpose(x)), y), { axis: 1 }),
    ref: (x, y) => ref.reduce(zip((u, v) => Math.sin(u) * v, ref.transpose(x), y), 1, ref.sumOf),
    inAxes: [1, 0],
  },
  {
    name: 'layer norm over the last axis',
    args: [{ shape: [3, 6] }],
    f: (x) => np.divide(np.subtract(x, np.mean(x, { axis: -1, keepdims: true })), np.sqrt(np.add(np.var(x, { axis: -1, keepdims: true }), 1e-5))),
    ref: layerNormRef,
    tol: { rtol: 1e-4, atol: 1e-5 },
    gradTol: { rtol: 1e-3, atol: 1e-4 },
    inAxes: [1],
  },
  {
    name: 'where(x > 0, log1p(|x|), x * x) (both branches finite: a NaN branch poisons grads, as in JAX)',
    args: [{ shape: [3, 4], minAbs: 0.05 }],
    f: (x) => np.where(np.greater(x, 0), np.log1p(np.abs(x)), np.multiply(x, x)),
    ref: (x) => map(x, (v) => (v > 0 ? Math.log1p(v) : v * v)),
  },
  {
    name: 'logsumexp of an outer sum x[:, None] + y[None, :]',
    args: [{ shape: [3] }, { shape: [4] }],
    f: (x, y) => nn.logsumexp(np.add(np.expandDims(x, 1), np.expandDims(y, 0)), { axis: 1 }),
    ref: (x, y) => ref.reduce(zip((u, v) => u + v, ref.reshape(x, [3, 1]), ref.reshape(y, [1, 4])), 1, (v) => Math.log(ref.sumOf(v.map(Math.exp)))),
    inAxes: [null, 0],
  },
  {
    name: 'cross-entropy -sum(onehot * logSoftmax(x))',
    args: [{ shape: [2, 5] }, { shape: [2, 5], dtype: 'bool' }],
    f: (x, onehot) => np.negative(np.sum(np.multiply(np.astype(onehot, 'float32'), nn.logSoftmax(x)))),
    ref: (x, m) => {
      const lse = ref.reduce(x, 1, (v) => Math.log(ref.sumOf(v.map(Math.exp))), true);
      return ref.reduce(zip((u, l, b) => -b * (u - l), x, lse, m), undefined, ref.sumOf);
    },
  },
  {
    name: 'broadcast chain exp(x) * y + z with a rank-0 z',
    args: [{ shape: [2, 1, 4] }, { shape: [3, 1] }, { shape: [] }],
    f: (x, y, z) => np.add(np.multiply(np.exp(x), y), z),
    ref: (x, y, z) => zip((a, b, c) => Math.exp(a) * b + c, x, y, z),
    inAxes: [1, 0, 0],
  },
  {
    name: 'pad then slice then reduce',
    args: [{ shape: [3, 4] }],
    f: (x) => np.sum(lax.slice(lax.pad(np.exp(x), [1, 0], [0, 2], 0, [1, 0]), [0, 1], [6, 6], [2, 1]), { axis: 0 }),
    ref: (x) => ref.reduce(ref.slice(ref.pad(map(x, Math.exp), [1, 0], [0, 2], 0, [1, 0]), [0, 1], [6, 6], [2, 1]), 0, ref.sumOf),
    inAxes: [1],
  },
]);

// Gradients at kinks and ties (JAX's conventions), and values at special points.
const KINKS: [string, (x: MgArray) => MgArray, number[], number[]][] = [
  ['max splits the gradient evenly among ties', (x) => np.max(x), [1, 3, 3], [0, 0.5, 0.5]],
  ['min along an axis splits among ties per row', (x) => np.sum(np.min(np.reshape(x, [2, 3]), { axis: 1 })), [1, 1, 3, 2, 0, 0], [0.5, 0.5, 0, 0, 0.5, 0.5]],
  ['maximum(x, 1) gives half at a tie', (x) => np.sum(np.maximum(x, 1)), [1, 2, 0], [0.5, 1, 0]],
  ['relu has gradient 0 at 0 (as jax.nn.relu)', (x) => np.sum(nn.relu(x)), [-1, 0, 2], [0, 0, 1]],
  ['abs has gradient sign(x), and 1 at 0 as in JAX', (x) => np.sum(np.abs(x)), [-1, 0, 2], [-1, 1, 1]],
  ['prod with one zero', (x) => np.prod(x), [2, 0, 3], [0, 6, 0]],
  ['prod with two zeros', (x) => np.prod(x), [2, 0, 0], [0, 0, 0]],
  ['power x^0 has gradient 0, also at 0', (x) => np.sum(np.power(x, 0)), [0, 2], [0, 0]],
  ['power of a negative base to an integer', (x) => np.sum(np.power(x, 3)), [-2, 0], [12, 0]],
  ['sigmoid saturates without NaN', (x) => np.sum(nn.sigmoid(x)), [-100, 100, 0], [0, 0, 0.25]],
  ['elu has gradient alpha at 0 and no NaN from overflow', (x) => np.sum(nn.elu(x, { alpha: 0.5 })), [-1, 0, 100], [0.5 * Math.exp(-1), 0.5, 1]],
  ['leakyRelu has gradient 1 at 0', (x) => np.sum(nn.leakyRelu(x, { negativeSlope: 0.1 })), [-1, 0, 2], [0.1, 1, 1]],
  ['softplus saturates without NaN', (x) => np.sum(nn.softplus(x)), [-100, 0, 100], [0, 0.5, 1]],
  ['silu saturates without NaN', (x) => np.sum(nn.silu(x)), [-100, 0, 100], [0, 0.5, 1]],
  ['logsumexp gradient is softmax', (x) => nn.logsumexp(x), [1, 2, 3], [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]],
];

describe('gradients at kinks and ties', () => {
  test.each(KINKS)('%s', (_name, f, x, expected) => {
    const g = (v: MgArray) => grad(f)(v) as MgArray;
    ref.assertClose(g(np.array(x)), ref.R([x.length], expected), ref.F32, 'grad');
    ref.assertClose(jit(g)(np.array(x)), ref.R([x.length], expected), ref.F32, 'jit(grad)');
  });
});

describe('values at special points', () => {
  test.each([
    ['relu passes NaN through', () => nn.relu(np.array([NaN, -0.5, 0.5])), [NaN, 0, 0.5]],
    ['max propagates NaN', () => np.max(np.array([1, NaN, 3]), { keepdims: true }), [NaN]],
    ['argmax treats NaN as the maximum', () => np.astype(np.argmax(np.array([1, NaN, 3]), { keepdims: true }), 'float32'), [1]],
    ['softmax with -inf entries', () => nn.softmax(np.array([-Infinity, 0, 0])), [0, 0.5, 0.5]],
    ['logsumexp of all -inf is -inf', () => nn.logsumexp(np.array([-Infinity, -Infinity]), { keepdims: true }), [-Infinity]],
    ['softplus of large values is x, of very negative values 0', () => nn.softplus(np.array([100, -100, 0])), [100, 0, Math.LN2]],
    ['elu of a large negative value is -alpha', () => nn.elu(np.array([-100, 2]), { alpha: 2 }), [-2, 2]],
    ['oneHot gives zero rows for out-of-range and non-integer classes', () => np.reshape(nn.oneHot(np.array([-1, 3, 1.5, 2]), 3), [12]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['standardize of a constant row is 0 (epsilon keeps it finite)', () => nn.standardize(np.array([3, 3, 3])), [0, 0, 0]],
    ['softmax of huge values does not overflow', () => nn.softmax(np.array([1e30, 1e30])), [0.5, 0.5]],
    ['exp overflows to inf and underflows to 0', () => np.exp(np.array([100, -200])), [Infinity, 0]],
    ['log of 0 and of a negative', () => np.log(np.array([0, -1])), [-Infinity, NaN]],
    ['mean over an empty axis is NaN', () => np.mean(np.zeros([0]), { keepdims: true }), [NaN]],
  ] as const)('%s', (_name, make, expected) => {
    ref.assertClose(make(), ref.R([expected.length], [...expected]), ref.F32);
  });
});

describe('power with a JS integer exponent', () => {
  // Computed by multiplication, as JAX's integer_pow: no libm pow in the kernel, exact squares.
  const xs = [-2.5, -1, -0.5, 0, 0.75, 1.5, 3];
  it.each([2, 3, 5, -1, -2])('x ** %d matches Math.pow and fuses as multiplications', (p) => {
    const f = jit((x: MgArray) => np.power(x, p));
    const got = f(np.array(xs)).toArray() as number[];
    xs.forEach((x, i) => {
      const want = Math.pow(x, p);
      if (!Number.isFinite(want)) expect(got[i]).toBe(want);
      else expect(got[i]).toBeCloseTo(want, 5);
    });
    const ops = f.lower(np.array(xs)).kernels.flatMap((k) => k.ops);
    expect(ops).not.toContain('pow');
    expect(ops).toContain(p === -1 ? 'div' : 'mul');
  });

  it('keeps integer dtypes, and differentiates like pow', () => {
    const y = np.power(np.array([2, -3], { dtype: 'int32' }), 3);
    expect(y.dtype).toBe('int32');
    expect(y.toArray()).toEqual([8, -27]);
    const g = grad((x: MgArray) => np.sum(np.power(x, 3)))(np.array([0, 1.5, -2])).toArray() as number[];
    [0, 1.5, -2].forEach((x, i) => expect(g[i]).toBeCloseTo(3 * x * x, 5));
  });

  it('leaves other exponents to pow', () => {
    const f = jit((x: MgArray) => np.power(x, 0.5));
    expect(f.lower(np.array([1, 4])).kernels.flatMap((k) => k.ops)).toContain('pow');
    expect(np.power(np.array([2, 3]), 0).toArray()).toEqual([1, 1]);
  });
});
