/**
 * @file lax: thin, strict wrappers that bind primitives (no broadcasting or promotion: operands of
 * elementwise ops have equal dtypes and equal shapes, or are rank-0). The numpy layer builds on it.
 */

import { ConcreteArray, fromScalar } from './core/concrete';
import { DType } from './core/dtype';
import { bind1, Value } from './core/trace';
import { BinaryPrim, ComparePrim, DotDims, UnaryPrim } from './primitives/types';

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

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const max = binary('max');
export const min = binary('min');
export const and = binary('and');
export const or = binary('or');
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
  if (x instanceof ConcreteArray && x.ndim === 0) return fromScalar(Number(x.item()), dtype, weakType);
  return bind1('convert', [x], { dtype, weakType });
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

export { cond, foriLoop, scan, switch, whileLoop } from './control';
export type { ScanOptions } from './control';
