/** @file The `numpy` namespace (numpy names, JAX semantics). */

export * from './creation';
export * from './math';
export * from './reductions';
export { var_ as var } from './reductions';
export * from './shape';
export * from './linalg';
export type { ArrayLike } from './util';
export * from './indexing';
export * from './sorting';
export * from './manip';
export * from './einsum';
export * as linalg from './norm';
