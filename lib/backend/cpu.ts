/** @file The CPU backend: kernels are encoded once into a native step program; a dispatch is one addon call. */

import { allocate, DType, TypedArray } from '../core/dtype';
import { Kernel } from '../compiler/kernel';
import { Backend, Executable } from './backend';
import { encodeProgram, Program } from './encode';
import { native, NativeProgram } from './native';

interface CpuExecutable extends Executable {
  program: Program;
  /** The program decoded and validated by the addon; undefined when it has no steps. */
  handle: NativeProgram | undefined;
}

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(dtype: DType, size: number): TypedArray {
    return allocate(dtype, size);
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
