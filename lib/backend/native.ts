/** @file Loads the native addon and checks that its scalar-op table matches ours (the name is the contract). */

import * as fs from 'fs';
import * as path from 'path';
import { TypedArray } from '../core/dtype';
import { SCALAR_OPS } from '../compiler/kernel';
import type { MetalAddon } from './metal';

/** A decoded, validated step program held by the addon (opaque to JS). */
export type NativeProgram = { readonly __nativeProgram: unique symbol };

export interface NativeAddon {
  /** Decodes and validates a step program once. */
  compile(code: Int32Array, consts: Float64Array): NativeProgram;
  /** Checks `bufs` against everything `program` touches, then runs it. */
  execute(program: NativeProgram, bufs: TypedArray[]): void;
  /** compile + execute, for one-off programs. */
  run(code: Int32Array, consts: Float64Array, bufs: TypedArray[]): void;
  scalarOps(): string[];
  setNumThreads(n: number): void;
  numThreads(): number;
  abiVersion: number;
  /** The Metal host, in macOS builds only. */
  metal?: MetalAddon;
  /**
   * `bytes` uninitialised bytes from the recycled host buffer pool; absent where this Node build
   * cannot offer pooled buffers (see native/host_buffers.cc).
   */
  allocateHost?(bytes: number): ArrayBuffer;
  /** The pool's idle-byte limit, the bytes it holds idle now and the bytes handed out and still alive. */
  bufferCache(): { limit: number; idle: number; live: number };
  setBufferCacheLimit(bytes: number): void;
  /** The instruction set the CPU kernels use and those supported, e.g. `avx512 (supported: generic sse2 avx2 avx512)`. */
  cpuFeatures: string;
}

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'metalgrad') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`metalgrad: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}

function load(): NativeAddon {
  const file = path.join(packageRoot(), 'build', 'Release', 'metalgrad.node');
  if (!fs.existsSync(file)) throw new Error(`metalgrad: the native addon ${file} is missing; build it with \`npm install\` (or \`npx node-gyp rebuild\`)`);
  const addon = require(file) as NativeAddon;
  const names = addon.scalarOps();
  if (addon.abiVersion !== 1 || names.length !== SCALAR_OPS.length || names.some((n, i) => n !== SCALAR_OPS[i])) {
    throw new Error(`metalgrad: the native addon's scalar ops [${names.join(', ')}] (ABI ${addon.abiVersion}) do not match lib/compiler/kernel.ts; rebuild the addon`);
  }
  return addon;
}

let addon: NativeAddon | undefined;
export function native(): NativeAddon {
  return (addon ??= load());
}

/**
 * The instruction set metalgrad's CPU kernels chose at load time (best supported, or `METALGRAD_ISA`),
 * followed by the supported ones and whether fused elementwise kernels run as generated machine code
 * (x86-64 Linux with AVX-512; `METALGRAD_JIT=0` turns it off), e.g.
 * `avx2 (supported: generic sse2 avx2); jit: off`.
 */
export function cpuFeatures(): string {
  return native().cpuFeatures;
}
