/**
 * @file The optimizers, each a chain of transformations as in optax: sgd (with momentum and
 * Nesterov), adam, adamw and rmsprop. Their updates are already negated: apply them with
 * `applyUpdates(params, updates)`.
 */

import { typeError } from '../core/errors';
import { booleanOption, checkOptions } from '../core/options';
import { GradientTransformation, identity, namedChain } from './base';
import { ScalarOrSchedule } from './schedules';
import { addDecayedWeights, Mask, scaleByAdam, ScaleByAdamOptions, scaleByLearningRate, scaleByRms, ScaleByRmsOptions, scaleByStddev, trace } from './transforms';

export interface SgdOptions {
  learningRate: ScalarOrSchedule;
  /** Momentum coefficient; plain gradient descent when absent. */
  momentum?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent: -lr · g, or -lr · trace with momentum (trace = g + momentum · trace). */
export function sgd(options: SgdOptions): GradientTransformation {
  const fn = 'optim.sgd';
  const o = checkOptions(fn, options, '{learningRate, momentum, nesterov}');
  const nesterov = booleanOption(fn, 'nesterov', o.nesterov, false);
  if (nesterov && o.momentum === undefined) throw typeError(fn, 'momentum', 'a number when nesterov is true (Nesterov momentum needs a momentum)', o.momentum);
  const momentum = o.momentum === undefined ? identity() : trace({ decay: o.momentum, nesterov }, fn);
  return namedChain(fn, [momentum, scaleByLearningRate(o.learningRate as ScalarOrSchedule, fn)]);
}

export interface AdamOptions extends ScaleByAdamOptions {
  learningRate: ScalarOrSchedule;
}

/** Adam (Kingma & Ba): -lr · m̂ / (sqrt(v̂ + epsRoot) + eps); b1 = 0.9, b2 = 0.999, eps = 1e-8 by default. */
export function adam(options: AdamOptions): GradientTransformation {
  const fn = 'optim.adam';
  const o = checkOptions(fn, options, '{learningRate, b1, b2, eps}');
  return namedChain(fn, [scaleByAdam(o, fn), scaleByLearningRate(o.learningRate as ScalarOrSchedule, fn)]);
}

export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay (default 1e-4): the update adds weightDecay · params before the learning rate. */
  weightDecay?: number;
  /** Which params are decayed: a tree of booleans like the params, or a function of the params; all by default. */
  mask?: Mask;
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): -lr · (adam direction + weightDecay · params). */
export function adamw(options: AdamWOptions): GradientTransformation {
  const fn = 'optim.adamw';
  const o = checkOptions(fn, options, '{learningRate, weightDecay, mask}');
  return namedChain(fn, [
    scaleByAdam({ b1: o.b1, b2: o.b2, eps: o.eps, epsRoot: o.epsRoot }, fn),
    addDecayedWeights({ weightDecay: o.weightDecay ?? 1e-4, mask: o.mask }, fn),
    scaleByLearningRate(o.learningRate as ScalarOrSchedule, fn),
  ]);
}

export interface RmspropOptions extends ScaleByRmsOptions {
  learningRate: ScalarOrSchedule;
  /** Divide by the standard deviation of the gradients instead of their root mean square. */
  centered?: boolean;
  momentum?: number;
  nesterov?: boolean;
}

/** RMSProp: -lr · g / sqrt(ν + eps) (centred: ν - μ²), optionally followed by momentum. */
export function rmsprop(options: RmspropOptions): GradientTransformation {
  const fn = 'optim.rmsprop';
  const o = checkOptions(fn, options, '{learningRate, decay, eps, centered, momentum}');
  const centered = booleanOption(fn, 'centered', o.centered, false);
  const nesterov = booleanOption(fn, 'nesterov', o.nesterov, false);
  if (nesterov && o.momentum === undefined) throw typeError(fn, 'momentum', 'a number when nesterov is true (Nesterov momentum needs a momentum)', o.momentum);
  const rms = { decay: o.decay, eps: o.eps, initialScale: o.initialScale };
  return namedChain(fn, [
    centered ? scaleByStddev(rms, fn) : scaleByRms(rms, fn),
    o.momentum === undefined ? identity() : trace({ decay: o.momentum, nesterov }, fn),
    scaleByLearningRate(o.learningRate as ScalarOrSchedule, fn),
  ]);
}
