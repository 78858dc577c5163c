/**
 * @file Op table, shape ops and activations: reshape, transpose, broadcastTo, expandDims, squeeze,
 * concatenate, stack, lax.slice, lax.pad (with interior padding), and nn.relu / sigmoid / softmax /
 * logSoftmax / logsumexp / gelu / silu / softplus / tanh / elu / leakyRelu / standardize / oneHot. Checked by `testRows` (test/reference.ts).
 */

import { lax, nn, numpy as np } from 'metalgrad';
import * as ref from './reference';
import { erf, map, Ref, Row, testRows } from './reference';

const A234 = { shape: [2, 3, 4] };

/** softmax over `axis` of a reference array, via reduce + broadcasting. */
function softmaxRef(x: Ref, axis: number, log = false): Ref {
  const m = ref.reduce(x, axis, ref.maxOf, true);
  const s = ref.reduce(ref.zip((v, mm) => Math.exp(v - mm), x, m), axis, ref.sumOf, true);
  return ref.zip((v, mm, ss) => (log ? v - mm - Math.log(ss) : Math.exp(v - mm) / ss), x, m, s);
}
const logsumexpOf = (v: number[]): number => {
  const m = ref.maxOf(v);
  return m + Math.log(ref.sumOf(v.map((a) => Math.exp(a - m))));
};
/** (x - mean) / sqrt(var + 1e-5) over `axis`, with the population variance. */
function standardizeRef(x: Ref, axis: number): Ref {
  const n = x.shape[axis];
  const m = ref.reduce(x, axis, (v) => ref.sumOf(v) / n, true);
  const v = ref.reduce(ref.zip((a, mm) => (a - mm) ** 2, x, m), axis, (d) => ref.sumOf(d) / n, true);
  return ref.zip((a, mm, vv) => (a - mm) / Math.sqrt(vv + 1e-5), x, m, v);
}
/** One-hot along a new last axis; out-of-range classes give zero rows. */
const oneHotRef = (x: Ref, k: number): Ref => ref.build([...x.shape, k], (idx) => (x.data[ref.ravel(idx.slice(0, -1), x.shape)] === idx[idx.length - 1] ? 1 : 0));
const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const geluErf = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

testRows([
  { name: 'reshape [2,3,4] → [4,-1]', args: [A234], f: (x) => np.reshape(x, [4, -1]), ref: (x) => ref.reshape(x, [4, 6]), inAxes: [2] },
  { name: 'reshape [2,3,4] → [24]', args: [A234], f: (x) => np.reshape(x, [24]), ref: (x) => ref.reshape(x, [24]), inAxes: [1] },
  { name: 'reshape [] → [1,1]', args: [{ shape: [] }], f: (x) => np.reshape(x, [1, 1]), ref: (x) => ref.reshape(x, [1, 1]) },
  { name: 'transpose (default)', args: [A234], f: (x) => np.transpose(x), ref: (x) => ref.transpose(x), inAxes: [1] },
  { name: 'transpose [1,2,0]', args: [A234], f: (x) => np.transpose(x, [1, 2, 0]), ref: (x) => ref.transpose(x, [1, 2, 0]), inAxes: [2] },
  { name: 'transpose [0,-1,1] (negative axis)', args: [A234], f: (x) => np.transpose(x, [0, -1, 1]), ref: (x) => ref.transpose(x, [0, 2, 1]) },
  { name: 'broadcastTo [3] → [2,3]', args: [{ shape: [3] }], f: (x) => np.broadcastTo(x, [2, 3]), ref: (x) => ref.broadcastTo(x, [2, 3]) },
  { name: 'broadcastTo [3,1] → [2,3,4]', args: [{ shape: [3, 1] }], f: (x) => np.broadcastTo(x, [2, 3, 4]), ref: (x) => ref.broadcastTo(x, [2, 3, 4]), inAxes: [1] },
  { name: 'broadcastTo [] → [2,2]', args: [{ shape: [] }], f: (x) => np.broadcastTo(x, [2, 2]), ref: (x) => ref.broadcastTo(x, [2, 2]) },
  { name: 'expandDims axis 0', args: [{ shape: [3, 4] }], f: (x) => np.expandDims(x, 0), ref: (x) => ref.reshape(x, [1, 3, 4]) },
  { name: 'expandDims axis -1', args: [{ shape: [3, 4] }], f: (x) => np.expandDims(x, -1), ref: (x) => ref.reshape(x, [3, 4, 1]), inAxes: [1] },
  { name: 'expandDims axes [0,2]', args: [{ shape: [3, 4] }], f: (x) => np.expandDims(x, [0, 2]), ref: (x) => ref.reshape(x, [1, 3, 1, 4]) },
  { name: 'squeeze (all)', args: [{ shape: [1, 3, 1, 4] }], f: (x) => np.squeeze(x), ref: (x) => ref.reshape(x, [3, 4]) },
  { name: 'squeeze axis 2', args: [{ shape: [1, 3, 1, 4] }], f: (x) => np.squeeze(x, { axis: 2 }), ref: (x) => ref.reshape(x, [1, 3, 4]), inAxes: [1] },
  {
    name: 'concatenate axis 0',
    args: [{ shape: [2, 3] }, { shape: [1, 3] }, { shape: [3, 3] }],
    f: (a, b, c) => np.concatenate([a, b, c]),
    ref: (a, b, c) => ref.concat([a, b, c], 0),
    inAxes: [1, null, 0],
  },
  {
    name: 'concatenate axis 1',
    args: [{ shape: [2, 3] }, { shape: [2, 1] }],
    f: (a, b) => np.concatenate([a, b], { axis: 1 }),
    ref: (a, b) => ref.concat([a, b], 1),
    inAxes: [null, 1],
  },
  { name: 'stack axis 0', args: [{ shape: [3, 4] }, { shape: [3, 4] }], f: (a, b) => np.stack([a, b]), ref: (a, b) => ref.stack([a, b], 0), inAxes: [1, null] },
  { name: 'stack axis -1', args: [{ shape: [3, 4] }, { shape: [3, 4] }], f: (a, b) => np.stack([a, b], { axis: -1 }), ref: (a, b) => ref.stack([a, b], 2) },
  { name: 'stack of rank-0', args: [{ shape: [] }, { shape: [] }, { shape: [] }], f: (a, b, c) => np.stack([a, b, c]), ref: (a, b, c) => ref.stack([a, b, c], 0) },

  {
    name: 'lax.slice unit strides',
    args: [{ shape: [4, 5] }],
    f: (x) => lax.slice(x, [1, 0], [3, 4]),
    ref: (x) => ref.slice(x, [1, 0], [3, 4]),
    inAxes: [1],
  },
  {
    name: 'lax.slice strides [2,3]',
    args: [{ shape: [5, 7] }],
    f: (x) => lax.slice(x, [0, 1], [5, 7], [2, 3]),
    ref: (x) => ref.slice(x, [0, 1], [5, 7], [2, 3]),
    inAxes: [2],
  },
  {
    name: 'lax.pad lo/hi',
    args: [{ shape: [2, 3] }],
    f: (x) => lax.pad(x, [1, 0], [2, 1], -1),
    ref: (x) => ref.pad(x, [1, 0], [2, 1], -1, [0, 0]),
    inAxes: [1],
  },
  {
    name: 'lax.pad with interior',
    args: [{ shape: [3, 2] }],
    f: (x) => lax.pad(x, [0, 2], [1, 0], 0.5, [2, 1]),
    ref: (x) => ref.pad(x, [0, 2], [1, 0], 0.5, [2, 1]),
    inAxes: [0],
  },

  // Shape ops on 1-byte (bool) and unsigned elements take the same copy kernels with other strides.
  { name: 'transpose of bool', args: [{ shape: [2, 3, 4], dtype: 'bool' }], f: (x) => np.transpose(x, [2, 0, 1]), ref: (x) => ref.transpose(x, [2, 0, 1]), dtype: 'bool', inAxes: [1] },
  { name: 'broadcastTo of bool', args: [{ shape: [3, 1], dtype: 'bool' }], f: (x) => np.broadcastTo(x, [2, 3, 5]), ref: (x) => ref.broadcastTo(x, [2, 3, 5]), dtype: 'bool' },
  {
    name: 'concatenate of bool',
    args: [{ shape: [2, 3], dtype: 'bool' }, { shape: [2, 2], dtype: 'bool' }],
    f: (a, b) => np.concatenate([a, b], { axis: 1 }),
    ref: (a, b) => ref.concat([a, b], 1),
    dtype: 'bool',
    inAxes: [1, null],
  },
  { name: 'lax.slice of bool', args: [{ shape: [5, 7], dtype: 'bool' }], f: (x) => lax.slice(x, [1, 0], [5, 7], [2, 3]), ref: (x) => ref.slice(x, [1, 0], [5, 7], [2, 3]), dtype: 'bool', inAxes: [1] },
  { name: 'lax.pad of bool with interior', args: [{ shape: [3, 2], dtype: 'bool' }], f: (x) => lax.pad(x, [1, 0], [0, 2], 1, [1, 2]), ref: (x) => ref.pad(x, [1, 0], [0, 2], 1, [1, 2]), dtype: 'bool' },
  { name: 'lax.pad of uint32', args: [{ shape: [4], dtype: 'uint32', lo: 0, hi: 100 }], f: (x) => lax.pad(x, [2], [1], 7, [1]), ref: (x) => ref.pad(x, [2], [1], 7, [1]), dtype: 'uint32' },
  { name: 'stack of int32', args: [{ shape: [3], dtype: 'int32' }, { shape: [3], dtype: 'int32' }], f: (a, b) => np.stack([a, b], { axis: 1 }), ref: (a, b) => ref.stack([a, b], 1), dtype: 'int32' },

  { name: 'nn.relu', args: [{ shape: [3, 4], minAbs: 0.05 }], f: nn.relu, ref: (x) => map(x, (v) => Math.max(v, 0)), inAxes: [1] },
  { name: 'nn.sigmoid', args: [{ shape: [3, 4], lo: -4, hi: 4 }], f: nn.sigmoid, ref: (x) => map(x, (v) => 1 / (1 + Math.exp(-v))) },
  { name: 'nn.softmax (last axis)', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.softmax(x), ref: (x) => softmaxRef(x, 1), inAxes: [1] },
  { name: 'nn.softmax axis 0', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.softmax(x, { axis: 0 }), ref: (x) => softmaxRef(x, 0), inAxes: [-1] },
  { name: 'nn.softmax of large values', args: [{ shape: [2, 3], lo: 80, hi: 100 }], f: (x) => nn.softmax(x), ref: (x) => softmaxRef(x, 1), gradTol: { rtol: 2e-3, atol: 1e-6 } },
  { name: 'nn.logSoftmax', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.logSoftmax(x), ref: (x) => softmaxRef(x, 1, true), inAxes: [0] },
  { name: 'nn.logsumexp (all)', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.logsumexp(x), ref: (x) => ref.reduce(x, undefined, logsumexpOf) },
  {
    name: 'nn.logsumexp axis 1 keepdims',
    args: [{ shape: [3, 4], lo: -3, hi: 3 }],
    f: (x) => nn.logsumexp(x, { axis: 1, keepdims: true }),
    ref: (x) => ref.reduce(x, 1, logsumexpOf, true),
    inAxes: [1],
  },
  { name: 'nn.gelu (tanh approximation)', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.gelu(x), ref: (x) => map(x, geluTanh), inAxes: [1] },
  { name: 'nn.gelu (exact, erf)', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: (x) => nn.gelu(x, { approximate: false }), ref: (x) => map(x, geluErf) },
  { name: 'nn.silu', args: [{ shape: [3, 4], lo: -4, hi: 4 }], f: nn.silu, ref: (x) => map(x, (v) => v / (1 + Math.exp(-v))), inAxes: [1] },
  { name: 'nn.softplus', args: [{ shape: [3, 4], lo: -6, hi: 6 }], f: nn.softplus, ref: (x) => map(x, (v) => Math.log1p(Math.exp(v))) },
  { name: 'nn.tanh', args: [{ shape: [3, 4], lo: -3, hi: 3 }], f: nn.tanh, ref: (x) => map(x, Math.tanh) },
  { name: 'nn.elu', args: [{ shape: [3, 4], lo: -3, hi: 3, minAbs: 0.05 }], f: (x) => nn.elu(x), ref: (x) => map(x, (v) => (v > 0 ? v : Math.expm1(v))), inAxes: [1] },
  { name: 'nn.elu alpha 0.5', args: [{ shape: [5], lo: -3, hi: 3, minAbs: 0.05 }], f: (x) => nn.elu(x, { alpha: 0.5 }), ref: (x) => map(x, (v) => (v > 0 ? v : 0.5 * Math.expm1(v))) },
  { name: 'nn.leakyRelu', args: [{ shape: [3, 4], minAbs: 0.05 }], f: (x) => nn.leakyRelu(x), ref: (x) => map(x, (v) => (v >= 0 ? v : 0.01 * v)), inAxes: [1] },
  { name: 'nn.leakyRelu slope 0.2', args: [{ shape: [5], minAbs: 0.05 }], f: (x) => nn.leakyRelu(x, { negativeSlope: 0.2 }), ref: (x) => map(x, (v) => (v >= 0 ? v : 0.2 * v)) },
  { name: 'nn.standardize (last axis)', args: [{ shape: [3, 4] }], f: (x) => nn.standardize(x), ref: (x) => standardizeRef(x, 1), inAxes: [1], gradTol: { rtol: 2e-3, atol: 1e-4 } },
  { name: 'nn.standardize axis 0', args: [{ shape: [4, 3] }], f: (x) => nn.standardize(x, { axis: 0 }), ref: (x) => standardizeRef(x, 0), gradTol: { rtol: 2e-3, atol: 1e-4 } },
  {
    name: 'nn.standardize with a given mean and variance',
    args: [{ shape: [2, 3] }, { shape: [2, 1] }, { shape: [2, 1], lo: 0.5, hi: 2 }],
    f: (x, m, v) => nn.standardize(x, { mean: m, variance: v }),
    ref: (x, m, v) => ref.zip((a, mm, vv) => (a - mm) / Math.sqrt(vv + 1e-5), x, m, v),
  },
  { name: 'nn.oneHot of int32', args: [{ shape: [2, 3], dtype: 'int32', lo: -1, hi: 5 }], f: (x) => nn.oneHot(x, 4), ref: (x) => oneHotRef(x, 4) },
  { name: 'nn.oneHot axis 0, int32 result', args: [{ shape: [3], dtype: 'int32', lo: 0, hi: 3 }], f: (x) => nn.oneHot(x, 3, { axis: 0, dtype: 'int32' }), ref: (x) => ref.transpose(oneHotRef(x, 3)), dtype: 'int32' },
]);
