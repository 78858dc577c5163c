/** @file `numpy.linalg`: norm (vector orders and the matrix orders that need no SVD). */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { normalizeAxis } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray } from './util';

export type NormOrder = number | 'fro';

export interface NormOptions {
  /** Vector: any number (2 by default, Infinity, -Infinity, 0 counts non-zeros); matrix: 'fro' (default), 1, -1, Infinity, -Infinity. */
  ord?: NormOrder | null;
  /** One axis (vector norm) or two (matrix norm); default: the whole array as a vector, or as a matrix when it is 2-D. */
  axis?: number | [number, number] | null;
  keepdims?: boolean;
}

const f32 = (v: Value): Value => (v.dtype === 'float32' ? v : lax.convert(v, 'float32'));

function vectorNorm(x: Value, axis: number, ord: number): Value {
  const a = lax.abs(x);
  if (ord === Infinity) return lax.reduceMax(a, [axis]);
  if (ord === -Infinity) return lax.reduceMin(a, [axis]);
  if (ord === 0) return lax.reduceSum(lax.convert(lax.ne(x, lax.scalarLike(0, x)), 'float32'), [axis]);
  if (ord === 1) return lax.reduceSum(a, [axis]);
  if (ord === 2) return lax.sqrt(lax.reduceSum(lax.mul(x, x), [axis]));
  return lax.pow(lax.reduceSum(lax.pow(a, lax.scalarLike(ord, a)), [axis]), lax.scalarLike(1 / ord, a));
}

function matrixNorm(x: Value, [r, c]: [number, number], ord: NormOrder): Value {
  if (ord === 'fro') return lax.sqrt(lax.reduceSum(lax.mul(x, x), [r, c].sort((p, q) => p - q)));
  const a = lax.abs(x);
  // 1 / -1: the largest / smallest column sum; Infinity / -Infinity: the same over rows.
  const [sumAxis, pickAxis] = ord === 1 || ord === -1 ? [r, c] : [c, r];
  const sums = lax.reduceSum(a, [sumAxis]);
  const pick = pickAxis > sumAxis ? pickAxis - 1 : pickAxis;
  return ord > 0 ? lax.reduceMax(sums, [pick]) : lax.reduceMin(sums, [pick]);
}

/** `np.linalg.norm(x, {ord, axis, keepdims})`, computed in float32. */
export function norm(x: unknown, options: NormOptions = {}): NDArray {
  if (options === null || typeof options !== 'object') throw typeError('norm', 'options', 'an options object such as {ord, axis}', options);
  const a = f32(asArray('norm', 'x', x));
  const ord = options.ord ?? null;
  let axes: number[];
  if (options.axis === undefined || options.axis === null) {
    if (ord !== null && a.ndim !== 1 && a.ndim !== 2) throw new Error(`norm: an \`ord\` needs a 1-D or 2-D array or an explicit \`axis\`, received rank ${a.ndim}`);
    axes = a.ndim === 2 ? [0, 1] : [...Array(a.ndim).keys()];
    if (a.ndim !== 2 && a.ndim !== 1) {
      const flat = lax.reshape(a, [a.size]);
      const r = vectorNorm(flat, 0, 2);
      return options.keepdims ? lax.reshape(r, a.aval.shape.map(() => 1)) : r;
    }
  } else {
    const list = typeof options.axis === 'number' ? [options.axis] : options.axis;
    if (!Array.isArray(list) || list.length < 1 || list.length > 2) throw typeError('norm', 'axis', 'an axis or a pair of axes', options.axis);
    axes = list.map((ax) => normalizeAxis('norm', ax, a.ndim));
    if (axes.length === 2 && axes[0] === axes[1]) throw new RangeError(`norm: argument \`axis\` repeats axis ${axes[0]}`);
  }
  let r: Value;
  if (axes.length === 1) {
    if (ord !== null && typeof ord !== 'number') throw typeError('norm', 'ord', 'a number for a vector norm', ord);
    r = vectorNorm(a, axes[0], ord ?? 2);
  } else {
    const o = ord ?? 'fro';
    if (o === 2 || o === -2 || (o as unknown) === 'nuc') throw new Error(`norm: matrix norm ord=${String(o)} needs singular values, which are not supported yet`);
    if (o !== 'fro' && o !== 1 && o !== -1 && o !== Infinity && o !== -Infinity) throw typeError('norm', 'ord', "'fro', 1, -1, Infinity or -Infinity for a matrix norm", o);
    r = matrixNorm(a, axes as [number, number], o);
  }
  if (!options.keepdims) return r;
  return lax.reshape(r, a.aval.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}
