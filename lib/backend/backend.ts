/**
 * @file The narrow interface a device implements: backends see kernels (lib/compiler/kernel.ts), never
 * primitives. Buffers are typed arrays on every device (Metal's shared storage is CPU-visible).
 */

import { Device } from '../core/array';
import { DType, TypedArray } from '../core/dtype';
import { Kernel } from '../compiler/kernel';

/** Kernels prepared once for repeated dispatch. */
export interface Executable {
  /** How many kernels a dispatch launches. */
  readonly launches: number;
}

export interface Backend {
  readonly device: Device;
  allocate(dtype: DType, size: number): TypedArray;
  /**
   * A buffer whose contents are undefined, for a kernel output that the caller's kernels overwrite
   * completely (every plan and eager output: intermediates are reused across calls, so every kernel
   * already writes all of its outputs). Large ones are recycled rather than freshly paged in.
   */
  allocateOutput(dtype: DType, size: number): TypedArray;
  /** Prepares `kernels`, whose args index the buffer list given to `dispatch`. */
  compile(kernels: Kernel[]): Executable;
  /** Runs (or enqueues) the kernels over `bufs`, which must all have come from `allocate`. */
  dispatch(exe: Executable, bufs: TypedArray[]): void;
  /** Waits until the host may read what dispatched work wrote. */
  sync(): void;
}
