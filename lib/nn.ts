/** @file nn: activations and normalisers, all compositions of numpy functions (derivatives come free). */

import { NDArray } from './core/array';
import { normalizeAxes } from './core/shape';
import * as lax from './lax';
import * as np from './numpy';
import { asArray } from './numpy/util';

/** One-hot encoding (the implementation lives in numpy). */
export { oneHot } from './numpy/manip';
export { avgPool, conv2d, maxPool } from './conv';
export type { Conv2dOptions, PoolOptions } from './conv';

export interface AxisOptions {
  axis?: number | number[];
}

/** max(x, 0), with gradient 0 at x = 0 (as jax.nn.relu); NaN passes through. */
export function relu(x: unknown): NDArray {
  const a = asArray('relu', 'x', x);
  return np.where(np.lessEqual(a, 0), 0, a);
}

/** 1 / (1 + e^-x), written as 0.5 tanh(x/2) + 0.5 so that neither the value nor its gradient overflows. */
export function sigmoid(x: unknown): NDArray {
  return np.add(np.multiply(np.tanh(np.multiply(x, 0.5)), 0.5), 0.5);
}

/** Max over `axes` with keepdims, treated as a constant (it only shifts for stability). */
function stableShift(a: NDArray, axes: number[]): NDArray {
  const m = lax.stopGradient(np.max(a, { axis: axes, keepdims: true }));
  // An all -inf slice would give NaN after the shift; shift it by 0 instead.
  return np.where(np.equal(np.abs(m), Infinity), 0, m);
}

export function logsumexp(x: unknown, options: AxisOptions & { keepdims?: boolean } = {}): NDArray {
  const a = np.astype(asArray('logsumexp', 'x', x), 'float32');
  const axes = normalizeAxes('logsumexp', options.axis, a.ndim);
  const m = stableShift(a, axes);
  const s = np.log(np.sum(np.exp(np.subtract(a, m)), { axis: axes, keepdims: true }));
  const out = np.add(s, m);
  return options.keepdims ? out : np.squeeze(out, { axis: axes });
}

export function softmax(x: unknown, options: AxisOptions = {}): NDArray {
  const a = np.astype(asArray('softmax', 'x', x), 'float32');
  const axes = normalizeAxes('softmax', options.axis ?? -1, a.ndim);
  // As jax.nn.softmax: shift by the max without the finiteness guard of logsumexp (a row of only
  // -inf gives NaN), so that the whole function is 3 kernels: max, exp + sum, divide.
  const e = np.exp(np.subtract(a, lax.stopGradient(np.max(a, { axis: axes, keepdims: true }))));
  return np.divide(e, np.sum(e, { axis: axes, keepdims: true }));
}

export function logSoftmax(x: unknown, options: AxisOptions = {}): NDArray {
  const a = np.astype(asArray('logSoftmax', 'x', x), 'float32');
  const axes = normalizeAxes('logSoftmax', options.axis ?? -1, a.ndim);
  const shifted = np.subtract(a, stableShift(a, axes));
  return np.subtract(shifted, np.log(np.sum(np.exp(shifted), { axis: axes, keepdims: true })));
}

/** GELU; the tanh approximation by default (as jax.nn.gelu), the exact erf form with `{approximate: false}`. */
export function gelu(x: unknown, options: { approximate?: boolean } = {}): NDArray {
  const a = np.astype(asArray('gelu', 'x', x), 'float32');
  if (options.approximate === false) return np.multiply(np.multiply(a, 0.5), np.add(1, lax.erf(np.multiply(a, Math.SQRT1_2))));
  const inner = np.multiply(Math.sqrt(2 / Math.PI), np.add(a, np.multiply(0.044715, np.multiply(a, np.multiply(a, a)))));
  return np.multiply(np.multiply(a, 0.5), np.add(1, np.tanh(inner)));
}

export function silu(x: unknown): NDArray {
  return np.multiply(x, sigmoid(x));
}

export function softplus(x: unknown): NDArray {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  return np.add(np.maximum(x, 0), np.log1p(np.exp(np.negative(np.abs(x)))));
}
