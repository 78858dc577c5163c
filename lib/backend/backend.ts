/**
 * @file The narrow interface a device implements: backends see kernels (lib/compiler/kernel.ts), never
 * primitives. Buffers are typed arrays on every device (Metal's shared storage is CPU-visible).
 */

import { DType, TypedArray } from '../core/dtype';
import { Kernel } from '../compiler/kernel';

/** Kernels prepared once for repeated dispatch. */
export interface Executable {
  /** How many kernels a dispatch launches. */
  readonly launches: number;
}

export interface Backend {
  readonly device: 'cpu';
  allocate(dtype: DType, size: number): TypedArray;
  /** Prepares `kernels`, whose args index the buffer list given to `dispatch`. */
  compile(kernels: Kernel[]): Executable;
  dispatch(exe: Executable, bufs: TypedArray[]): void;
}
