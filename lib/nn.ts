/** @file nn: activations and normalisers, all compositions of numpy functions (derivatives come free). */

import { NDArray } from './core/array';
import { DType } from './core/dtype';
import { typeError } from './core/errors';
import { booleanOption, checkOptions, numberOption } from './core/options';
import { normalizeAxes, normalizeAxis } from './core/shape';
import * as lax from './lax';
import * as np from './numpy';
import { asArray, checkDType } from './numpy/util';

export * as initializers from './initializers';

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
  const a = asArray('sigmoid', 'x', x);
  return np.add(np.multiply(np.tanh(np.multiply(a, 0.5)), 0.5), 0.5);
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
export function gelu(x: unknown, options?: { approximate?: boolean }): NDArray {
  const approximate = booleanOption('gelu', 'approximate', checkOptions('gelu', options, '{approximate}').approximate, true);
  const a = np.astype(asArray('gelu', 'x', x), 'float32');
  if (!approximate) return np.multiply(np.multiply(a, 0.5), np.add(1, lax.erf(np.multiply(a, Math.SQRT1_2))));
  const inner = np.multiply(Math.sqrt(2 / Math.PI), np.add(a, np.multiply(0.044715, np.multiply(a, np.multiply(a, a)))));
  return np.multiply(np.multiply(a, 0.5), np.add(1, np.tanh(inner)));
}

export function silu(x: unknown): NDArray {
  const a = asArray('silu', 'x', x);
  return np.multiply(a, sigmoid(a));
}

export function softplus(x: unknown): NDArray {
  const a = asArray('softplus', 'x', x);
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), with -|x| written as a select so that the gradient at 0
  // is sigmoid(0) = 1/2 (max and abs would each pick a side of the kink).
  const positive = np.greater(a, 0);
  const r = np.log1p(np.exp(np.where(positive, np.negative(a), a)));
  return np.where(positive, np.add(a, r), r);
}

export function tanh(x: unknown): NDArray {
  return np.tanh(asArray('tanh', 'x', x));
}

/** x for x > 0, alpha (e^x - 1) otherwise; the gradient at 0 is alpha (as jax.nn.elu). */
export function elu(x: unknown, options?: { alpha?: number }): NDArray {
  const alpha = numberOption('elu', 'alpha', checkOptions('elu', options, '{alpha}').alpha, 1);
  const a = np.astype(asArray('elu', 'x', x), 'float32');
  const positive = np.greater(a, 0);
  // expm1 of the clamped input, so that the unused branch cannot overflow (and poison the gradient).
  return np.where(positive, a, np.multiply(alpha, np.expm1(np.where(positive, 0, a))));
}

/** x for x >= 0, negativeSlope · x otherwise (default slope 0.01; the gradient at 0 is 1, as jax.nn.leaky_relu). */
export function leakyRelu(x: unknown, options?: { negativeSlope?: number }): NDArray {
  const slope = numberOption('leakyRelu', 'negativeSlope', checkOptions('leakyRelu', options, '{negativeSlope}').negativeSlope, 0.01);
  const a = np.astype(asArray('leakyRelu', 'x', x), 'float32');
  return np.where(np.greaterEqual(a, 0), a, np.multiply(a, slope));
}

export interface StandardizeOptions extends AxisOptions {
  /** Precomputed mean (broadcastable against x); computed over `axis` when absent. */
  mean?: unknown;
  /** Precomputed variance (broadcastable against x); computed over `axis` when absent. */
  variance?: unknown;
  epsilon?: number;
}

/**
 * (x - mean) / sqrt(variance + epsilon) over `axis` (default -1), as jax.nn.standardize, whose
 * variance is mean(x^2) - mean^2. When the mean is computed here too, the same value is taken as
 * mean((x - mean)^2), which cannot go negative through cancellation.
 */
export function standardize(x: unknown, options?: StandardizeOptions): NDArray {
  const o = checkOptions('standardize', options, '{axis, mean, variance, epsilon}');
  const a = np.astype(asArray('standardize', 'x', x), 'float32');
  const axes = normalizeAxes('standardize', o.axis ?? -1, a.ndim);
  const epsilon = numberOption('standardize', 'epsilon', o.epsilon, 1e-5);
  const mean = o.mean === undefined ? np.mean(a, { axis: axes, keepdims: true }) : asArray('standardize', 'mean', o.mean);
  const centered = np.subtract(a, mean);
  const meanSquare = (v: NDArray) => np.mean(np.square(v), { axis: axes, keepdims: true });
  let variance: NDArray;
  if (o.variance !== undefined) variance = asArray('standardize', 'variance', o.variance);
  else if (o.mean === undefined) variance = meanSquare(centered);
  else variance = np.subtract(meanSquare(a), np.square(mean));
  return np.divide(centered, np.sqrt(np.add(variance, epsilon)));
}
