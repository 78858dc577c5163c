/** @file Operand handling for the numpy layer: conversion of JS values, dtype promotion, broadcasting. */

import { NDArray } from '../core/array';
import { fromScalar } from '../core/concrete';
import { DType, isFloat, isDType, promoteTypes } from '../core/dtype';
import { typeError } from '../core/errors';
import { broadcastShapes, shapesEqual } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { arrayFromData } from './data';

/** Anything the numpy functions accept as an array. */
export type ArrayLike = NDArray | number | boolean | ArrayLikeNested[] | Float32Array | Int32Array | Uint32Array | Uint8Array;
type ArrayLikeNested = number | boolean | ArrayLikeNested[];

/**
 * Converts an operand; JS numbers are weakly typed (integers as int32, others as float32), as in JAX.
 * -0 is a float (it has no int32 form), so that `divide(x, -0)` is -inf.
 */
export function asArray(fn: string, arg: string, x: unknown): Value {
  if (x instanceof NDArray) return x;
  if (typeof x === 'number') return fromScalar(x, Number.isInteger(x) && !Object.is(x, -0) ? 'int32' : 'float32', true);
  if (typeof x === 'boolean') return fromScalar(x ? 1 : 0, 'bool', true);
  if (globalThis.Array.isArray(x) || ArrayBuffer.isView(x)) return arrayFromData(fn, x);
  throw typeError(fn, arg, 'an array, a number, or nested JS arrays of numbers', x);
}

export function checkDType(fn: string, dtype: unknown): DType {
  if (!isDType(dtype)) throw typeError(fn, 'dtype', "one of 'float32', 'int32', 'uint32', 'bool'", dtype);
  return dtype;
}

/** The promoted dtype and weakness of several values (JAX's lattice). */
export function resultType(xs: Value[]): { dtype: DType; weak: boolean } {
  let acc = { dtype: xs[0].dtype, weak: xs[0].weakType };
  for (const x of xs.slice(1)) acc = promoteTypes(acc.dtype, acc.weak, x.dtype, x.weakType);
  return acc;
}

/** Converts each value to `dtype`, keeping each one's weakness. */
export function castAll(xs: Value[], dtype: DType): Value[] {
  return xs.map((x) => lax.convert(x, dtype, x.weakType));
}

/** Broadcasts values to a common shape; rank-0 values stay scalars (the primitives broadcast them). */
export function broadcastAll(fn: string, xs: Value[]): Value[] {
  const shape = broadcastShapes(fn, ...xs.map((x) => x.aval.shape));
  return xs.map((x) => {
    if (x.ndim === 0 || shapesEqual(x.aval.shape, shape)) return x;
    const offset = shape.length - x.ndim;
    return lax.broadcastInDim(x, shape, [...Array(x.ndim).keys()].map((i) => i + offset));
  });
}

/** Two arrays of one strong dtype and one shape. */
function sameTypeAndShape(a: unknown, b: unknown): boolean {
  if (!(a instanceof NDArray) || !(b instanceof NDArray)) return false;
  const x = a.aval;
  const y = b.aval;
  return x === y || (x.dtype === y.dtype && !x.weakType && !y.weakType && shapesEqual(x.shape, y.shape));
}

/** Promotes and broadcasts the operands of a numpy-style elementwise function. */
export function prepare(fn: string, args: unknown[], names: string[], minDType?: 'float'): Value[] {
  if (args.length === 2 && sameTypeAndShape(args[0], args[1]) && (minDType !== 'float' || isFloat((args[0] as Value).dtype))) {
    return args as Value[]; // the common case: nothing to convert, promote or broadcast
  }
  let xs = args.map((a, i) => asArray(fn, names[i], a));
  let { dtype } = resultType(xs);
  if (minDType === 'float' && !isFloat(dtype)) dtype = 'float32';
  xs = castAll(xs, dtype);
  return broadcastAll(fn, xs);
}
