/** @file numpy reductions: sum, mean, max, min, prod, argmax, argmin, var, std (over `axis`, default all). */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { normalizeAxes, normalizeAxis, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray } from './util';

export interface ReduceOptions {
  axis?: number | number[] | null;
  keepdims?: boolean;
}

function checkOptions(fn: string, options: unknown): ReduceOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || globalThis.Array.isArray(options)) throw typeError(fn, 'options', 'an options object such as {axis, keepdims}', options);
  return options as ReduceOptions;
}

/** Reinserts reduced axes as size-1 dimensions. */
function keep(r: Value, x: Value, axes: number[], keepdims: boolean | undefined): Value {
  if (!keepdims) return r;
  return lax.reshape(r, x.aval.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

function reduction(fn: string, op: (x: Value, axes: number[]) => Value, prepareInput: (x: Value) => Value = (x) => x) {
  return (x: unknown, options?: ReduceOptions): NDArray => {
    const o = checkOptions(fn, options);
    const a = prepareInput(asArray(fn, 'x', x));
    const axes = normalizeAxes(fn, o.axis, a.ndim);
    return keep(op(a, axes), a, axes, o.keepdims);
  };
}

/** Integer and bool sums accumulate in int32 (uint32 stays uint32), as JAX does. */
const sumInput = (x: Value): Value => (x.dtype === 'bool' ? lax.convert(x, 'int32') : x);

export const sum = reduction('sum', lax.reduceSum, sumInput);
export const prod = reduction('prod', lax.reduceProd, sumInput);
export const max = reduction('max', (x, axes) => {
  if (axes.some((a) => x.aval.shape[a] === 0)) throw new Error(`max: cannot reduce over an empty axis (shape [${x.aval.shape.join(', ')}]); it has no identity`);
  return lax.reduceMax(x, axes);
});
export const min = reduction('min', (x, axes) => {
  if (axes.some((a) => x.aval.shape[a] === 0)) throw new Error(`min: cannot reduce over an empty axis (shape [${x.aval.shape.join(', ')}]); it has no identity`);
  return lax.reduceMin(x, axes);
});

const toFloat = (x: Value): Value => (x.dtype === 'float32' ? x : lax.convert(x, 'float32'));

export const mean = reduction('mean', (x, axes) => {
  const n = sizeOf(axes.map((a) => x.aval.shape[a]));
  return lax.div(lax.reduceSum(x, axes), lax.scalarLike(n, x));
}, toFloat);

export interface VarOptions extends ReduceOptions {
  ddof?: number;
}

function variance(fn: string, x: unknown, options?: VarOptions): Value {
  const o = checkOptions(fn, options) as VarOptions;
  const a = toFloat(asArray(fn, 'x', x));
  const axes = normalizeAxes(fn, o.axis, a.ndim);
  const n = sizeOf(axes.map((i) => a.aval.shape[i]));
  const mu = lax.div(lax.reduceSum(a, axes), lax.scalarLike(n, a));
  const centered = lax.sub(a, lax.broadcastInDim(mu, [...a.aval.shape], [...Array(a.ndim).keys()].filter((i) => !axes.includes(i))));
  const ss = lax.reduceSum(lax.mul(centered, centered), axes);
  return keep(lax.div(ss, lax.scalarLike(n - (o.ddof ?? 0), a)), a, axes, o.keepdims);
}

/** `np.var(x, {axis, ddof, keepdims})`. */
export function var_(x: unknown, options?: VarOptions): NDArray {
  return variance('var', x, options);
}
export function std(x: unknown, options?: VarOptions): NDArray {
  return lax.sqrt(variance('std', x, options));
}

export interface ArgOptions {
  axis?: number | null;
  keepdims?: boolean;
}

function argReduction(fn: string, op: (x: Value, axis: number) => Value) {
  return (x: unknown, options?: ArgOptions): NDArray => {
    const o = checkOptions(fn, options) as ArgOptions;
    let a = asArray(fn, 'x', x);
    if (o.axis === undefined || o.axis === null) {
      const r = op(lax.reshape(a, [a.size]), 0);
      return o.keepdims ? lax.reshape(r, a.aval.shape.map(() => 1)) : r;
    }
    const axis = normalizeAxis(fn, o.axis, a.ndim);
    if (a.dtype === 'bool') a = lax.convert(a, 'int32');
    return keep(op(a, axis), a, [axis], o.keepdims);
  };
}

export const argmax = argReduction('argmax', lax.argmax);
export const argmin = argReduction('argmin', lax.argmin);
