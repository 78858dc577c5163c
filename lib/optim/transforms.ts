/**
 * @file optim's gradient transformations, each as optax's: scaling (by a number, a schedule or the
 * learning rate), momentum (`trace`), Adam and RMS moments, weight decay, masking and clipping.
 * Optimizers (optimizers.ts) are chains of these.
 */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { booleanOption, checkOptions, numberOption } from '../core/options';
import { flatten, unflatten } from '../core/tree';
import * as np from '../numpy';
import { asArray } from '../numpy/util';
import { checkTransformation, globalNorm, GradientTransformation, increment, leavesLike, mapTrees, OptState, requireParams, transformation, zeroCount } from './base';
import { checkScalarOrSchedule, ScalarOrSchedule, Schedule } from './schedules';

const unit = (v: number) => v >= 0 && v < 1;
const nonNegative = (v: number) => v >= 0;
const zerosTree = (fn: string, params: unknown) => mapTrees(fn, ['params'], (p) => np.zerosLike(p), params);

/** Multiplies the updates by `step`. */
export function scale(step: number): GradientTransformation {
  const fn = 'optim.scale';
  const s = numberOption(fn, 'step', step, undefined);
  return transformation(fn, [], () => ({}), (updates) => [mapTrees(`${fn}.update`, ['updates'], (u) => np.multiply(u, s), updates), {}]);
}

/** Multiplies the updates by `schedule(count)`; the first update uses schedule(0). */
export function scaleBySchedule(schedule: Schedule): GradientTransformation {
  return scheduled('optim.scaleBySchedule', schedule);
}

function scheduled(fn: string, schedule: Schedule): GradientTransformation {
  if (typeof schedule !== 'function') throw typeError(fn, 'schedule', 'a function of the step count', schedule);
  return transformation(fn, ['count'], () => ({ count: zeroCount() }), (updates, state) => {
    const step = asArray(`${fn}.update`, 'schedule result', schedule(state.count as NDArray));
    const out = mapTrees(`${fn}.update`, ['updates'], (u) => np.multiply(u, step), updates);
    return [out, { count: increment(state.count) }];
  });
}

/** Scales by -learningRate (a number or a schedule): the descent direction, as optax.scale_by_learning_rate. */
/** (`fn`, here and below, is the name used in error messages.) */
export function scaleByLearningRate(learningRate: ScalarOrSchedule, fn = 'optim.scaleByLearningRate'): GradientTransformation {
  const lr = checkScalarOrSchedule(fn, 'learningRate', learningRate);
  if (typeof lr === 'number') return scale(-lr);
  return scheduled(fn, (count) => np.negative(asArray(fn, 'learningRate schedule result', lr(count))));
}

export interface TraceOptions {
  /** The momentum coefficient. */
  decay: number;
  nesterov?: boolean;
}

/** Momentum: trace = g + decay · trace; the update is the trace (or g + decay · trace' with nesterov). */
export function trace(options: TraceOptions, fn = 'optim.trace'): GradientTransformation {
  const o = checkOptions(fn, options, '{decay, nesterov}');
  const decay = numberOption(fn, 'decay', o.decay, undefined);
  const nesterov = booleanOption(fn, 'nesterov', o.nesterov, false);
  return transformation(fn, ['trace'], (params) => ({ trace: zerosTree(fn, params) }), (updates, state) => {
    const f = (g: NDArray, t: NDArray) => np.add(g, np.multiply(t, decay));
    const next = mapTrees(`${fn}.update`, ['state.trace', 'updates'], (t, g) => f(g, t), state.trace, updates);
    const out = nesterov ? mapTrees(`${fn}.update`, ['updates', 'state.trace'], f, updates, next) : next;
    return [out, { trace: next }];
  });
}

export interface ScaleByAdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Added inside the square root (default 0). */
  epsRoot?: number;
}

/** Adam's direction: m̂ / (sqrt(v̂ + epsRoot) + eps), with bias-corrected moments m̂ = m / (1 - b1^t), v̂ = v / (1 - b2^t). */
export function scaleByAdam(options: ScaleByAdamOptions = {}, fn = 'optim.scaleByAdam'): GradientTransformation {
  const o = checkOptions(fn, options, '{b1, b2, eps, epsRoot}');
  const b1 = numberOption(fn, 'b1', o.b1, 0.9, 'a number in [0, 1)', unit);
  const b2 = numberOption(fn, 'b2', o.b2, 0.999, 'a number in [0, 1)', unit);
  const eps = numberOption(fn, 'eps', o.eps, 1e-8, 'a non-negative number', nonNegative);
  const epsRoot = numberOption(fn, 'epsRoot', o.epsRoot, 0, 'a non-negative number', nonNegative);
  const init = (params: unknown) => ({ count: zeroCount(), mu: zerosTree(fn, params), nu: zerosTree(fn, params) });
  return transformation(fn, ['count', 'mu', 'nu'], init, (updates, state) => {
    const up = `${fn}.update`;
    const mu = mapTrees(up, ['state.mu', 'updates'], (m, g) => ema(m, g, b1), state.mu, updates);
    const nu = mapTrees(up, ['state.nu', 'updates'], (v, g) => ema(v, np.square(g), b2), state.nu, updates);
    const count = increment(state.count);
    const c1 = np.subtract(1, np.power(b1, count));
    const c2 = np.subtract(1, np.power(b2, count));
    const out = mapTrees(up, ['updates', 'mu', 'nu'], (_g, m, v) => np.divide(np.divide(m, c1), np.add(np.sqrt(np.add(np.divide(v, c2), epsRoot)), eps)), updates, mu, nu);
    return [out, { count, mu, nu }];
  });
}

/** decay · avg + (1 - decay) · x: an exponential moving average step. */
const ema = (avg: NDArray, x: NDArray, decay: number): NDArray => np.add(np.multiply(avg, decay), np.multiply(x, 1 - decay));

export interface ScaleByRmsOptions {
  decay?: number;
  eps?: number;
  /** The initial value of the mean square (default 0). */
  initialScale?: number;
}

/** g / sqrt(ν + eps), with ν an exponential moving average of g² (RMSProp's direction). */
export function scaleByRms(options: ScaleByRmsOptions = {}, fn = 'optim.scaleByRms'): GradientTransformation {
  const o = checkOptions(fn, options, '{decay, eps, initialScale}');
  const decay = numberOption(fn, 'decay', o.decay, 0.9, 'a number in [0, 1)', unit);
  const eps = numberOption(fn, 'eps', o.eps, 1e-8, 'a non-negative number', nonNegative);
  const initial = numberOption(fn, 'initialScale', o.initialScale, 0, 'a non-negative number', nonNegative);
  const init = (params: unknown) => ({ nu: mapTrees(fn, ['params'], (p) => np.full(p.shape, initial, { dtype: p.dtype }), params) });
  return transformation(fn, ['nu'], init, (updates, state) => {
    const up = `${fn}.update`;
    const nu = mapTrees(up, ['state.nu', 'updates'], (v, g) => ema(v, np.square(g), decay), state.nu, updates);
    const out = mapTrees(up, ['updates', 'nu'], (g, v) => np.divide(g, np.sqrt(np.add(v, eps))), updates, nu);
    return [out, { nu }];
  });
}

/** g / sqrt(ν - μ² + eps), with μ and ν moving averages of g and g² (centred RMSProp's direction). */
export function scaleByStddev(options: ScaleByRmsOptions = {}, fn = 'optim.scaleByStddev'): GradientTransformation {
  const o = checkOptions(fn, options, '{decay, eps, initialScale}');
  const decay = numberOption(fn, 'decay', o.decay, 0.9, 'a number in [0, 1)', unit);
  const eps = numberOption(fn, 'eps', o.eps, 1e-8, 'a non-negative number', nonNegative);
  const initial = numberOption(fn, 'initialScale', o.initialScale, 0, 'a non-negative number', nonNegative);
  const init = (params: unknown) => ({ mu: zerosTree(fn, params), nu: mapTrees(fn, ['params'], (p) => np.full(p.shape, initial, { dtype: p.dtype }), params) });
  return transformation(fn, ['mu', 'nu'], init, (updates, state) => {
    const up = `${fn}.update`;
    const mu = mapTrees(up, ['state.mu', 'updates'], (m, g) => ema(m, g, decay), state.mu, updates);
    const nu = mapTrees(up, ['state.nu', 'updates'], (v, g) => ema(v, np.square(g), decay), state.nu, updates);
    const out = mapTrees(up, ['updates', 'mu', 'nu'], (g, m, v) => np.divide(g, np.sqrt(np.add(np.subtract(v, np.square(m)), eps))), updates, mu, nu);
    return [out, { mu, nu }];
  });
}

/** A tree of booleans shaped like the params, or a function from the params (or updates) to one. */
export type Mask = unknown | ((tree: unknown) => unknown);

/**
 * Applies `inner` only to the leaves where `mask` is true; the other updates pass through unchanged.
 * The inner state covers the masked leaves only (as optax.masked).
 */
export function masked(inner: GradientTransformation, mask: Mask, fn = 'optim.masked'): GradientTransformation {
  checkTransformation(fn, 'inner', inner);
  /** The indices of the masked leaves of `tree`, checking the mask's structure against it. */
  const selected = (where: string, tree: unknown, arg: string): number[] => {
    const m = typeof mask === 'function' ? (mask as (t: unknown) => unknown)(tree) : mask;
    const [, def] = flatten(tree, where, arg);
    const [flags, mdef] = flatten(m, where, 'mask');
    if (!mdef.equals(def) || flags.some((f) => typeof f !== 'boolean')) {
      throw typeError(where, 'mask', `a tree of booleans with the structure of the ${arg}, ${def}`, m);
    }
    return flags.flatMap((f, i) => (f ? [i] : []));
  };
  const init = (params: unknown) => {
    const [leaves] = flatten(params, fn, 'params');
    return { inner: inner.init(selected(fn, params, 'params').map((i) => leaves[i])) };
  };
  return transformation(fn, ['inner'], init, (updates, state, params) => {
    const up = `${fn}.update`;
    const [leaves, def] = flatten(updates, up, 'updates');
    const idx = selected(up, updates, 'updates');
    const paramLeaves = params === undefined ? undefined : leavesLike(up, 'params', params, def, '`updates`');
    const [innerUpdates, innerState] = inner.update(idx.map((i) => leaves[i]), state.inner as OptState, paramLeaves && idx.map((i) => paramLeaves[i]));
    const out = [...leaves];
    idx.forEach((i, j) => (out[i] = (innerUpdates as NDArray[])[j]));
    return [unflatten(def, out), { inner: innerState }];
  });
}

export interface AddDecayedWeightsOptions {
  weightDecay?: number;
  /** Which params are decayed (a tree of booleans like the params, or a function of the params); all by default. */
  mask?: Mask;
}

/** updates + weightDecay · params (decoupled weight decay, as in AdamW). */
export function addDecayedWeights(options: AddDecayedWeightsOptions = {}, fn = 'optim.addDecayedWeights'): GradientTransformation {
  const o = checkOptions(fn, options, '{weightDecay, mask}');
  const wd = numberOption(fn, 'weightDecay', o.weightDecay, 0);
  const decayAll = transformation(fn, [], () => ({}), (updates, _state, params) => {
    const up = `${fn}.update`;
    const p = requireParams(fn, params, 'weight decay reads them');
    return [mapTrees(up, ['updates', 'params'], (u, w) => np.add(u, np.multiply(w, wd)), updates, p), {}];
  });
  return o.mask === undefined ? decayAll : masked(decayAll, o.mask, fn);
}

/** Rescales all updates together so that their global L2 norm is at most maxNorm. */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  const fn = 'optim.clipByGlobalNorm';
  const max = numberOption(fn, 'maxNorm', maxNorm, undefined, 'a positive number', (v) => v > 0);
  return transformation(fn, [], () => ({}), (updates) => {
    const norm = globalNorm(updates);
    const small = np.less(norm, max);
    return [mapTrees(`${fn}.update`, ['updates'], (u) => np.where(small, u, np.multiply(np.divide(u, norm), max)), updates), {}];
  });
}

/** Clips each update elementwise to [-maxDelta, maxDelta]. */
export function clip(maxDelta: number): GradientTransformation {
  const fn = 'optim.clip';
  const max = numberOption(fn, 'maxDelta', maxDelta, undefined, 'a non-negative number', nonNegative);
  return transformation(fn, [], () => ({}), (updates) => [mapTrees(`${fn}.update`, ['updates'], (u) => np.clip(u, -max, max), updates), {}]);
}
