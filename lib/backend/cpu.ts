/** @file The CPU backend: kernels are encoded once into a native step program; a dispatch is one addon call. */

import { allocate, bytesPerElement, DType, TypedArray, viewOf } from '../core/dtype';
import { Kernel } from '../compiler/kernel';
import { Backend, Executable } from './backend';
import { encodeProgram, Program } from './encode';
import { native, NativeProgram } from './native';

interface CpuExecutable extends Executable {
  program: Program;
  /** The program decoded and validated by the addon; undefined when it has no steps. */
  handle: NativeProgram | undefined;
}

/**
 * Outputs of at least this many bytes come from the addon's recycled host buffers
 * (native/cpu/buffer_pool.h): a fresh 64 MiB array costs tens of milliseconds of page faults, more than
 * most kernels that fill it.
 */
const POOLED_MIN_BYTES = 1 << 18;

function pooledOrFresh(dtype: DType, size: number): TypedArray {
  const bytes = size * bytesPerElement(dtype);
  if (bytes < POOLED_MIN_BYTES) return allocate(dtype, size);
  const addon = native();
  return addon.allocateHost !== undefined ? viewOf(addon.allocateHost(bytes), dtype, size) : allocate(dtype, size);
}

let outputAllocator: (dtype: DType, size: number) => TypedArray = pooledOrFresh;

/**
 * Tests only: replaces how CPU outputs are allocated (e.g. with NaN-filled buffers, to prove that
 * every kernel writes all of its outputs); returns the previous allocator.
 */
export function setOutputAllocatorForTests(f: (dtype: DType, size: number) => TypedArray): (dtype: DType, size: number) => TypedArray {
  const previous = outputAllocator;
  outputAllocator = f;
  return previous;
}

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(dtype: DType, size: number): TypedArray {
    return allocate(dtype, size);
  },
  allocateOutput(dtype: DType, size: number): TypedArray {
    return outputAllocator(dtype, size);
  },
  compile(kernels: Kernel[]): CpuExecutable {
    const program = encodeProgram(kernels);
    const launches = program.code[2];
    return { program, launches, handle: launches > 0 ? native().compile(program.code, program.consts) : undefined };
  },
  dispatch(exe: Executable, bufs: TypedArray[]): void {
    const { handle } = exe as CpuExecutable;
    if (handle !== undefined) native().execute(handle, bufs);
  },
  sync(): void {
    // Runs synchronously: results are ready when dispatch returns.
  },
};
