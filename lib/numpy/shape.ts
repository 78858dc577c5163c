/** @file numpy shape functions: reshape, transpose, broadcastTo, expandDims, squeeze, concatenate, stack. */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { broadcastShapes, checkShape, normalizeAxes, normalizeAxis, shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, castAll, resultType } from './util';

/** `np.reshape(x, shape)`; one dimension may be -1 (inferred). */
export function reshape(x: unknown, shape: number | number[]): NDArray {
  const a = asArray('reshape', 'x', x);
  const list = typeof shape === 'number' ? [shape] : shape;
  if (!globalThis.Array.isArray(list) || list.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < -1)) {
    throw typeError('reshape', 'shape', 'an array of non-negative integers (one may be -1)', shape);
  }
  const unknown = list.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape: argument \`shape\` ${shapeStr(list)} can have at most one -1`);
  let target = [...list];
  if (unknown === 1) {
    const known = sizeOf(list.filter((d) => d !== -1));
    if (known === 0 || a.size % known !== 0) throw new Error(`reshape: cannot reshape an array of shape ${shapeStr(a.aval.shape)} (${a.size} elements) into shape ${shapeStr(list)}`);
    target = list.map((d) => (d === -1 ? a.size / known : d));
  }
  if (sizeOf(target) !== a.size) throw new Error(`reshape: cannot reshape an array of shape ${shapeStr(a.aval.shape)} (${a.size} elements) into shape ${shapeStr(list)}`);
  return lax.reshape(a, target);
}

/** `np.transpose(x, axes?)`; reverses the axes by default. */
export function transpose(x: unknown, axes?: number[]): NDArray {
  const a = asArray('transpose', 'x', x);
  if (axes === undefined) return lax.transpose(a, [...Array(a.ndim).keys()].reverse());
  if (!globalThis.Array.isArray(axes) || axes.length !== a.ndim) throw typeError('transpose', 'axes', `a permutation of ${a.ndim} axes`, axes);
  const perm = axes.map((ax) => normalizeAxis('transpose', ax, a.ndim, 'axes'));
  if (new Set(perm).size !== perm.length) throw new RangeError(`transpose: argument \`axes\` [${axes.join(', ')}] repeats an axis`);
  return lax.transpose(a, perm);
}

export function broadcastTo(x: unknown, shape: number[]): NDArray {
  const a = asArray('broadcastTo', 'x', x);
  const target = checkShape('broadcastTo', 'shape', shape);
  const out = broadcastShapes('broadcastTo', a.aval.shape, target);
  if (out.length !== target.length || out.some((d, i) => d !== target[i])) {
    throw new Error(`broadcastTo: cannot broadcast an array of shape ${shapeStr(a.aval.shape)} to shape ${shapeStr(target)}`);
  }
  const offset = target.length - a.ndim;
  return lax.broadcastInDim(a, target, [...Array(a.ndim).keys()].map((i) => i + offset));
}

export function expandDims(x: unknown, axis: number | number[]): NDArray {
  const a = asArray('expandDims', 'x', x);
  const list = typeof axis === 'number' ? [axis] : axis;
  const outRank = a.ndim + (globalThis.Array.isArray(list) ? list.length : 0);
  const axes = normalizeAxes('expandDims', list, outRank);
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < outRank; i++) shape.push(axes.includes(i) ? 1 : a.aval.shape[j++]);
  return lax.reshape(a, shape);
}

export function squeeze(x: unknown, options: { axis?: number | number[] } = {}): NDArray {
  const a = asArray('squeeze', 'x', x);
  const axes = options.axis === undefined ? a.aval.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes('squeeze', options.axis, a.ndim);
  for (const ax of axes) {
    if (a.aval.shape[ax] !== 1) throw new Error(`squeeze: cannot squeeze axis ${ax} of shape ${shapeStr(a.aval.shape)}: its size is ${a.aval.shape[ax]}, not 1`);
  }
  return lax.reshape(a, a.aval.shape.filter((_, i) => !axes.includes(i)));
}

function operandList(fn: string, xs: unknown): Value[] {
  if (!globalThis.Array.isArray(xs) || xs.length === 0) throw typeError(fn, 'arrays', 'a non-empty JS array of arrays', xs);
  const vals = xs.map((x, i) => asArray(fn, `arrays[${i}]`, x));
  return castAll(vals, resultType(vals).dtype);
}

export function concatenate(xs: unknown[], options: { axis?: number } = {}): NDArray {
  const vals = operandList('concatenate', xs);
  if (vals[0].ndim === 0) throw new Error('concatenate: zero-dimensional arrays cannot be concatenated');
  const axis = normalizeAxis('concatenate', options.axis ?? 0, vals[0].ndim);
  vals.forEach((v, i) => {
    if (v.ndim !== vals[0].ndim || v.aval.shape.some((d, j) => j !== axis && d !== vals[0].aval.shape[j])) {
      throw new Error(`concatenate: all arrays must match except along axis ${axis}; arrays[0] has shape ${shapeStr(vals[0].aval.shape)} and arrays[${i}] has shape ${shapeStr(v.aval.shape)}`);
    }
  });
  return lax.concatenate(vals, axis);
}

export function stack(xs: unknown[], options: { axis?: number } = {}): NDArray {
  const vals = operandList('stack', xs);
  const shape = vals[0].aval.shape;
  vals.forEach((v, i) => {
    if (v.ndim !== shape.length || v.aval.shape.some((d, j) => d !== shape[j])) {
      throw new Error(`stack: all arrays must have the same shape; arrays[0] has shape ${shapeStr(shape)} and arrays[${i}] has shape ${shapeStr(v.aval.shape)}`);
    }
  });
  const axis = normalizeAxis('stack', options.axis ?? 0, shape.length + 1);
  return lax.concatenate(vals.map((v) => expandDims(v, axis)), axis);
}
