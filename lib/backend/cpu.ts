/** @file The CPU backend: kernels are encoded once into a native step program; a dispatch is one addon call. */

import { allocate, DType, TypedArray } from '../core/dtype';
import { Kernel } from '../compiler/kernel';
import { Backend, Executable } from './backend';
import { encodeProgram, Program } from './encode';
import { native } from './native';

interface CpuExecutable extends Executable {
  program: Program;
}

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(dtype: DType, size: number): TypedArray {
    return allocate(dtype, size);
  },
  compile(kernels: Kernel[]): CpuExecutable {
    const program = encodeProgram(kernels);
    return { program, launches: program.code[2] };
  },
  dispatch(exe: Executable, bufs: TypedArray[]): void {
    const { program } = exe as CpuExecutable;
    if (program.code[2] > 0) native().run(program.code, program.consts, bufs);
  },
  sync(): void {
    // Runs synchronously: results are ready when dispatch returns.
  },
};
