/**
 * @file Op table for indexing: the gather, scatter, sort, cumulative and rev primitives (with
 * random int32 index arguments that include out-of-range values, batched too under vmap), and the
 * numpy/lax functions built on them. Checked by `testRows` (test/reference.ts).
 */

import { Array as MgArray, lax, nn, numpy as np } from 'metalgrad';
import * as ref from './reference';
import { build, at, R, Ref, Row, testRows } from './reference';

type Op = ref.ScatterOp;
const scatterRow = (op: Op, mode: 'clip' | 'drop', extra: Partial<Row> = {}): Row => ({
  name: `lax.scatter ${op} (${mode})`,
  // Indices in [-2, 6) over an axis of 4: duplicates and out-of-range ones are both likely.
  args: [{ shape: [4, 3] }, { shape: [5], dtype: 'int32', lo: -2, hi: 6 }, { shape: [5, 3] }],
  f: (x, i, u) => lax.scatter(x, i, u, { axis: 0, batchDims: 0, op, mode }),
  ref: (x, i, u) => ref.scatter(x, i, u, 0, 0, op, mode),
  inAxes: [null, 0, 1],
  ...extra,
});

const iota = (shape: number[]): MgArray => np.arange(shape.reduce((a, b) => a * b, 1)).reshape(shape);
const sumOf = (v: number, w: number) => v + w;
const sorted = (x: Ref, axis: number, descending = false) => ref.sortAlong(x, axis, descending);
/** numpy pad of one axis by a source-index rule. */
const padRef = (x: Ref, widths: [number, number][], source: (p: number, n: number) => number): Ref =>
  build(x.shape.map((d, i) => d + widths[i][0] + widths[i][1]), (idx) => at(x, idx.map((v, i) => source(v - widths[i][0], x.shape[i]))));
const reflect = (p: number, n: number) => {
  const period = 2 * (n - 1);
  const q = ((p % period) + period) % period;
  return q < n ? q : period - q;
};

testRows([
  // gather: clamped indices; batched index arrays under vmap.
  { name: 'lax.gather axis 1 (clamped)', args: [{ shape: [3, 4] }, { shape: [5], dtype: 'int32', lo: -2, hi: 7 }], f: (x, i) => lax.gather(x, i, 1), ref: (x, i) => ref.gather(x, i, 1), inAxes: [null, 0] },
  { name: 'lax.gather 2-D indices axis 0', args: [{ shape: [4, 2] }, { shape: [2, 3], dtype: 'int32', lo: 0, hi: 4 }], f: (x, i) => lax.gather(x, i, 0), ref: (x, i) => ref.gather(x, i, 0), inAxes: [1, null] },
  { name: 'lax.gather batchDims 1', args: [{ shape: [3, 5] }, { shape: [3, 4], dtype: 'int32', lo: -1, hi: 6 }], f: (x, i) => lax.gather(x, i, 1, 1), ref: (x, i) => ref.gather(x, i, 1, 1), inAxes: [0, null] },
  { name: 'lax.gather of int32', args: [{ shape: [6], dtype: 'int32', lo: -50, hi: 50 }, { shape: [4], dtype: 'int32', lo: 0, hi: 6 }], f: (x, i) => lax.gather(x, i, 0), ref: (x, i) => ref.gather(x, i, 0), dtype: 'int32' },

  scatterRow('add', 'drop'),
  scatterRow('add', 'clip'),
  scatterRow('set', 'drop'),
  scatterRow('set', 'clip', { inAxes: [1, null, null] }),
  scatterRow('max', 'drop'),
  scatterRow('min', 'clip'),
  {
    // mul is differentiable in the operand only (as JAX for non-unique indices).
    name: 'lax.scatter mul (drop), grad of the operand',
    args: [{ shape: [4, 3] }, { shape: [5], dtype: 'int32', lo: -2, hi: 6 }],
    f: (x, i) => lax.scatter(x, i, np.array([[1.5, -2, 0.5], [2, 1, -1], [0.25, 3, 2], [-1, 0.5, 1.5], [2, 2, -0.5]]), { axis: 0, batchDims: 0, op: 'mul', mode: 'drop' }),
    ref: (x, i) => ref.scatter(x, i, R([5, 3], [1.5, -2, 0.5, 2, 1, -1, 0.25, 3, 2, -1, 0.5, 1.5, 2, 2, -0.5]), 0, 0, 'mul', 'drop'),
  },
  {
    name: 'lax.scatter add, batchDims 1 on axis 1',
    args: [{ shape: [2, 4, 2] }, { shape: [2, 3], dtype: 'int32', lo: -1, hi: 5 }, { shape: [2, 3, 2] }],
    f: (x, i, u) => lax.scatter(x, i, u, { axis: 1, batchDims: 1, op: 'add', mode: 'drop' }),
    ref: (x, i, u) => ref.scatter(x, i, u, 1, 1, 'add', 'drop'),
    inAxes: [2, null, 0],
  },

  // sort / argsort / topK.
  { name: 'np.sort (last axis)', args: [{ shape: [3, 5] }], f: (x) => np.sort(x), ref: (x) => sorted(x, 1).values, inAxes: [1] },
  { name: 'np.sort axis 0 with ties', args: [{ shape: [5, 3], ints: true, lo: -2, hi: 2 }], f: (x) => np.sort(x, { axis: 0 }), ref: (x) => sorted(x, 0).values, grad: false },
  { name: 'np.sort descending', args: [{ shape: [2, 6] }], f: (x) => np.sort(x, { descending: true }), ref: (x) => sorted(x, 1, true).values },
  { name: 'np.argsort (stable with ties)', args: [{ shape: [3, 6], ints: true, lo: -2, hi: 2 }], f: (x) => np.argsort(x), ref: (x) => sorted(x, 1).indices, dtype: 'int32' },
  { name: 'np.argsort of int32 axis 0', args: [{ shape: [5, 2], dtype: 'int32', lo: -3, hi: 3 }], f: (x) => np.argsort(x, { axis: 0 }), ref: (x) => sorted(x, 0).indices, dtype: 'int32' },
  { name: 'lax.topK values', args: [{ shape: [2, 7] }], f: (x) => lax.topK(x, 3)[0], ref: (x) => ref.slice(sorted(x, 1, true).values, [0, 0], [2, 3]), inAxes: [1] },
  { name: 'lax.topK indices', args: [{ shape: [2, 7] }], f: (x) => lax.topK(x, 3)[1], ref: (x) => ref.slice(sorted(x, 1, true).indices, [0, 0], [2, 3]), dtype: 'int32' },

  // Cumulative ops.
  { name: 'np.cumsum axis 1', args: [{ shape: [3, 5] }], f: (x) => np.cumsum(x, { axis: 1 }), ref: (x) => ref.scan(x, 1, sumOf), inAxes: [1] },
  { name: 'np.cumsum (flattened) of int32', args: [{ shape: [2, 3], dtype: 'int32', lo: -9, hi: 9 }], f: (x) => np.cumsum(x), ref: (x) => ref.scan(ref.reshape(x, [6]), 0, sumOf), dtype: 'int32' },
  { name: 'lax.cumsum reverse', args: [{ shape: [4, 3] }], f: (x) => lax.cumsum(x, { axis: 0, reverse: true }), ref: (x) => ref.scan(x, 0, sumOf, true) },
  { name: 'np.cumprod axis 1', args: [{ shape: [2, 6], lo: 0.5, hi: 1.5 }], f: (x) => np.cumprod(x, { axis: 1 }), ref: (x) => ref.scan(x, 1, (a, b) => a * b), inAxes: [1] },
  { name: 'np.cumprod with zeros', args: [{ shape: [7], ints: true, lo: -1, hi: 3 }], f: (x) => np.cumprod(x), ref: (x) => ref.scan(x, 0, (a, b) => a * b) },
  { name: 'lax.cumprod reverse', args: [{ shape: [5, 2], lo: 0.5, hi: 1.5 }], f: (x) => lax.cumprod(x, { reverse: true }), ref: (x) => ref.scan(x, 0, (a, b) => a * b, true) },
  { name: 'np.cummax axis 0', args: [{ shape: [6, 3] }], f: (x) => np.cummax(x, { axis: 0 }), ref: (x) => ref.scan(x, 0, (a, b) => Math.max(a, b)), inAxes: [1] },
  { name: 'lax.cummin reverse', args: [{ shape: [3, 6] }], f: (x) => lax.cummin(x, { axis: 1, reverse: true }), ref: (x) => ref.scan(x, 1, (a, b) => Math.min(a, b), true) },

  // Reversal, roll, tile, repeat, pad.
  { name: 'np.flip axes [0, 2]', args: [{ shape: [2, 3, 4] }], f: (x) => np.flip(x, { axis: [0, 2] }), ref: (x) => ref.rev(x, [0, 2]), inAxes: [2] },
  { name: 'np.flip (all)', args: [{ shape: [3, 2] }], f: (x) => np.flip(x), ref: (x) => ref.rev(x, [0, 1]) },
  { name: 'np.roll axis 1', args: [{ shape: [2, 5] }], f: (x) => np.roll(x, -7, { axis: 1 }), ref: (x) => build(x.shape, ([i, j]) => at(x, [i, (j + 7) % 5])), inAxes: [1] },
  { name: 'np.roll flattened', args: [{ shape: [2, 3] }], f: (x) => np.roll(x, 2), ref: (x) => build(x.shape, (idx) => x.data[(ref.ravel(idx, x.shape) + 4) % 6]) },
  { name: 'np.roll by a traced shift', args: [{ shape: [3, 4] }, { shape: [], dtype: 'int32', lo: -9, hi: 9 }], f: (x, s) => np.roll(x, s, { axis: 1 }), ref: (x, s) => build(x.shape, ([i, j]) => at(x, [i, (((j - s.data[0]) % 4) + 4) % 4])), inAxes: [null, 0] },
  { name: 'np.tile [2, 1, 3]', args: [{ shape: [2, 2] }], f: (x) => np.tile(x, [2, 1, 3]), ref: (x) => build([2, 2, 6], ([, i, j]) => at(x, [i, j % 2])), inAxes: [1] },
  { name: 'np.repeat counts axis 0', args: [{ shape: [3, 2] }], f: (x) => np.repeat(x, [2, 0, 3], { axis: 0 }), ref: (x) => build([5, 2], ([i, j]) => at(x, [[0, 0, 2, 2, 2][i], j])), inAxes: [1] },
  { name: 'np.repeat scalar (flattened)', args: [{ shape: [2, 2] }], f: (x) => np.repeat(x, 2), ref: (x) => build([8], ([i]) => x.data[Math.floor(i / 2)]) },
  { name: 'np.pad constant', args: [{ shape: [2, 3] }], f: (x) => np.pad(x, [[1, 0], [2, 1]], { constantValues: 0.5 }), ref: (x) => ref.pad(x, [1, 2], [0, 1], 0.5, [0, 0]) },
  { name: 'np.pad edge', args: [{ shape: [2, 3] }], f: (x) => np.pad(x, 2, { mode: 'edge' }), ref: (x) => padRef(x, [[2, 2], [2, 2]], (p, n) => Math.min(Math.max(p, 0), n - 1)), inAxes: [1] },
  { name: 'np.pad reflect', args: [{ shape: [3, 4] }], f: (x) => np.pad(x, [[2, 1], [3, 5]], { mode: 'reflect' }), ref: (x) => padRef(x, [[2, 1], [3, 5]], reflect) },
  { name: 'np.pad symmetric', args: [{ shape: [3] }], f: (x) => np.pad(x, [4, 2], { mode: 'symmetric' }), ref: (x) => padRef(x, [[4, 2]], (p, n) => { const q = ((p % (2 * n)) + 2 * n) % (2 * n); return q < n ? q : 2 * n - 1 - q; }) },
  { name: 'np.pad wrap', args: [{ shape: [3] }], f: (x) => np.pad(x, [[4, 2]], { mode: 'wrap' }), ref: (x) => padRef(x, [[4, 2]], (p, n) => ((p % n) + n) % n) },

  // Triangles, outer, einsum, norms, oneHot.
  { name: 'np.tril k=0', args: [{ shape: [3, 4] }], f: (x) => np.tril(x), ref: (x) => build(x.shape, ([i, j]) => (j <= i ? at(x, [i, j]) : 0)), inAxes: [2] },
  { name: 'np.triu k=1 batched', args: [{ shape: [2, 3, 3] }], f: (x) => np.triu(x, 1), ref: (x) => build(x.shape, ([b, i, j]) => (j - i >= 1 ? at(x, [b, i, j]) : 0)) },
  { name: 'np.outer', args: [{ shape: [3] }, { shape: [2, 2] }], f: (a, b) => np.outer(a, b), ref: (a, b) => build([3, 4], ([i, j]) => a.data[i] * b.data[j]), inAxes: [null, 1] },
  { name: "einsum 'ij,jk->ik'", args: [{ shape: [2, 3] }, { shape: [3, 4] }], f: (a, b) => np.einsum('ij,jk->ik', a, b), ref: (a, b) => ref.matmul(a, b), inAxes: [1, null] },
  { name: "einsum 'bij,bjk->bki'", args: [{ shape: [2, 2, 3] }, { shape: [2, 3, 2] }], f: (a, b) => np.einsum('bij,bjk->bki', a, b), ref: (a, b) => ref.transpose(ref.matmul(a, b), [0, 2, 1]) },
  { name: "einsum 'ii->i' (diagonal)", args: [{ shape: [3, 3] }], f: (a) => np.einsum('ii->i', a), ref: (a) => build([3], ([i]) => at(a, [i, i])) },
  { name: "einsum 'ij->' and implicit 'ji'", args: [{ shape: [2, 3] }], f: (a) => np.add(np.einsum('ij->', a), np.einsum('ji', a)), ref: (a) => ref.zip((s, v) => s + v, R([], [a.data.reduce(sumOf)]), ref.transpose(a)) },
  { name: "einsum 'i,i,j->j' (three operands)", args: [{ shape: [3] }, { shape: [3] }, { shape: [2] }], f: (a, b, c) => np.einsum('i,i,j->j', a, b, c), ref: (a, b, c) => ref.map(c, (v) => v * ref.vdot(a, b)) },
  { name: "einsum '...ij,...jk->...ik' (broadcast batch)", args: [{ shape: [2, 1, 2, 3] }, { shape: [3, 3, 2] }], f: (a, b) => np.einsum('...ij,...jk->...ik', a, b), ref: (a, b) => ref.matmul(a, b), inAxes: [null, 1] },
  { name: "einsum 'i...->...' (implicit ellipsis output)", args: [{ shape: [3, 2, 2] }], f: (a) => np.einsum('i...->...', a), ref: (a) => ref.reduce(a, 0, ref.sumOf) },
  { name: 'linalg.norm vector (2)', args: [{ shape: [5], minAbs: 0.1 }], f: (x) => np.linalg.norm(x), ref: (x) => R([], [Math.hypot(...x.data)]) },
  { name: 'linalg.norm ord 3 axis 1', args: [{ shape: [2, 4], minAbs: 0.1 }], f: (x) => np.linalg.norm(x, { ord: 3, axis: 1 }), ref: (x) => ref.reduce(x, 1, (v) => Math.cbrt(v.reduce((s, a) => s + Math.abs(a) ** 3, 0))), inAxes: [1] },
  { name: 'linalg.norm ord 1 / inf', args: [{ shape: [6], minAbs: 0.1 }], f: (x) => np.add(np.linalg.norm(x, { ord: 1 }), np.linalg.norm(x, { ord: Infinity })), ref: (x) => R([], [x.data.reduce((s, a) => s + Math.abs(a), 0) + Math.max(...x.data.map(Math.abs))]) },
  { name: 'linalg.norm matrix fro / 1 / -inf', args: [{ shape: [3, 4], minAbs: 0.1 }], f: (x) => np.stack([np.linalg.norm(x), np.linalg.norm(x, { ord: 1 }), np.linalg.norm(x, { ord: -Infinity })]), ref: (x) => {
    const abs = ref.map(x, Math.abs);
    return R([3], [Math.hypot(...x.data), Math.max(...ref.reduce(abs, 0, ref.sumOf).data), Math.min(...ref.reduce(abs, 1, ref.sumOf).data)]);
  } },
  { name: 'oneHot (numpy, out-of-range rows are zero)', args: [{ shape: [5], dtype: 'int32', lo: -1, hi: 5 }], f: (x) => np.oneHot(x, 4), ref: (x) => build([5, 4], ([i, c]) => (x.data[i] === c ? 1 : 0)) },
  { name: 'nn.oneHot axis 0, int32', args: [{ shape: [3], dtype: 'int32', lo: 0, hi: 3 }], f: (x) => nn.oneHot(x, 3, { axis: 0, dtype: 'int32' }), ref: (x) => build([3, 3], ([c, i]) => (x.data[i] === c ? 1 : 0)), dtype: 'int32' },

  // take, takeAlongAxis, index specs, at[] updates.
  { name: 'np.take axis 1 (negative wraps, out of range clamps)', args: [{ shape: [2, 4] }, { shape: [5], dtype: 'int32', lo: -6, hi: 6 }], f: (x, i) => np.take(x, i, { axis: 1 }), ref: (x, i) => ref.gather(x, ref.map(i, (v) => (v < 0 ? v + 4 : v)), 1), inAxes: [1, 0] },
  { name: "np.take mode 'fill'", args: [{ shape: [6] }, { shape: [4], dtype: 'int32', lo: -8, hi: 8 }], f: (x, i) => np.take(x, i, { mode: 'fill', fillValue: -1 }), ref: (x, i) => build([4], ([k]) => { const v = i.data[k] < 0 ? i.data[k] + 6 : i.data[k]; return v >= 0 && v < 6 ? x.data[v] : -1; }) },
  { name: 'np.takeAlongAxis axis 0 (broadcast)', args: [{ shape: [4, 3] }, { shape: [2, 1], dtype: 'int32', lo: 0, hi: 4 }], f: (x, i) => np.takeAlongAxis(x, i, 0), ref: (x, i) => build([2, 3], ([r, c]) => at(x, [i.data[r], c])), inAxes: [1, 0] },
  { name: 'np.takeAlongAxis with argsort', args: [{ shape: [3, 5] }], f: (x) => np.takeAlongAxis(x, np.argsort(x), -1), ref: (x) => sorted(x, 1).values, inAxes: [1] },
  { name: "index x[1, '::-2', null]", args: [{ shape: [3, 5, 2] }], f: (x) => np.index(x, 1, '::-2', null), ref: (x) => build([3, 1, 2], ([k, , c]) => at(x, [1, 4 - 2 * k, c])), inAxes: [2] },
  { name: "x.slice('...', '-3:-1') and slice objects", args: [{ shape: [2, 6] }], f: (x) => np.add(x.slice('...', '-3:-1'), x.slice(':', { start: 1, stop: 5, step: 2 })), ref: (x) => build([2, 2], ([i, j]) => at(x, [i, 3 + j]) + at(x, [i, 1 + 2 * j])), inAxes: [1] },
  { name: 'x.slice with an integer array', args: [{ shape: [4, 3] }, { shape: [2, 2], dtype: 'int32', lo: -4, hi: 4 }], f: (x, i) => x.slice('1:', i), ref: (x, i) => build([3, 2, 2], ([r, a, b]) => at(x, [r + 1, Math.min(Math.max(at(i, [a, b]) < 0 ? at(i, [a, b]) + 3 : at(i, [a, b]), 0), 2)])), inAxes: [null, 0] },
  { name: 'x.slice(rows, cols) with two index arrays', args: [{ shape: [3, 4] }, { shape: [5], dtype: 'int32', lo: -3, hi: 3 }, { shape: [5], dtype: 'int32', lo: 0, hi: 5 }], f: (x, r, c) => x.slice(r, c), ref: (x, r, c) => build([5], ([k]) => at(x, [(r.data[k] + 3) % 3, Math.min(c.data[k], 3)])), inAxes: [0, 0, null] },
  { name: "x.slice(i, ':', j) (separated arrays go first)", args: [{ shape: [3, 2, 4] }, { shape: [2, 1], dtype: 'int32', lo: 0, hi: 3 }, { shape: [3], dtype: 'int32', lo: 0, hi: 4 }], f: (x, i, j) => x.slice(i, ':', j), ref: (x, i, j) => build([2, 3, 2], ([a, b, c]) => at(x, [i.data[a], c, j.data[b]])) },
  { name: 'x.at(rows, cols).add(v) with duplicates', args: [{ shape: [3, 3] }, { shape: [4], dtype: 'int32', lo: 0, hi: 3 }, { shape: [4], dtype: 'int32', lo: 0, hi: 3 }, { shape: [4] }], f: (x, r, c, v) => x.at(r, c).add(v), ref: (x, r, c, v) => { const o = { shape: [...x.shape], data: [...x.data] }; r.data.forEach((rr, k) => (o.data[rr * 3 + c.data[k]] += v.data[k])); return o; }, inAxes: [null, 0, 0, 0] },
  { name: "x.at(1, '1:3').set(v)", args: [{ shape: [3, 4] }, { shape: [2] }], f: (x, v) => x.at(1, '1:3').set(v), ref: (x, v) => build(x.shape, ([i, j]) => (i === 1 && j >= 1 && j < 3 ? v.data[j - 1] : at(x, [i, j]))), inAxes: [0, null] },
  { name: 'x.at(indices).add(v) with duplicates, dropping out of range', args: [{ shape: [5] }, { shape: [6], dtype: 'int32', lo: -7, hi: 7 }, { shape: [6] }], f: (x, i, v) => x.at(i).add(v), ref: (x, i, v) => ref.scatter(x, ref.map(i, (k) => (k < 0 ? k + 5 : k)), v, 0, 0, 'add', 'drop'), inAxes: [null, 0, 0] },
  { name: 'x.at(indices).set(v) (last duplicate wins)', args: [{ shape: [4] }, { shape: [5], dtype: 'int32', lo: 0, hi: 3 }, { shape: [5] }], f: (x, i, v) => x.at(i).set(v), ref: (x, i, v) => ref.scatter(x, i, v, 0, 0, 'set', 'drop') },
  { name: "x.at(':', 0).max(v) and .min", args: [{ shape: [3, 2] }, { shape: [3] }], f: (x, v) => np.add(x.at(':', 0).max(v), x.at(':', 1).min(v)), ref: (x, v) => build(x.shape, ([i, j]) => 2 * at(x, [i, j]) + (j === 0 ? Math.max(at(x, [i, 0]), v.data[i]) - at(x, [i, 0]) : Math.min(at(x, [i, 1]), v.data[i]) - at(x, [i, 1]))) },
  { name: "x.at('::2').mul(3) and .get()", args: [{ shape: [5] }], f: (x) => np.add(x.at('::2').mul(3), x.at([4, 0, 9]).get().sum()), ref: (x) => build([5], ([i]) => (i % 2 === 0 ? 3 : 1) * x.data[i] + 2 * x.data[4] + x.data[0]) },

  // Dynamic slices with traced start indices (clamped into range).
  { name: 'lax.dynamicSlice traced start', args: [{ shape: [4, 5] }, { shape: [], dtype: 'int32', lo: -2, hi: 6 }], f: (x, s) => lax.dynamicSlice(x, [s, 1], [2, 3]), ref: (x, s) => { const r = Math.min(Math.max(s.data[0], 0), 2); return ref.slice(x, [r, 1], [r + 2, 4]); }, inAxes: [null, 0] },
  { name: 'lax.dynamicUpdateSlice traced start', args: [{ shape: [4, 5] }, { shape: [2, 2] }, { shape: [], dtype: 'int32', lo: -2, hi: 6 }], f: (x, u, s) => lax.dynamicUpdateSlice(x, u, [1, s]), ref: (x, u, s) => { const c = Math.min(Math.max(s.data[0], 0), 3); return build(x.shape, ([i, j]) => (i >= 1 && i < 3 && j >= c && j < c + 2 ? at(u, [i - 1, j - c]) : at(x, [i, j]))); }, inAxes: [0, null, 0] },
]);

test('iota helper builds row-major positions', () => {
  expect(iota([2, 2]).toArray()).toEqual([[0, 1], [2, 3]]);
});
