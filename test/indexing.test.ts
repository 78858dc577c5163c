/**
 * @file Indexing beyond the op table: out-of-range behaviour (reads clamp, updates drop), NaN and
 * tie order in sorts, dynamic slices under jit without retracing, gradients through duplicates,
 * every bad argument's message, and malformed gather/scatter programs rejected by the addon.
 */

import { grad, jit, lax, nn, numpy as np, vmap } from 'metalgrad';
import { native } from '../lib/backend/native';

const i32 = (xs: number[]) => np.array(xs, { dtype: 'int32' });

function expectThrows(thunk: () => unknown, fragments: string[], kind?: 'TypeError' | 'RangeError'): void {
  let caught: unknown;
  try {
    thunk();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected an error containing ${fragments.join(' … ')}, but nothing was thrown`);
  if (kind) expect((caught as Error).name).toBe(kind);
  for (const f of fragments) expect((caught as Error).message).toContain(f);
}

describe('out-of-range indices', () => {
  const x = np.array([10, 20, 30, 40]);
  test('reads clamp: gather, take, index with arrays', () => {
    expect(lax.gather(x, i32([-100, 2, 100]), 0).toArray()).toEqual([10, 30, 40]);
    // numpy-level negative indices count from the end first; what is still out of range clamps.
    expect(np.take(x, i32([-1, -4, -9, 7])).toArray()).toEqual([40, 10, 10, 40]);
    expect(x.slice([5, -5]).toArray()).toEqual([40, 10]);
    expect(x.at([5, -1]).get({ mode: 'fill', fillValue: 0 }).toArray()).toEqual([0, 40]);
    expect(np.take(x, i32([4]), { mode: 'fill' }).toArray()).toEqual([NaN]);
  });
  test('updates drop', () => {
    expect(x.at([4, -5, 100]).set(0).toArray()).toEqual([10, 20, 30, 40]);
    expect(x.at([0, 0, 9]).add(1).toArray()).toEqual([12, 20, 30, 40]);
    expect(lax.scatter(x, i32([9, -3]), np.array([1, 2]), { axis: 0, batchDims: 0, op: 'add', mode: 'clip' }).toArray()).toEqual([12, 20, 30, 41]);
  });
  test('dynamic slices clamp their starts as JAX does', () => {
    const m = np.arange(10);
    expect(lax.dynamicSlice(m, [8], [4]).toArray()).toEqual([6, 7, 8, 9]);
    expect(lax.dynamicSlice(m, [-3], [2]).toArray()).toEqual([0, 1]);
    expect(lax.dynamicUpdateSlice(m, i32([-1, -2]), [50]).toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, -1, -2]);
  });
  test('static integer indices out of range are errors, like numpy', () => {
    expectThrows(() => x.slice(4), ['index:', 'index 4 is out of bounds for axis 0 of size 4'], 'RangeError');
    expectThrows(() => x.at(-5).set(1), ['at.set:', 'index -5 is out of bounds'], 'RangeError');
  });
});

describe('several integer arrays (numpy advanced indexing)', () => {
  const x = np.arange(24).reshape([2, 3, 4]);
  test('adjacent arrays replace their axes; separated ones go first', () => {
    expect(x.slice(':', [0, 2], [1, 3]).toArray()).toEqual([[1, 11], [13, 23]]);
    expect(x.slice([1, 0], ':', [3, 0]).toArray()).toEqual([[15, 19, 23], [0, 4, 8]]);
    // An integer counts as an array once arrays are present: x[0, :, [1, 2]] has shape (2, 3).
    expect(x.slice(0, ':', [1, 2]).shape).toEqual([2, 3]);
    expect(x.slice([[0], [1]], [0, 2]).shape).toEqual([2, 2, 4]);
  });
  test('picking one entry per row, and updating pairs', () => {
    const logits = np.array([[1, 2, 3], [4, 5, 6]]);
    expect(logits.slice(np.arange(2), np.array([2, 0], { dtype: 'int32' })).toArray()).toEqual([3, 4]);
    expect(np.zeros([2, 2]).at([0, 1, 1], [1, 0, 0]).add(1).toArray()).toEqual([[0, 1], [2, 0]]);
    expect(np.zeros([2, 2]).at([0, 5], [0, 0]).set(1).toArray()).toEqual([[1, 0], [0, 0]]);
  });
});

describe('sorting', () => {
  test('NaN sorts last (first when descending); ties keep their order', () => {
    const v = np.array([2, NaN, -1, 2, 0, NaN]);
    expect(np.sort(v).toArray()).toEqual([-1, 0, 2, 2, NaN, NaN]);
    expect(np.argsort(v).toArray()).toEqual([2, 4, 0, 3, 1, 5]);
    expect(np.argsort(v, { descending: true }).toArray()).toEqual([1, 5, 0, 3, 4, 2]);
    expect(lax.topK(np.array([1, 3, 3, 2]), 2)[1].toArray()).toEqual([1, 2]);
  });
  test('sort of bool and uint32, and over a null axis', () => {
    expect(np.sort(np.array([true, false, true])).toArray()).toEqual([false, true, true]);
    expect(np.sort(np.array([5, 1, 4294967295], { dtype: 'uint32' })).toArray()).toEqual([1, 5, 4294967295]);
    expect(np.sort(np.array([[3, 1], [0, 2]]), { axis: null }).toArray()).toEqual([0, 1, 2, 3]);
  });
  test('the gradient of sort follows the permutation', () => {
    const g = grad((a) => np.sum(np.multiply(np.sort(a), np.array([1, 2, 3]))))(np.array([30, 10, 20]));
    expect(g.toArray()).toEqual([3, 1, 2]);
  });
});

describe('transformations', () => {
  test('jit traces a dynamic slice once for every start', () => {
    let traces = 0;
    const f = jit((m: np.ArrayLike, s: np.ArrayLike) => {
      traces++;
      return lax.dynamicSlice(m as never, [s as never], [3]);
    });
    const m = np.arange(8);
    expect(f(m, np.array(2, { dtype: 'int32' })).toArray()).toEqual([2, 3, 4]);
    expect(f(m, np.array(7, { dtype: 'int32' })).toArray()).toEqual([5, 6, 7]);
    expect(traces).toBe(1);
  });
  test('the set gradient goes to the last duplicate only', () => {
    const g = grad((v) => np.sum(np.zeros([3]).at(i32([1, 1, 2])).set(v)))(np.array([5, 6, 7]));
    expect(g.toArray()).toEqual([0, 1, 1]);
  });
  test('gradients through clamped and dropped indices', () => {
    const gx = grad((a) => np.sum(lax.gather(a, i32([-3, 0, 9]), 0)))(np.array([1, 2, 3]));
    expect(gx.toArray()).toEqual([2, 0, 1]);
    const gv = grad((v) => np.sum(np.zeros([3]).at(i32([0, 5])).add(v)))(np.array([1, 1]));
    expect(gv.toArray()).toEqual([1, 0]);
  });
  test('vmap of at[] with per-example indices, and of topK', () => {
    const out = vmap((row, i) => row.at(i).set(0))(np.ones([2, 3]), i32([0, 2]));
    expect(out.toArray()).toEqual([[0, 1, 1], [1, 1, 0]]);
    const vals = vmap((row) => lax.topK(row, 2)[0])(np.array([[1, 5, 2], [7, 0, 3]]));
    expect(vals.toArray()).toEqual([[5, 2], [7, 3]]);
  });
  test('scatter-max into an empty axis differentiates to an empty gradient', () => {
    const g = grad((a) => np.sum(lax.scatter(a, i32([1]), np.ones([1]), { axis: 0, batchDims: 0, op: 'max', mode: 'drop' })))(np.ones([0]));
    expect(g.shape).toEqual([0]);
  });
  test('jit(grad) of cummax matches grad', () => {
    const f = (a: ReturnType<typeof np.ones>) => np.sum(np.multiply(np.cummax(a), np.array([1, 2, 3, 4])));
    const x = np.array([1, 3, 2, 5]);
    expect(jit(grad(f))(x).toArray()).toEqual(grad(f)(x).toArray());
    expect(grad(f)(x).toArray()).toEqual([1, 5, 0, 4]);
  });
});

describe('bad arguments', () => {
  const m = np.ones([2, 3]);
  const rows: [string, () => unknown, string[], ('TypeError' | 'RangeError')?][] = [
    ['gather with float indices', () => lax.gather(m, np.array([0]), 0), ['gather: indices must be int32, received float32'], 'TypeError'],
    ['gather with axis before batchDims', () => lax.gather(m, i32([0, 1]), 0, 1), ['gather: axis 0 and batchDims 1 are invalid', '(2, 3)'], 'RangeError'],
    ['gather with mismatched batch dims', () => lax.gather(m, np.zeros([3, 1], { dtype: 'int32' }), 1, 1), ['gather: the first 1 dimensions of the indices (3, 1)', '(2, 3)']],
    ['gather from an empty axis', () => lax.gather(np.ones([0, 2]), i32([0]), 0), ['gather: cannot index axis 0', 'it is empty']],
    ['scatter with wrong update shape', () => lax.scatter(m, i32([0]), np.ones([2]), { axis: 0, batchDims: 0, op: 'add', mode: 'drop' }), ['scatter: updates must have shape (1, 3)', 'received (2,)']],
    ['scatter with another dtype', () => lax.scatter(m, i32([0]), np.ones([1, 3], { dtype: 'int32' }), { axis: 0, batchDims: 0, op: 'add', mode: 'drop' }), ['scatter: updates must have the operand\'s dtype float32, received int32'], 'TypeError'],
    ['scatter with an unknown op', () => lax.scatter(m, i32([0]), np.ones([1, 3]), { axis: 0, batchDims: 0, op: 'sub' as never, mode: 'drop' }), ["scatter: op must be one of 'add', 'set', 'mul', 'min', 'max', received \"sub\""], 'TypeError'],
    ['scatter with an unknown mode', () => lax.scatter(m, i32([0]), np.ones([1, 3]), { axis: 0, batchDims: 0, op: 'add', mode: 'wrap' as never }), ["scatter: mode must be 'clip' or 'drop', received \"wrap\""], 'TypeError'],
    ['scatter without params', () => lax.scatter(m, i32([0]), np.ones([1, 3]), undefined as never), ['scatter: argument `params` must be an object'], 'TypeError'],
    ['scatter add on bool', () => lax.scatter(np.array([true]), i32([0]), np.array([false]), { axis: 0, batchDims: 0, op: 'add', mode: 'drop' }), ['scatter: add is not defined on bool'], 'TypeError'],
    ['grad of at[].mul in the updates', () => grad((v) => np.sum(m.at(0).mul(v)))(np.ones([3])), ['scatter: the derivative of a multiplicative scatter', 'updates']],
    ['index with a slice step of 0', () => m.slice('::0'), ['index: argument `specs[0]` has step 0'], 'RangeError'],
    ['index with a malformed slice string', () => m.slice('1:x'), ['index: argument `specs[0]` must be a slice string of integers', '"1:x"'], 'TypeError'],
    ['index with two ellipses', () => m.slice('...', '...'), ['index: an index can have at most one ellipsis'], 'RangeError'],
    ['index with too many indices', () => m.slice(0, 0, 0), ['index: too many indices for an array of rank 2: 3 were given'], 'RangeError'],
    ['index with a boolean mask', () => m.slice(np.array([true, false])), ['index: argument `specs[0]` is a boolean mask', 'not supported'], 'TypeError'],
    ['index with integer arrays that do not broadcast', () => m.slice([0, 1], [0, 1, 2]), ['index: operands could not be broadcast together with shapes (2,) (3,)']],
    ['index with a fractional number', () => m.slice(0.5), ['index: argument `specs[0]` must be an integer, a slice'], 'TypeError'],
    ['index with fractional JS array entries', () => m.slice([0.5]), ['index: argument `specs[0]` must be an integer array'], 'TypeError'],
    ['at().set with unbroadcastable values', () => m.at(0).set(np.ones([2])), ['at.set: argument `values` of shape (2,) cannot be broadcast to the indexed shape (3,)']],
    ['at().add on bool', () => np.array([true]).at(0).add(true), ['at.add: add is not defined on a bool array'], 'TypeError'],
    ['take with a bad mode', () => np.take(m, [0], { mode: 'wrap' as never }), ["take: argument `mode` must be 'clip' or 'fill'"], 'TypeError'],
    ['take with a slice string', () => np.take(m, '0:1'), ['take: argument `indices` must be an integer or an integer array'], 'TypeError'],
    ['takeAlongAxis with a lower rank', () => np.takeAlongAxis(m, i32([0]), 1), ['takeAlongAxis: argument `indices` must have the rank of `arr` (2)', '(1,)']],
    ['takeAlongAxis with shapes that do not broadcast', () => np.takeAlongAxis(m, np.zeros([3, 1], { dtype: 'int32' }), 1), ['takeAlongAxis: shapes (2, 3) and (3, 1) do not broadcast outside axis 1']],
    ['sort of a scalar with lax', () => lax.sort(np.array(1)), ['sort: argument `x` must have at least one dimension'], undefined],
    ['sort with a bad axis', () => np.sort(m, { axis: 2 }), ['sort: argument `axis`', 'is 2'], 'RangeError'],
    ['sort with a non-boolean descending', () => np.sort(m, { descending: 1 as never }), ['sort: argument `descending` must be a boolean'], 'TypeError'],
    ['topK with k too large', () => lax.topK(m, 4), ['topK: argument `k` must be an integer in [0, 3]', 'number 4'], 'RangeError'],
    ['cumsum with a bad axis', () => np.cumsum(m, { axis: -3 }), ['cumsum: argument `axis`', 'is -3'], 'RangeError'],
    ['lax.cummax of a scalar', () => lax.cummax(np.array(2)), ['cummax: argument `x` must have at least one dimension']],
    ['dynamicSlice with a wrong number of starts', () => lax.dynamicSlice(m, [0], [1, 1]), ['dynamicSlice: argument `startIndices` must be a JS array of 2 start indices'], 'TypeError'],
    ['dynamicSlice with sizes too large', () => lax.dynamicSlice(m, [0, 0], [3, 1]), ['dynamicSlice: argument `sliceSizes` must hold 2 integers', '(2, 3)'], 'RangeError'],
    ['dynamicSlice with a float start', () => lax.dynamicSlice(m, [np.array(1.5), 0], [1, 1]), ['dynamicSlice: argument `startIndices[0]` must be an integer or a rank-0 int32 array'], 'TypeError'],
    ['dynamicUpdateSlice with a bigger update', () => lax.dynamicUpdateSlice(m, np.ones([3, 1]), [0, 0]), ['dynamicUpdateSlice: argument `update` of shape (3, 1) must have the rank of `x` (2, 3)']],
    ['dynamicUpdateSlice with another dtype', () => lax.dynamicUpdateSlice(m, np.ones([1, 1], { dtype: 'int32' }), [0, 0]), ['dynamicUpdateSlice: argument `update` must have dtype float32'], 'TypeError'],
    ['pad with a negative width', () => np.pad(m, -1), ['pad: argument `padWidth` must be a non-negative integer'], 'TypeError'],
    ['pad with an unknown mode', () => np.pad(m, 1, { mode: 'mean' as never }), ["pad: argument `mode` must be one of 'constant'"], 'TypeError'],
    ['pad an empty axis by reflection', () => np.pad(np.ones([0]), 1, { mode: 'reflect' }), ["pad: cannot pad the empty axis 0 in mode 'reflect'"]],
    ['tile with a negative rep', () => np.tile(m, [-1]), ['tile: argument `reps` must be a non-negative integer'], 'TypeError'],
    ['repeat with the wrong number of counts', () => np.repeat(m, [1, 2], { axis: 1 }), ['repeat: argument `repeats` has 2 counts but axis 1 has 3 elements']],
    ['roll with a fractional shift', () => np.roll(m, 0.5), ['roll: argument `shift` must be an integer'], 'TypeError'],
    ['roll with a float array shift', () => np.roll(m, np.array(1.5)), ['roll: argument `shift` must be an integer, a JS array of integers, or a rank-0 int32 array'], 'TypeError'],
    ['tril of a vector', () => np.tril(np.ones([3])), ['tril: argument `m` must have at least 2 dimensions', '(3,)']],
    ['einsum with a wrong operand count', () => np.einsum('ij,jk', m), ['einsum: subscripts "ij,jk" name 2 operand(s) but 1 were given']],
    ['einsum with mismatched sizes', () => np.einsum('ij,ij->', m, np.ones([3, 2])), ['einsum: subscript "i" has size 2 in one place and 3 in another']],
    ['einsum with two ellipses in a term', () => np.einsum('...i...->i', m), ["einsum: subscripts \"...i...->i\" use '...' more than once in one term"]],
    ['einsum with a symbol', () => np.einsum('i$->i', m), ['einsum: subscripts "i$->i" contain "$"']],
    ['einsum with too few axes for its letters', () => np.einsum('...ijk->i', m), ["einsum: operand 0 has shape (2, 3) but its subscripts name 3 axes besides '...'"]],
    ['einsum with an unknown output letter', () => np.einsum('ij->k', m), ['einsum: output subscript "k" does not appear in any input']],
    ['einsum with a rank mismatch', () => np.einsum('ijk->i', m), ['einsum: operand 0 has shape (2, 3) but its subscripts "ijk" name 3 axes']],
    ['norm with a nuclear order', () => np.linalg.norm(m, { ord: 'nuc' as never }), ['norm: matrix norm ord=nuc needs singular values']],
    ['norm with a string vector order', () => np.linalg.norm(np.ones([3]), { ord: 'fro' }), ['norm: argument `ord` must be a number for a vector norm'], 'TypeError'],
    ['where with one argument', () => (np.where as (c: unknown) => unknown)(m), ['where: expected 3 arguments (condition, x, y), received 1', 'not supported'], 'TypeError'],
    ['oneHot with a negative class count', () => nn.oneHot(i32([0]), -1), ['oneHot: argument `numClasses` must be a non-negative integer'], 'TypeError'],
  ];
  test.each(rows.map((r) => [r[0], r] as const))('%s', (_name, [, thunk, fragments, kind]) => expectThrows(thunk, fragments, kind));
});

describe('the addon rejects malformed indexing programs', () => {
  const run = (kind: number, payload: number[], bufs: (Float32Array | Int32Array)[]) => native().run(Int32Array.from([0x4d47, 1, 1, kind, payload.length, ...payload]), new Float64Array(0), bufs);
  test('gather and scatter blocks outside their buffers', () => {
    const x = new Float32Array(4);
    const idx = new Int32Array(2);
    const out = new Float32Array(2);
    expectThrows(() => run(5, [0, 1, 1, 5, 2, 1, 0, 0, 1, 0, 2, 0], [x, idx, out]), ['step 0 (gather): x block reaches element 4 but buffer 0 has 4 elements']);
    expectThrows(() => run(6, [0, 0, 1, 1, 1, 4, 3, 1, 2, 0, 1, 0, 0, 0], [x, idx, out]), ['step 0 (scatter): upd block reaches element 2']);
    expectThrows(() => run(7, [0, 0, 1, 4, 0, 0, 2, 0, 1, 0], [x, idx, out]), ['step 0 (sort): out block reaches element 3']);
    run(5, [0, 1, 1, 4, 2, 1, 0, 0, 1, 0, 2, 0], [x, Int32Array.from([-7, 1 << 30]), out]);
    expect(Array.from(out)).toEqual([0, 0]);
  });
});
