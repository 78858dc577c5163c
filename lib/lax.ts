/**
 * @file lax: thin, strict wrappers that bind primitives (no broadcasting or promotion: operands of
 * elementwise ops have equal dtypes and equal shapes, or are rank-0). The numpy layer builds on it.
 */

import { ConcreteArray, fromBuffer, fromScalar } from './core/concrete';
import { NDArray } from './core/array';
import { DType, isInteger } from './core/dtype';
import { describe } from './core/errors';
import { shapeStr } from './core/shape';
import { bind, bind1, Value } from './core/trace';
import { BinaryPrim, ComparePrim, DotDims, Params, UnaryPrim } from './primitives/types';

const unary = (p: UnaryPrim) => (x: Value): Value => bind1(p, [x], {});
const binary = (p: BinaryPrim | ComparePrim) => (x: Value, y: Value): Value => bind1(p, [x, y], {});

export const neg = unary('neg');
export const exp = unary('exp');
export const log = unary('log');
export const log1p = unary('log1p');
export const expm1 = unary('expm1');
export const sin = unary('sin');
export const cos = unary('cos');
export const tanh = unary('tanh');
export const sqrt = unary('sqrt');
export const abs = unary('abs');
export const sign = unary('sign');
export const erf = unary('erf');
export const floor = unary('floor');
export const ceil = unary('ceil');
export const not = unary('not');
export const erfInv = unary('erf_inv');

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const max = binary('max');
export const min = binary('min');
export const and = binary('and');
export const or = binary('or');
export const xor = binary('xor');
/** Shifts of int32/uint32 bits; amounts are read as unsigned, and 32 or more give 0. */
export const shiftLeft = binary('shift_left');
export const shiftRightLogical = binary('shift_right_logical');
/** Shifts in copies of the sign bit (also for uint32); amounts of 32 or more give 0 or -1. */
export const shiftRightArithmetic = binary('shift_right_arithmetic');
export const lt = binary('lt');
export const le = binary('le');
export const gt = binary('gt');
export const ge = binary('ge');
export const eq = binary('eq');
export const ne = binary('ne');

export function select(pred: Value, onTrue: Value, onFalse: Value): Value {
  return bind1('select', [pred, onTrue, onFalse], {});
}

export function convert(x: Value, dtype: DType, weakType = false): Value {
  if (x.dtype === dtype && x.weakType === weakType) return x;
  // Scalar constants are converted here, so no equation is staged for them.
  if (x instanceof ConcreteArray && x.ndim === 0) {
    // Integer to integer wraps, as the native convert does (fromScalar saturates, as from a float).
    const v = Number(x.item());
    const wrapped = !isInteger(x.dtype) ? v : dtype === 'int32' ? v | 0 : dtype === 'uint32' ? v >>> 0 : v;
    return fromScalar(wrapped, dtype, weakType);
  }
  return bind1('convert', [x], { dtype, weakType });
}

/** Reinterprets the bits of a 32-bit array as another 32-bit dtype (`float32`, `int32`, `uint32`). */
export function bitcastConvertType(x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return bind1('bitcast_convert_type', [x], { dtype });
}

export function reduceSum(x: Value, axes: number[]): Value {
  return axes.length === 0 ? x : bind1('reduce_sum', [x], { axes });
}
export function reduceMax(x: Value, axes: number[]): Value {
  return axes.length === 0 ? x : bind1('reduce_max', [x], { axes });
}
export function reduceMin(x: Value, axes: number[]): Value {
  return axes.length === 0 ? x : bind1('reduce_min', [x], { axes });
}
export function reduceProd(x: Value, axes: number[]): Value {
  return axes.length === 0 ? x : bind1('reduce_prod', [x], { axes });
}
export function argmax(x: Value, axis: number): Value {
  return bind1('argmax', [x], { axis });
}
export function argmin(x: Value, axis: number): Value {
  return bind1('argmin', [x], { axis });
}

export function dotGeneral(lhs: Value, rhs: Value, dims: DotDims): Value {
  return bind1('dot_general', [lhs, rhs], dims);
}

export function reshape(x: Value, shape: number[]): Value {
  if (shape.length === x.ndim && shape.every((d, i) => d === x.aval.shape[i])) return x;
  return bind1('reshape', [x], { shape });
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return bind1('transpose', [x], { perm });
}

/** Broadcasts `x` to `shape`; operand axis i becomes output axis `dims[i]`. */
export function broadcastInDim(x: Value, shape: number[], dims: number[]): Value {
  if (shape.length === x.ndim && shape.every((d, i) => d === x.aval.shape[i])) return x;
  return bind1('broadcast_in_dim', [x], { shape, dims });
}

export function concatenate(xs: Value[], axis: number): Value {
  return xs.length === 1 ? xs[0] : bind1('concatenate', xs, { axis });
}

export function slice(x: Value, start: number[], limit: number[], strides?: number[]): Value {
  return bind1('slice', [x], { start, limit, strides: strides ?? start.map(() => 1) });
}

export function pad(x: Value, lo: number[], hi: number[], value = 0, interior?: number[]): Value {
  return bind1('pad', [x], { lo, hi, interior: interior ?? lo.map(() => 0), value });
}

export function stopGradient(x: Value): Value {
  return bind1('stop_gradient', [x], {});
}

/** A rank-0 constant of `like`'s dtype (strong), for use in rules. */
export function scalarLike(value: number, like: Value): Value {
  return fromScalar(value, like.dtype);
}

export function fullLike(like: Value, value: number): Value {
  return broadcastInDim(fromScalar(value, like.dtype, like.weakType), [...like.aval.shape], []);
}

export function zerosLike(like: Value): Value {
  return fullLike(like, 0);
}

/** Moves axis `from` to position `to`. */
export function moveAxis(x: Value, from: number, to: number): Value {
  if (from === to) return x;
  const perm = [...Array(x.ndim).keys()].filter((i) => i !== from);
  perm.splice(to, 0, from);
  return transpose(x, perm);
}

// ---------------------------------------------------------------------------------------------
// Indexing primitives (lib/primitives/gather.ts, sort.ts); the user-facing forms are in
// lib/numpy/indexing.ts and lib/lax-indexing.ts.

/** Reverses the axes `dims`. */
export function rev(x: Value, dims: number[]): Value {
  return dims.length === 0 ? x : bind1('rev', [x], { dims });
}

/** x indexed along `axis` by int32 `indices` (clamped), sharing the first `batchDims` axes. */
export function gather(x: Value, indices: Value, axis: number, batchDims = 0): Value {
  return bind1('gather', [x, indices], { axis, batchDims });
}

/** `x` with `updates` combined into it at `indices` along `axis` (the transpose of gather for op 'add'). */
export function scatter(x: Value, indices: Value, updates: Value, params: Params['scatter']): Value {
  if (params === null || typeof params !== 'object') throw new TypeError(`scatter: argument \`params\` must be an object {axis, batchDims, op, mode}, received ${describe(params)}`);
  return bind1('scatter', [x, indices, updates], params);
}

/** Stable sort along the last axis: [sorted values, int32 source positions]. */
export function sortWithIndices(x: Value, descending = false): [Value, Value] {
  const [v, i] = bind('sort', [x], { descending });
  return [v, i];
}

export function cumulative(p: 'cumsum' | 'cumprod' | 'cummax' | 'cummin', x: Value, axis: number, reverse = false): Value {
  return bind1(p, [x], { axis, reverse });
}

/** [0, 1, ..., n-1] as int32 (a constant). */
export function iota(n: number): Value {
  return fromBuffer([n], 'int32', Int32Array.from({ length: n }, (_, i) => i));
}

// ---------------------------------------------------------------------------------------------
// Public lax forms of sorting, scans and dynamic slices (JAX names). Dynamic slices are gathers
// with traced start indices, clamped as in JAX, so one trace serves every start.

function checkAxisArg(fn: string, axis: unknown, ndim: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new RangeError(`${fn}: argument \`axis\` must be an integer in [${-ndim}, ${ndim}), received ${String(axis)}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

function checkOperand(fn: string, arg: string, x: unknown): Value {
  if (!(x instanceof NDArray)) throw new TypeError(`${fn}: argument \`${arg}\` must be an array, received ${describe(x)}`);
  return x;
}

/** `lax.sort(x, {dimension, descending})`: a stable sort along one axis (NaN last; first when descending). */
export function sort(x: Value, options: { dimension?: number; descending?: boolean } = {}): Value {
  checkOperand('sort', 'x', x);
  if (x.ndim === 0) throw new Error('sort: argument `x` must have at least one dimension, received a rank-0 array');
  const axis = checkAxisArg('sort', options.dimension ?? -1, x.ndim);
  const last = x.ndim - 1;
  return moveAxis(sortWithIndices(moveAxis(x, axis, last), options.descending ?? false)[0], last, axis);
}

/** `lax.topK(x, k)`: the k largest entries along the last axis and their int32 indices (ties: lower index first; NaN counts as largest). */
export function topK(x: Value, k: number): [Value, Value] {
  checkOperand('topK', 'x', x);
  if (x.ndim === 0) throw new Error('topK: argument `x` must have at least one dimension, received a rank-0 array');
  const n = x.aval.shape[x.ndim - 1];
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`topK: argument \`k\` must be an integer in [0, ${n}] (the size of the last axis), received ${describe(k)}`);
  const [v, i] = sortWithIndices(x, true);
  const start = x.aval.shape.map(() => 0);
  const limit = x.aval.shape.map((d, a) => (a === x.ndim - 1 ? k : d));
  return [slice(v, start, limit), slice(i, start, limit)];
}

function cumulativeOp(p: 'cumsum' | 'cumprod' | 'cummax' | 'cummin') {
  return (x: Value, options: { axis?: number; reverse?: boolean } = {}): Value => {
    checkOperand(p, 'x', x);
    if (x.ndim === 0) throw new Error(`${p}: argument \`x\` must have at least one dimension, received a rank-0 array`);
    return cumulative(p, x, checkAxisArg(p, options.axis ?? 0, x.ndim), options.reverse ?? false);
  };
}
export const cumsum = cumulativeOp('cumsum');
export const cumprod = cumulativeOp('cumprod');
export const cummax = cumulativeOp('cummax');
export const cummin = cumulativeOp('cummin');

/** A start index as an int32 scalar clamped to [0, hi]. */
function clampedStart(fn: string, start: unknown, i: number, hi: number): Value {
  let s: Value;
  if (typeof start === 'number') {
    if (!Number.isInteger(start)) throw new TypeError(`${fn}: argument \`startIndices[${i}]\` must be an integer, received ${describe(start)}`);
    s = fromScalar(Math.max(-2147483648, Math.min(start, 2147483647)), 'int32');
  } else if (start instanceof NDArray && start.ndim === 0 && (start.dtype === 'int32' || start.dtype === 'uint32')) {
    s = convert(start, 'int32');
  } else {
    throw new TypeError(`${fn}: argument \`startIndices[${i}]\` must be an integer or a rank-0 int32 array, received ${describe(start)}`);
  }
  return min(max(s, fromScalar(0, 'int32')), fromScalar(hi, 'int32'));
}

function checkStarts(fn: string, startIndices: unknown, ndim: number): unknown[] {
  if (!Array.isArray(startIndices) || startIndices.length !== ndim) throw new TypeError(`${fn}: argument \`startIndices\` must be a JS array of ${ndim} start indices (one per axis), received ${describe(startIndices)}`);
  return startIndices;
}

/** `lax.dynamicSlice(x, startIndices, sliceSizes)`: starts may be traced; each is clamped so the slice fits. */
export function dynamicSlice(x: Value, startIndices: (number | Value)[], sliceSizes: number[]): Value {
  checkOperand('dynamicSlice', 'x', x);
  const starts = checkStarts('dynamicSlice', startIndices, x.ndim);
  const shape = x.aval.shape;
  if (!Array.isArray(sliceSizes) || sliceSizes.length !== x.ndim || sliceSizes.some((s, a) => !Number.isInteger(s) || s < 0 || s > shape[a])) {
    throw new RangeError(`dynamicSlice: argument \`sliceSizes\` must hold ${x.ndim} integers with 0 <= size <= the axis size (${shapeStr(shape)}), received ${describe(sliceSizes)}`);
  }
  let y = x;
  sliceSizes.forEach((size, a) => {
    const s = clampedStart('dynamicSlice', starts[a], a, shape[a] - size);
    if (size === shape[a]) return;
    y = gather(y, add(iota(size), broadcastInDim(s, [size], [])), a);
  });
  return y;
}

/** `lax.dynamicUpdateSlice(x, update, startIndices)`: x with `update` written at clamped (possibly traced) starts. */
export function dynamicUpdateSlice(x: Value, update: Value, startIndices: (number | Value)[]): Value {
  checkOperand('dynamicUpdateSlice', 'x', x);
  checkOperand('dynamicUpdateSlice', 'update', update);
  const starts = checkStarts('dynamicUpdateSlice', startIndices, x.ndim);
  const shape = x.aval.shape;
  const us = update.aval.shape;
  if (update.ndim !== x.ndim || us.some((d, a) => d > shape[a])) throw new Error(`dynamicUpdateSlice: argument \`update\` of shape ${shapeStr(us)} must have the rank of \`x\` ${shapeStr(shape)} and fit inside it`);
  if (update.dtype !== x.dtype) throw new TypeError(`dynamicUpdateSlice: argument \`update\` must have dtype ${x.dtype} like \`x\`, received ${update.dtype}`);
  const clamped = us.map((u, a) => clampedStart('dynamicUpdateSlice', starts[a], a, shape[a] - u));
  if (update.size === 0) return x;
  // Gather the update onto x's index space; a mask says which elements of x it covers.
  let g = update;
  let mask: Value | null = null;
  us.forEach((u, a) => {
    if (u === shape[a]) return;
    const pos = sub(iota(shape[a]), broadcastInDim(clamped[a], [shape[a]], []));
    g = gather(g, pos, a);
    const inside = and(ge(pos, fromScalar(0, 'int32')), lt(pos, fromScalar(u, 'int32')));
    const m = broadcastInDim(inside, [...shape], [a]);
    mask = mask === null ? m : and(mask, m);
  });
  return mask === null ? g : select(mask, g, x);
}

export { conv, convGeneralDilated } from './conv';
export type { ConvOptions, Padding } from './conv';

export { cond, foriLoop, scan, switch, whileLoop } from './control';
export type { ScanOptions } from './control';
