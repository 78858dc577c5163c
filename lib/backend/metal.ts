/**
 * @file The Metal backend: each kernel's generated MSL (lib/compiler/msl.ts) becomes a pipeline of the
 * addon's cache (native/metal), buffers are shared-memory MTLBuffers seen as typed arrays, and a
 * dispatch encodes every kernel of a call into one command buffer without waiting; reading a result
 * (`ConcreteArray.hostBuffer`) waits first.
 */

import * as os from 'os';
import * as path from 'path';
import { registerHostSync } from '../core/concrete';
import { DType, TypedArray } from '../core/dtype';
import { Kernel } from '../compiler/kernel';
import { generateMsl, mslBindings, MslOptions, mslPasses } from '../compiler/msl';
import { Backend, Executable } from './backend';

export interface MetalDeviceInfo {
  name: string;
  maxBufferLength: number;
  /** Whether the GPU is Apple7 or newer (M1 and later; the VMs of hosted CI runners are Apple5). */
  apple7: boolean;
  /** The binary archive of compiled pipelines ('' when the disk cache is off). */
  archivePath: string;
  archiveError: string;
}

export interface MetalCacheStats {
  /** Pipelines the GPU compiler built in this process. */
  compiled: number;
  /** Pipelines found in the on-disk binary archive. */
  archiveHits: number;
  /** Requests answered by the in-process cache. */
  memoryHits: number;
  archivePath: string;
  archiveError: string;
}

/** The addon's `metal` object (native/metal/host.mm), present in macOS builds. */
export interface MetalAddon {
  open(cacheDir: string): MetalDeviceInfo;
  allocate(bytes: number): ArrayBuffer;
  compile(source: string, functionName: string): number;
  /**
   * `launches` = [count, then per launch: pipeline, groups, groupSize, simdWidth, nmem,
   * threadgroup bytes × nmem, nbind, bufIndex × nbind] (see `MslLaunch`).
   */
  dispatch(launches: Int32Array, bufs: TypedArray[]): void;
  sync(): void;
  stats(): MetalCacheStats;
}

export interface MetalBackend extends Backend {
  readonly device: 'metal';
  readonly info: MetalDeviceInfo;
  stats(): MetalCacheStats;
}

/** Every generated source names its kernel the same, so equal kernels share one pipeline. */
const KERNEL_NAME = 'metalgrad_kernel';

/** `$METALGRAD_CACHE_DIR` (empty turns the disk cache off), else ~/Library/Caches/metalgrad. */
export function metalCacheDir(): string {
  const env = process.env.METALGRAD_CACHE_DIR;
  return env !== undefined ? env : path.join(os.homedir(), 'Library', 'Caches', 'metalgrad');
}

/** A compile failure with the source line the Metal compiler points at (`program_source:LINE:COL`). */
export function compileError(what: string, source: string, log: string): Error {
  const m = /program_source:(\d+):\d+: error: ([^\n]*)/.exec(log);
  if (!m) return new Error(`metal: ${what} failed to compile: ${log}`);
  const line = source.split('\n')[Number(m[1]) - 1] ?? '';
  return new Error(`metal: ${what} failed to compile: ${m[2]}\n  at line ${m[1]}: ${line.trim()}\n${log}`);
}

interface MetalExecutable extends Executable {
  code: Int32Array;
  /**
   * The scratch buffers of two-pass reductions, allocated once and bound after the first `base`
   * buffers of a dispatch (the kernels read no buffer past those).
   */
  scratch: TypedArray[];
  base: number;
}

const STORAGE = { float32: Float32Array, int32: Int32Array, uint32: Uint32Array, bool: Uint8Array } as const;

export function createMetalBackend(addon: MetalAddon, cacheDir = metalCacheDir()): MetalBackend {
  const info = addon.open(cacheDir);
  // SIMD-group functions only where the GPU family guarantees them (hosted CI VMs are Apple5).
  const options: MslOptions = { simdgroup: info.apple7 };
  registerHostSync('metal', () => addon.sync());
  return {
    device: 'metal',
    info,
    stats: () => addon.stats(),
    allocate(dtype: DType, size: number): TypedArray {
      const Ctor = STORAGE[dtype];
      return new Ctor(addon.allocate(size * Ctor.BYTES_PER_ELEMENT), 0, size);
    },
    allocateOutput(dtype: DType, size: number): TypedArray {
      return this.allocate(dtype, size);
    },
    compile(kernels: Kernel[]): MetalExecutable {
      const code: number[] = [0];
      const scratch: TypedArray[] = [];
      const base = kernels.reduce((n, k) => mslBindings(k).reduce((m, b) => Math.max(m, b.arg + 1), n), 0);
      kernels.forEach((k, i) => {
        if (k.kind === 'alias') return;
        const plan = mslPasses(k, options, base + scratch.length);
        if (plan.scratch) scratch.push(this.allocate(plan.scratch.dtype, plan.scratch.size));
        plan.passes.forEach(({ kernel, stage, launch }) => {
          if (launch.groups === 0) return;
          const source = generateMsl(kernel, KERNEL_NAME, options, stage);
          let pipeline: number;
          try {
            pipeline = addon.compile(source, KERNEL_NAME);
          } catch (e) {
            const pass = stage ? ` (pass ${stage.pass} of 2)` : '';
            throw compileError(`${k.kind} kernel ${i} of ${kernels.length}${pass}`, source, (e as Error).message);
          }
          const args = mslBindings(kernel).map((b) => b.arg);
          const memory = launch.threadgroupMemory;
          code.push(pipeline, launch.groups, launch.groupSize, launch.simdWidth, memory.length, ...memory, args.length, ...args);
          code[0]++;
        });
      });
      return { code: Int32Array.from(code), launches: code[0], scratch, base };
    },
    dispatch(exe: Executable, bufs: TypedArray[]): void {
      const { code, scratch, base } = exe as MetalExecutable;
      if (bufs.length < base) throw new Error(`metal dispatch: the kernels read ${base} buffers, received ${bufs.length}`);
      if (code[0] > 0) addon.dispatch(code, scratch.length === 0 ? bufs : [...bufs.slice(0, base), ...scratch]);
    },
    sync(): void {
      addon.sync();
    },
  };
}
