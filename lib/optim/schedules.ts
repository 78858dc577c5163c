/**
 * @file Learning-rate schedules, as optax's: functions from the int32 step count to a float32 scalar,
 * written with array operations so that they work on a traced count under `jit`.
 */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { checkOptions, numberOption } from '../core/options';
import * as np from '../numpy';
import { asArray } from '../numpy/util';

/** A schedule maps the step count (an int32 scalar array, or a JS number) to a value. */
export type Schedule = (count: NDArray | number) => NDArray;

/** A number, or a schedule evaluated at each step. */
export type ScalarOrSchedule = number | Schedule;

export function checkScalarOrSchedule(fn: string, arg: string, value: unknown): ScalarOrSchedule {
  if (typeof value === 'function') return value as Schedule;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw typeError(fn, arg, 'a finite number or a schedule (a function of the step count)', value);
}

/** The step count as a float32 array. */
const countOf = (fn: string, count: unknown): NDArray => np.astype(asArray(fn, 'count', count), 'float32');

const positive = (v: number) => v > 0;
const nonNegative = (v: number) => v >= 0;

export function constantSchedule(value: number): Schedule {
  const v = numberOption('optim.constantSchedule', 'value', value, undefined);
  return (count) => {
    countOf('optim.constantSchedule', count);
    return np.array(v);
  };
}

export interface PolynomialScheduleOptions {
  initValue: number;
  endValue: number;
  /** Steps from initValue to endValue (> 0). */
  transitionSteps: number;
  power?: number;
  /** Steps held at initValue first (default 0). */
  transitionBegin?: number;
}

/** (init - end) · (1 - t / transitionSteps)^power + end, with t = clip(count - transitionBegin, 0, transitionSteps). */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  return polynomial('optim.polynomialSchedule', options);
}

/** polynomialSchedule with power 1: a straight line from initValue to endValue. */
export function linearSchedule(options: Omit<PolynomialScheduleOptions, 'power'>): Schedule {
  return polynomial('optim.linearSchedule', { ...checkOptions('optim.linearSchedule', options, '{initValue, endValue, transitionSteps}'), power: 1 } as PolynomialScheduleOptions);
}

function polynomial(fn: string, options: PolynomialScheduleOptions): Schedule {
  const o = checkOptions(fn, options, '{initValue, endValue, transitionSteps}');
  const init = numberOption(fn, 'initValue', o.initValue, undefined);
  const end = numberOption(fn, 'endValue', o.endValue, undefined);
  const steps = numberOption(fn, 'transitionSteps', o.transitionSteps, undefined, 'a positive number', positive);
  const power = numberOption(fn, 'power', o.power, 1);
  const begin = numberOption(fn, 'transitionBegin', o.transitionBegin, 0, 'a non-negative number', nonNegative);
  return (count) => {
    const t = np.clip(np.subtract(countOf(fn, count), begin), 0, steps);
    const frac = np.subtract(1, np.divide(t, steps));
    return np.add(np.multiply(init - end, power === 1 ? frac : np.power(frac, power)), end);
  };
}

export interface ExponentialDecayOptions {
  initValue: number;
  /** Steps over which the value is multiplied by decayRate (> 0). */
  transitionSteps: number;
  decayRate: number;
  /** Steps held at initValue first (default 0). */
  transitionBegin?: number;
  /** Decay in whole multiples of transitionSteps (default false). */
  staircase?: boolean;
  /** A floor (decayRate < 1) or ceiling (decayRate > 1) for the value. */
  endValue?: number;
}

/** initValue · decayRate^(max(count - transitionBegin, 0) / transitionSteps), floored when staircase. */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const fn = 'optim.exponentialDecay';
  const o = checkOptions(fn, options, '{initValue, transitionSteps, decayRate}');
  const init = numberOption(fn, 'initValue', o.initValue, undefined);
  const steps = numberOption(fn, 'transitionSteps', o.transitionSteps, undefined, 'a positive number', positive);
  const rate = numberOption(fn, 'decayRate', o.decayRate, undefined, 'a non-negative number', nonNegative);
  const begin = numberOption(fn, 'transitionBegin', o.transitionBegin, 0, 'a non-negative number', nonNegative);
  if (o.staircase !== undefined && typeof o.staircase !== 'boolean') throw typeError(fn, 'staircase', 'a boolean', o.staircase);
  const end = o.endValue === undefined ? undefined : numberOption(fn, 'endValue', o.endValue, undefined);
  return (count) => {
    const elapsed = np.subtract(countOf(fn, count), begin);
    let p = np.divide(elapsed, steps);
    if (o.staircase) p = np.floor(p);
    let value = np.where(np.lessEqual(elapsed, 0), init, np.multiply(init, np.power(rate, p)));
    if (end !== undefined) value = rate < 1 ? np.maximum(value, end) : np.minimum(value, end);
    return value;
  };
}

export interface CosineDecayOptions {
  initValue: number;
  /** Steps of the decay (> 0); the value stays at alpha · initValue after them. */
  decaySteps: number;
  /** The final value as a fraction of initValue (default 0). */
  alpha?: number;
  exponent?: number;
}

/** initValue · ((1 - alpha) · (½(1 + cos(π · min(count, decaySteps) / decaySteps)))^exponent + alpha). */
export function cosineDecaySchedule(options: CosineDecayOptions): Schedule {
  return cosineDecay('optim.cosineDecaySchedule', options);
}

function cosineDecay(fn: string, options: CosineDecayOptions): Schedule {
  const o = checkOptions(fn, options, '{initValue, decaySteps}');
  const init = numberOption(fn, 'initValue', o.initValue, undefined);
  const steps = numberOption(fn, 'decaySteps', o.decaySteps, undefined, 'a positive number', positive);
  const alpha = numberOption(fn, 'alpha', o.alpha, 0);
  const exponent = numberOption(fn, 'exponent', o.exponent, 1);
  return (count) => {
    const t = np.minimum(countOf(fn, count), steps);
    // Clamped at 0: cos(π) may round to just above -1.
    const cosine = np.maximum(np.multiply(0.5, np.add(1, np.cos(np.multiply(Math.PI / steps, t)))), 0);
    const shaped = exponent === 1 ? cosine : np.power(cosine, exponent);
    return np.multiply(init, np.add(np.multiply(1 - alpha, shaped), alpha));
  };
}

/**
 * Uses schedules[0] until boundaries[0], then schedules[1] counted from boundaries[0], and so on
 * (optax.join_schedules).
 */
export function joinSchedules(schedules: Schedule[], boundaries: number[]): Schedule {
  const fn = 'optim.joinSchedules';
  if (!globalThis.Array.isArray(schedules) || schedules.length === 0 || schedules.some((s) => typeof s !== 'function')) {
    throw typeError(fn, 'schedules', 'a non-empty JS array of schedules (functions of the step count)', schedules);
  }
  if (!globalThis.Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    throw typeError(fn, 'boundaries', `a JS array of ${schedules.length - 1} step counts (one fewer than the schedules)`, boundaries);
  }
  boundaries.forEach((b, i) => numberOption(fn, `boundaries[${i}]`, b, undefined, 'a non-negative number', nonNegative));
  return (count) => {
    const c = asArray(fn, 'count', count);
    return boundaries.reduce(
      (out: NDArray, b, i) => np.where(np.less(c, b), out, asArray(fn, 'schedule result', schedules[i + 1](np.subtract(c, b)))),
      asArray(fn, 'schedule result', schedules[0](c)),
    );
  };
}

export interface WarmupCosineDecayOptions {
  initValue: number;
  peakValue: number;
  /** Steps of the linear warm-up from initValue to peakValue. */
  warmupSteps: number;
  /** Total steps, warm-up included (> warmupSteps). */
  decaySteps: number;
  endValue?: number;
  exponent?: number;
}

/** A linear warm-up from initValue to peakValue, then a cosine decay to endValue at decaySteps. */
export function warmupCosineDecaySchedule(options: WarmupCosineDecayOptions): Schedule {
  const fn = 'optim.warmupCosineDecaySchedule';
  const o = checkOptions(fn, options, '{initValue, peakValue, warmupSteps, decaySteps}');
  const init = numberOption(fn, 'initValue', o.initValue, undefined);
  const peak = numberOption(fn, 'peakValue', o.peakValue, undefined);
  const warmup = numberOption(fn, 'warmupSteps', o.warmupSteps, undefined, 'a non-negative number', nonNegative);
  const total = numberOption(fn, 'decaySteps', o.decaySteps, undefined, `a number greater than warmupSteps (${warmup})`, (v) => v > warmup);
  const end = numberOption(fn, 'endValue', o.endValue, 0);
  const decay = cosineDecay(fn, { initValue: peak, decaySteps: total - warmup, alpha: peak === 0 ? 0 : end / peak, exponent: o.exponent });
  if (warmup === 0) return decay;
  return joinSchedules([polynomial(fn, { initValue: init, endValue: peak, transitionSteps: warmup }), decay], [warmup]);
}

export interface PiecewiseConstantOptions {
  initValue: number;
  /** From each step count on, the value is multiplied by its scale: e.g. `{1000: 0.1, 2000: 0.1}`. */
  boundariesAndScales?: Record<number, number>;
}

/** initValue times the scales of every boundary reached (count >= boundary). */
export function piecewiseConstantSchedule(options: PiecewiseConstantOptions): Schedule {
  const fn = 'optim.piecewiseConstantSchedule';
  const o = checkOptions(fn, options, '{initValue, boundariesAndScales}');
  const init = numberOption(fn, 'initValue', o.initValue, undefined);
  const table = o.boundariesAndScales ?? {};
  if (typeof table !== 'object' || table === null || globalThis.Array.isArray(table)) {
    throw typeError(fn, 'boundariesAndScales', 'an object from step counts to scales, such as {1000: 0.1}', table);
  }
  const entries = Object.entries(table).map(([k, v]): [number, number] => {
    const b = Number(k);
    if (!Number.isInteger(b) || b < 0) throw typeError(fn, 'boundariesAndScales', 'keys that are non-negative integer step counts', k);
    return [b, numberOption(fn, `boundariesAndScales[${k}]`, v, undefined, 'a non-negative scale', nonNegative)];
  });
  entries.sort((a, b) => a[0] - b[0]);
  return (count) => {
    const c = asArray(fn, 'count', count);
    return entries.reduce((v: NDArray, [b, scale]) => np.multiply(v, np.where(np.greaterEqual(c, b), scale, 1)), np.array(init));
  };
}
