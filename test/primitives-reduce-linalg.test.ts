/**
 * @file Op table, reductions and products: sum/mean/max/min/prod/var over every kind of `axis`
 * (with keepdims), argmax/argmin (ties go to the first index), matmul, dot and lax.dotGeneral with
 * non-standard contracting and batch dimensions. Checked by `testRows` (test/reference.ts).
 */

import { Array as MgArray, lax, numpy as np } from 'metalgrad';
import * as ref from './reference';
import { ArgSpec, DotDims, Ref, Row, testRows } from './reference';

type Axis = number | number[] | undefined;
const AXES: { axis: Axis; keepdims?: boolean; inAxes?: number[] }[] = [
  { axis: undefined },
  { axis: 1, inAxes: [2] },
  { axis: [0, 2] },
  { axis: -1, inAxes: [-1] },
  { axis: [0, 2], keepdims: true },
  { axis: undefined, keepdims: true },
];

/** One row per axis choice for a numpy reduction on a [2, 3, 4] input. */
function reductionRows(name: string, f: (x: MgArray, o: { axis?: Axis; keepdims?: boolean }) => MgArray, combine: (v: number[]) => number, arg: Partial<ArgSpec> = {}): Row[] {
  return AXES.map(({ axis, keepdims, inAxes }) => ({
    name: `${name} axis=${JSON.stringify(axis)}${keepdims ? ' keepdims' : ''}`,
    args: [{ ...arg, shape: [2, 3, 4] }],
    f: (x) => f(x, keepdims ? { axis, keepdims } : { axis }),
    ref: (x) => ref.reduce(x, axis, combine, keepdims),
    inAxes,
  }));
}

/** argmax/argmin on integer-valued data with many ties; the first extreme index wins. */
function argRows(name: 'argmax' | 'argmin', pick: (v: number[]) => number): Row[] {
  const spec: ArgSpec = { shape: [3, 5], ints: true, lo: 0, hi: 3 };
  const cases: { axis?: number; keepdims?: boolean }[] = [{}, { axis: 0 }, { axis: 1 }, { axis: -1, keepdims: true }];
  return cases.map((o) => ({
    name: `${name} ${JSON.stringify(o)} (ties)`,
    args: [spec],
    f: (x) => np[name](x, o),
    ref: (x) => ref.reduce(o.axis === undefined ? ref.reshape(x, [x.data.length]) : x, o.axis, pick, o.keepdims),
    dtype: 'int32' as const,
    inAxes: [1],
  }));
}

const dotRef = (a: Ref, b: Ref): Ref => {
  if (a.shape.length === 0 || b.shape.length === 0) return ref.zip((u, v) => u * v, a, b);
  const bk = b.shape.length === 1 ? 0 : b.shape.length - 2;
  return ref.dotGeneral(a, b, { lhsContract: [a.shape.length - 1], rhsContract: [bk], lhsBatch: [], rhsBatch: [] });
};

const product = (name: string, f: (a: MgArray, b: MgArray) => MgArray, r: (a: Ref, b: Ref) => Ref, a: number[], b: number[], inAxes?: (number | null)[]): Row => ({
  name: `${name} [${a}] × [${b}]`,
  args: [{ shape: a }, { shape: b }],
  f,
  ref: r,
  tol: { rtol: 1e-5, atol: 1e-5 },
  inAxes,
});

const dotGeneralRow = (name: string, a: number[], b: number[], dims: DotDims, inAxes?: (number | null)[]): Row => ({
  name: `lax.dotGeneral ${name}`,
  args: [{ shape: a }, { shape: b }],
  f: (x, y) => lax.dotGeneral(x, y, dims),
  ref: (x, y) => ref.dotGeneral(x, y, dims),
  tol: { rtol: 1e-5, atol: 1e-5 },
  inAxes,
});

testRows([
  ...reductionRows('sum', np.sum, ref.sumOf),
  ...reductionRows('mean', np.mean, ref.meanOf),
  ...reductionRows('max', np.max, ref.maxOf),
  ...reductionRows('min', np.min, ref.minOf),
  ...reductionRows('prod', np.prod, ref.prodOf, { lo: 0.5, hi: 1.5 }),
  ...[0, 1].flatMap((ddof) =>
    [{ axis: undefined }, { axis: 1 }, { axis: [0, 2], keepdims: true }].map(
      (o): Row => ({
        name: `var ddof=${ddof} ${JSON.stringify(o)}`,
        args: [{ shape: [2, 3, 4] }],
        f: (x) => np.var(x, { ...o, ddof }),
        ref: (x) => ref.reduce(x, o.axis, ref.varOf(ddof), o.keepdims),
        inAxes: [2],
      }),
    ),
  ),
  {
    name: 'max with ties (value only, int32)',
    args: [{ shape: [3, 5], dtype: 'int32', lo: 0, hi: 3 }],
    f: (x) => np.max(x, { axis: 1 }),
    ref: (x) => ref.reduce(x, 1, ref.maxOf),
    dtype: 'int32',
  },
  {
    name: 'sum of int32 stays int32',
    args: [{ shape: [3, 5], dtype: 'int32', lo: -50, hi: 50 }],
    f: (x) => np.sum(x, { axis: 0 }),
    ref: (x) => ref.reduce(x, 0, ref.sumOf),
    dtype: 'int32',
  },
  {
    name: 'sum of bool counts in int32',
    args: [{ shape: [3, 5], dtype: 'bool' }],
    f: (x) => np.sum(x, { axis: -1 }),
    ref: (x) => ref.reduce(x, -1, ref.sumOf),
    dtype: 'int32',
  },
  {
    name: 'max / min / argmax of uint32 above INT_MAX',
    args: [{ shape: [3, 4], dtype: 'uint32', lo: 2147483000, hi: 2147484500 }],
    f: (x) => np.stack([np.max(x, { axis: 1 }), np.min(x, { axis: 1 }), np.astype(np.argmax(x, { axis: 1 }), 'uint32')]),
    ref: (x) => ref.stack([ref.reduce(x, 1, ref.maxOf), ref.reduce(x, 1, ref.minOf), ref.reduce(x, 1, ref.argmaxOf)]),
    dtype: 'uint32',
    inAxes: [1],
  },
  {
    name: 'min and prod of negative int32',
    args: [{ shape: [3, 4], dtype: 'int32', lo: -9, hi: 9 }],
    f: (x) => np.stack([np.min(x, { axis: 0 }), np.prod(x, { axis: 0 }), np.argmin(x, { axis: 0 })]),
    ref: (x) => ref.stack([ref.reduce(x, 0, ref.minOf), ref.reduce(x, 0, ref.prodOf), ref.reduce(x, 0, ref.argminOf)]),
    dtype: 'int32',
  },
  ...argRows('argmax', ref.argmaxOf),
  ...argRows('argmin', ref.argminOf),

  product('matmul', np.matmul, ref.matmul, [3, 4], [4, 5], [0, null]),
  product('matmul', np.matmul, ref.matmul, [2, 3, 4], [1, 4, 5], [null, 3]),
  product('matmul', np.matmul, ref.matmul, [2, 1, 3, 4], [3, 4, 2]),
  product('matmul', np.matmul, ref.matmul, [4], [4, 5], [null, 1]),
  product('matmul', np.matmul, ref.matmul, [3, 4], [4], [1, 0]),
  product('matmul', np.matmul, ref.matmul, [2, 3, 4], [4, 5]),
  product('matmul', np.matmul, ref.matmul, [4], [4]),
  product('dot', np.dot, dotRef, [3, 4], [4, 5], [null, 2]),
  product('dot', np.dot, dotRef, [4], [4]),
  product('dot', np.dot, dotRef, [3, 4], [4]),
  product('dot', np.dot, dotRef, [2, 3, 4], [5, 4, 2]),
  product('dot', np.dot, dotRef, [], [3, 4]),
  dotGeneralRow('contract lhs 0 with rhs 1', [4, 3], [5, 4], { lhsContract: [0], rhsContract: [1], lhsBatch: [], rhsBatch: [] }, [1, 0]),
  dotGeneralRow('batch lhs 1 / rhs 2, contract lhs 2 / rhs 0', [3, 2, 4], [4, 5, 2], { lhsContract: [2], rhsContract: [0], lhsBatch: [1], rhsBatch: [2] }, [2, null]),
  dotGeneralRow('batch lhs 1 / rhs 2, only rhs mapped', [3, 2, 4], [4, 5, 2], { lhsContract: [2], rhsContract: [0], lhsBatch: [1], rhsBatch: [2] }, [null, 1]),
  dotGeneralRow('batch lhs 2 / rhs 0, both mapped at inner axes', [3, 4, 2], [2, 4, 5], { lhsContract: [1], rhsContract: [1], lhsBatch: [2], rhsBatch: [0] }, [2, 3]),
  dotGeneralRow('two contracting dims in swapped order', [2, 3, 4], [4, 3, 5], { lhsContract: [1, 2], rhsContract: [1, 0], lhsBatch: [], rhsBatch: [] }, [null, 1]),
  dotGeneralRow('batch only (outer product per batch)', [2, 3], [2, 4], { lhsContract: [], rhsContract: [], lhsBatch: [0], rhsBatch: [0] }),
  {
    name: 'matmul int32',
    args: [{ shape: [3, 4], dtype: 'int32', lo: -5, hi: 5 }, { shape: [4, 2], dtype: 'int32', lo: -5, hi: 5 }],
    f: np.matmul,
    ref: ref.matmul,
    dtype: 'int32',
  },
]);
