/**
 * @file Op table, elementwise part: unary and binary math (with broadcasting and rank-0 operands),
 * comparisons, where, clip and astype. Each row is checked by `testRows` (test/reference.ts) under
 * eager, jit, vmap, grad and jvp/vjp against a float64 reference.
 */

import { Array as MgArray, numpy as np } from 'metalgrad';
import { ArgSpec, map, Ref, Row, testRows, zip } from './reference';

const M: ArgSpec = { shape: [3, 4] };

/** A unary op on a [3, 4] input and on a rank-0 input, drawn from [lo, hi) and away from 0 (kinks). */
function unary(name: string, f: (x: MgArray) => MgArray, ref: (v: number) => number, lo: number, hi: number): Row[] {
  const r = (x: Ref) => map(x, ref);
  return [
    { name, args: [{ shape: [3, 4], lo, hi, minAbs: 0.05 }], f, ref: r, inAxes: [1] },
    { name: `${name} (rank 0)`, args: [{ shape: [], lo, hi, minAbs: 0.05 }], f, ref: r },
  ];
}

/** A binary op under three broadcasting patterns, plus vmap with a non-leading / unbatched axis. */
function binary(name: string, f: (x: MgArray, y: MgArray) => MgArray, ref: (a: number, b: number) => number, x: Partial<ArgSpec> = {}, y: Partial<ArgSpec> = {}): Row[] {
  const r = (a: Ref, b: Ref) => zip(ref, a, b);
  return [
    { name: `${name} [3,4] [4]`, args: [{ ...x, shape: [3, 4] }, { ...y, shape: [4] }], f, ref: r, inAxes: [1, null] },
    { name: `${name} [3,1] [1,4]`, args: [{ ...x, shape: [3, 1] }, { ...y, shape: [1, 4] }], f, ref: r, inAxes: [null, 1] },
    { name: `${name} [2,3] []`, args: [{ ...x, shape: [2, 3] }, { ...y, shape: [] }], f, ref: r, inAxes: [2, 0] },
  ];
}

const compare = (name: string, f: (x: unknown, y: unknown) => MgArray, ref: (a: number, b: number) => boolean): Row => ({
  name,
  // Integer-valued floats, so that equal pairs occur.
  args: [{ shape: [3, 4], ints: true, lo: -2, hi: 2 }, { shape: [4], ints: true, lo: -2, hi: 2 }],
  f: (a, b) => f(a, b),
  ref: (a, b) => zip((u, v) => Number(ref(u, v)), a, b),
  dtype: 'bool',
  inAxes: [1, null],
});

testRows([
  ...binary('add', np.add, (a, b) => a + b),
  ...binary('subtract', np.subtract, (a, b) => a - b),
  ...binary('multiply', np.multiply, (a, b) => a * b),
  ...binary('divide', np.divide, (a, b) => a / b, {}, { lo: 0.5, hi: 2 }),
  ...binary('power', np.power, Math.pow, { lo: 0.5, hi: 2 }, { lo: -1.5, hi: 1.5 }),
  ...binary('maximum', np.maximum, Math.max),
  ...binary('minimum', np.minimum, Math.min),

  ...unary('negative', np.negative, (v) => -v, -2, 2),
  ...unary('exp', np.exp, Math.exp, -2, 2),
  ...unary('log', np.log, Math.log, 0.2, 3),
  ...unary('log1p', np.log1p, Math.log1p, -0.5, 2),
  ...unary('expm1', np.expm1, Math.expm1, -1, 1),
  ...unary('sin', np.sin, Math.sin, -3, 3),
  ...unary('cos', np.cos, Math.cos, -3, 3),
  ...unary('tanh', np.tanh, Math.tanh, -2, 2),
  ...unary('sqrt', np.sqrt, Math.sqrt, 0.2, 4),
  ...unary('abs', np.abs, Math.abs, -2, 2),
  ...unary('sign', np.sign, Math.sign, -2, 2),

  compare('less', np.less, (a, b) => a < b),
  compare('lessEqual', np.lessEqual, (a, b) => a <= b),
  compare('greater', np.greater, (a, b) => a > b),
  compare('greaterEqual', np.greaterEqual, (a, b) => a >= b),
  compare('equal', np.equal, (a, b) => a === b),
  compare('notEqual', np.notEqual, (a, b) => a !== b),
  {
    name: 'less (int32 operands)',
    args: [{ shape: [3, 4], dtype: 'int32', lo: -3, hi: 3 }, { shape: [], dtype: 'int32', lo: -3, hi: 3 }],
    f: np.less,
    ref: (a, b) => zip((u, v) => Number(u < v), a, b),
    dtype: 'bool',
  },

  {
    name: 'where bool [3,4], [3,4], [4]',
    args: [{ shape: [3, 4], dtype: 'bool' }, M, { shape: [4] }],
    f: np.where,
    ref: (c, x, y) => zip((p, a, b) => (p ? a : b), c, x, y),
    inAxes: [0, 1, null],
  },
  {
    name: 'where [4], [3,4], rank-0',
    args: [{ shape: [4], dtype: 'bool' }, M, { shape: [] }],
    f: np.where,
    ref: (c, x, y) => zip((p, a, b) => (p ? a : b), c, x, y),
    inAxes: [null, 0, 0],
  },
  {
    name: 'where with only the condition mapped',
    args: [{ shape: [4], dtype: 'bool' }, { shape: [4] }, { shape: [4] }],
    f: np.where,
    ref: (c, x, y) => zip((p, a, b) => (p ? a : b), c, x, y),
    inAxes: [0, null, null],
  },
  {
    name: 'where on int32 values',
    args: [{ shape: [3, 4], dtype: 'bool' }, { shape: [3, 4], dtype: 'int32', lo: -50, hi: 50 }, { shape: [], dtype: 'int32', lo: -50, hi: 50 }],
    f: np.where,
    ref: (c, x, y) => zip((p, a, b) => (p ? a : b), c, x, y),
    dtype: 'int32',
    inAxes: [1, 0, null],
  },
  {
    name: 'clip(x, -0.5, 0.75)',
    args: [M],
    f: (x) => np.clip(x, -0.5, 0.75),
    ref: (x) => map(x, (v) => Math.min(Math.max(v, -0.5), 0.75)),
  },
  {
    name: 'clip(x, lo array, null)',
    args: [M, { shape: [4] }],
    f: (x, lo) => np.clip(x, lo, null),
    ref: (x, lo) => zip(Math.max, x, lo),
  },
  {
    name: 'astype float32 → int32 (truncation)',
    args: [{ shape: [3, 4], lo: -5, hi: 5 }],
    f: (x) => np.astype(x, 'int32'),
    ref: (x) => map(x, Math.trunc),
    dtype: 'int32',
    inAxes: [1],
  },
  {
    name: 'astype int32 → float32',
    args: [{ shape: [3, 4], dtype: 'int32', lo: -100, hi: 100 }],
    f: (x) => np.astype(x, 'float32'),
    ref: (x) => x,
  },
  {
    name: 'astype float32 → bool',
    args: [{ shape: [3, 4], ints: true, lo: -1, hi: 2 }],
    f: (x) => np.astype(x, 'bool'),
    ref: (x) => map(x, (v) => Number(v !== 0)),
    dtype: 'bool',
  },
  {
    name: 'astype float32 → float32 (identity, differentiable)',
    args: [M],
    f: (x) => np.multiply(np.astype(x, 'float32'), x),
    ref: (x) => map(x, (v) => v * v),
  },
]);
