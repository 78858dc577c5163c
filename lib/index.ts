/** @file metalgrad's public API. */

import './backend/eager';
import './numpy/methods';

export { NDArray as Array, NDArray } from './core/array';
export type { NestedArray } from './core/array';
export type { DType } from './core/dtype';
export { ShapedArray } from './core/aval';
export * as numpy from './numpy';
export * as nn from './nn';
export * as optim from './optim';
export * as lax from './lax';
export * as random from './random';
export * as tree from './core/tree';
export { jit, Lowered } from './transforms/jit';
export type { JitOptions, Jitted } from './transforms/jit';
export type { FusionOptions } from './compiler/fusion';
export { grad, valueAndGrad, vjp } from './transforms/grad';
export type { GradOptions } from './transforms/grad';
export { jvp } from './transforms/jvp';
export { vmap } from './transforms/vmap';
export type { VmapOptions } from './transforms/vmap';
export { jacfwd, jacrev, hessian } from './transforms/jacobian';
export { makeJaxpr } from './transforms/make-jaxpr';
export { ClosedJaxpr, Jaxpr } from './ir/jaxpr';
export { devices, devicePut, defaultDevice } from './device';
export { numThreads, setNumThreads } from './threads';
export { clearCache, hostMemory, setCacheLimit } from './memory';
export type { HostMemory } from './memory';
export { cpuFeatures } from './backend/native';
