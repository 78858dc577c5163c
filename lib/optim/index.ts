/**
 * @file The `optim` namespace: optax-style optimizers as pure functions over pytrees. Each is
 * `{init(params), update(grads, state, params?)}` returning `[updates, state]`; the state is a pytree
 * of arrays with an int32 step count, so a whole training step can be jitted.
 */

export { applyUpdates, chain, globalNorm, identity } from './base';
export type { GradientTransformation, OptState } from './base';
export * from './optimizers';
export {
  constantSchedule,
  cosineDecaySchedule,
  exponentialDecay,
  joinSchedules,
  linearSchedule,
  piecewiseConstantSchedule,
  polynomialSchedule,
  warmupCosineDecaySchedule,
} from './schedules';
export type { CosineDecayOptions, ExponentialDecayOptions, PiecewiseConstantOptions, PolynomialScheduleOptions, ScalarOrSchedule, Schedule, WarmupCosineDecayOptions } from './schedules';
export { addDecayedWeights, clip, clipByGlobalNorm, masked, scale, scaleByAdam, scaleByLearningRate, scaleByRms, scaleBySchedule, scaleByStddev, trace } from './transforms';
export type { AddDecayedWeightsOptions, Mask, ScaleByAdamOptions, ScaleByRmsOptions, TraceOptions } from './transforms';
