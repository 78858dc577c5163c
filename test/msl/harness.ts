/**
 * @file Runs generated MSL on Linux: every kernel of a test file goes into one C++ translation unit
 * (compiled by clang++-19 against the `metal_stdlib` stand-in in this folder, with UBSan and ASan),
 * a generated table dispatches each kernel over its grid of threadgroups (test/msl/threadgroup.h:
 * threads of a group run as fibers meeting at barriers and SIMD-group functions), and
 * test/msl/driver.cc moves the raw buffers through stdin/stdout. The same kernels run on the native
 * CPU path for comparison.
 */

import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ShapedArray } from '../../lib/core/aval';
import { allocate, DType, TypedArray } from '../../lib/core/dtype';
import { Atom, ClosedJaxpr } from '../../lib/ir/jaxpr';
import { fuse } from '../../lib/compiler/fusion';
import { epilogueOf, Kernel } from '../../lib/compiler/kernel';
import { generateMsl, MSL_DEFAULTS, mslBindings, MslLaunch, MslOptions, mslPasses } from '../../lib/compiler/msl';
import { encodeProgram } from '../../lib/backend/encode';
import { native } from '../../lib/backend/native';
import { primitiveDef } from '../../lib/primitives';
import { Params, Prim } from '../../lib/primitives/types';

/** The C++ compiler for generated MSL: clang++-19, or METALGRAD_CLANGXX (e.g. Homebrew llvm on macOS). */
export const CLANG = process.env.METALGRAD_CLANGXX || 'clang++-19';
const MSL_DIR = __dirname;

/** How results are compared: bit-exact (NaN matches any NaN), or within a tolerance. */
export type Tolerance = 'exact' | { rtol: number; atol: number; ulps: number };
/**
 * For transcendentals: ~2 ulp or 1e-6 relative. Our own log1p/expm1/erf/erf_inv (metal has none), and the CPU
 * path's vectorised exp/log/sin/cos/tanh (native/cpu/vecmath, within 2.5 ulp), where the generated
 * MSL compiled as C++ calls libm.
 */
export const TRANSCENDENTAL: Tolerance = { rtol: 1e-6, atol: 0, ulps: 2 };
/** For float sums in another order (pairwise/lanes on the CPU, lanes and trees in the MSL kernels). */
export const REORDERED: Tolerance = { rtol: 1e-5, atol: 1e-5, ulps: 0 };
/** Exact, except that a zero may come out with either sign (float max/min combined in another order). */
export const ZERO_SIGN: Tolerance = { rtol: 0, atol: 0, ulps: 0 };

/** Buffers 0..n-1 and kernels over them, run in order; buffers listed in `inputs` get random data. */
export interface Case {
  name: string;
  bufs: ShapedArray[];
  kernels: Kernel[];
  inputs: number[];
  /** Fixed values for some inputs (repeated to fill the buffer). */
  data?: Record<number, number[]>;
  tol: Tolerance;
  /** Code generation options (default: `MSL_DEFAULTS`, SIMD-group functions on). */
  options?: MslOptions;
}

const APPROX_OPS = new Set(['log1p', 'expm1', 'erf', 'erf_inv', 'exp', 'log', 'sin', 'cos', 'tanh']);

/**
 * Exact unless the kernels reorder a float sum (the looser), use an approximated op, or combine a
 * float max/min in another order (the sign of a zero result may differ).
 */
export function defaultTolerance(kernels: Kernel[]): Tolerance {
  const floatReductions = kernels.map((k) => (k.kind === 'reduce' ? k : k.kind === 'elementwise' ? k.reduce : undefined)).filter((r) => r?.dtype === 'float32');
  const reordered = floatReductions.some((r) => r?.op === 'sum' || r?.op === 'prod') || kernels.some((k) => k.kind === 'matmul' && k.dtype === 'float32');
  if (reordered) return REORDERED;
  // Elementwise programs: the kernels' own and their epilogues.
  const programs = kernels.flatMap((k) => {
    const epilogue = epilogueOf(k)?.kernel;
    return [...(k.kind === 'elementwise' ? [k] : []), ...(epilogue ? [epilogue] : [])];
  });
  if (programs.some((k) => k.instrs.some((i) => APPROX_OPS.has(i.op)))) return TRANSCENDENTAL;
  return floatReductions.length > 0 ? ZERO_SIGN : 'exact';
}

/** A case for one primitive applied to operands of the given avals. */
export function primCase<P extends Prim>(name: string, prim: P, ins: ShapedArray[], params: Params[P], data?: Record<number, number[]>): Case {
  const def = primitiveDef(prim);
  const outs = def.abstractEval(ins, params);
  const low = def.lower(ins, outs, params);
  const kernels = low.kernels;
  return { name, bufs: [...ins, ...outs, ...low.temps], kernels, inputs: ins.map((_, i) => i), data, tol: defaultTolerance(kernels) };
}

/** One case per step of the fused jaxpr (fused groups and single equations; reshapes move no data). */
export function jaxprCases(name: string, closed: ClosedJaxpr): Case[] {
  const cases = fuse(closed.jaxpr).map((step, s): Case => {
    const id = `${name}_${s}`;
    if (step.kind === 'fused') {
      const { group } = step;
      const bufs = [...group.inputs.map((a: Atom) => a.aval), ...group.outputs.map((v) => v.aval)];
      return { name: id, bufs, kernels: [group.kernel], inputs: group.inputs.map((_, i) => i), tol: defaultTolerance([group.kernel]) };
    }
    const { eqn } = step;
    return primCase(id, eqn.prim, eqn.inputs.map((a) => a.aval), eqn.params as never);
  });
  return cases.filter((c) => c.kernels.every((k) => k.kind !== 'alias'));
}

/** Seeded PRNG (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL: Record<DType, number[]> = {
  float32: [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -0.5, 3e38, -3e38, 1e-40, 1e-7, 2147483648, -2147483904, 4294967296, 88.8, -1],
  int32: [-2147483648, 2147483647, -1, 0, 1, 2, -2, 31, 32, 65536],
  uint32: [0, 1, 2, 31, 32, 4294967295, 2147483648, 65536],
  bool: [0, 1, 2, 255],
};

/** Random values of `dtype` with edge cases mixed in. */
function randomValues(dtype: DType, n: number, next: () => number): number[] {
  return Array.from({ length: n }, () => {
    if (next() < 0.2) {
      const s = SPECIAL[dtype];
      return s[Math.floor(next() * s.length)];
    }
    switch (dtype) {
      case 'float32':
        return (next() - 0.5) * 6;
      case 'int32':
        return Math.floor(next() * 21) - 10;
      case 'uint32':
        return Math.floor(next() * 21);
      case 'bool':
        return next() < 0.5 ? 1 : 0;
    }
  });
}

/** The initial buffers of a case: inputs filled, everything else a fixed non-zero pattern. */
export function initialBuffers(c: Case, seed: number): TypedArray[] {
  const next = rng(seed);
  return c.bufs.map((aval, b) => {
    const buf = allocate(aval.dtype, aval.size);
    if (c.inputs.includes(b)) {
      const fixed = c.data?.[b];
      const values = fixed ? Array.from({ length: aval.size }, (_, i) => fixed[i % fixed.length]) : randomValues(aval.dtype, aval.size, next);
      values.forEach((v, i) => (buf[i] = v));
    } else {
      buf.fill(aval.dtype === 'bool' ? 7 : 123);
    }
    return buf;
  });
}

/** Runs the case's kernels through the native CPU addon, in place. */
export function runCpu(c: Case, bufs: TypedArray[]): void {
  const program = encodeProgram(c.kernels);
  native().run(program.code, program.consts, bufs);
}

/** Thread-position attributes and the field of `mgemu::Thread` (test/msl/threadgroup.h) holding each. */
const THREAD_FIELD: Record<string, string> = {
  thread_position_in_grid: 'grid',
  threadgroup_position_in_grid: 'group',
  thread_position_in_threadgroup: 'local',
  thread_index_in_simdgroup: 'lane',
  simdgroup_index_in_threadgroup: 'simdgroup',
};

/**
 * The C++ arguments of a call to kernel `name` of `source`, read from its signature as a Metal
 * runtime binds them: `[[buffer(i)]]` is `buffer(i)`, `[[threadgroup(i)]]` is `tg[i]`, and thread
 * positions are fields of the `mgemu::Thread` `t`.
 */
export function kernelCallArgs(source: string, name: string, buffer: (index: number) => string): string[] {
  const head = new RegExp(`kernel void ${name}\\(\\n([^{]*)\\) \\{`).exec(source);
  if (!head) throw new Error(`kernelCallArgs: no kernel function ${name} in the source`);
  return head[1].split(',\n').map((param) => {
    const p = param.trim();
    let m = /^device (const )?(\w+)\* \w+ \[\[buffer\((\d+)\)\]\]$/.exec(p);
    if (m) return `(${m[1] ?? ''}${m[2]}*)${buffer(Number(m[3]))}`;
    m = /^threadgroup (\w+)\* \w+ \[\[threadgroup\((\d+)\)\]\]$/.exec(p);
    if (m) return `(${m[1]}*)tg[${m[2]}]`;
    m = /^uint \w+ \[\[(\w+)\]\]$/.exec(p);
    if (m && THREAD_FIELD[m[1]]) return `t.${THREAD_FIELD[m[1]]}`;
    throw new Error(`kernelCallArgs: kernel ${name} has a parameter the emulation cannot bind: ${p}`);
  });
}

/** Whether the kernel's threads synchronise, so the emulation must run each group's threads as fibers. */
export const isCooperative = (source: string): boolean => /\bthreadgroup_barrier\(|\bsimd_\w+\(/.test(source);

/** A `mgemu::dispatch` statement running kernel `name` of `source` with the given launch. */
export function dispatchCall(source: string, name: string, launch: MslLaunch, buffer: (index: number) => string): string {
  if (launch.simdWidth !== 0 && launch.simdWidth !== 32) throw new Error(`dispatchCall: kernel ${name} assumes ${launch.simdWidth}-lane SIMD-groups; the emulation has 32`);
  const memory = `{${launch.threadgroupMemory.join(', ')}}`;
  const call = `${name}(${kernelCallArgs(source, name, buffer).join(', ')})`;
  return `mgemu::dispatch(${launch.groups}u, ${launch.groupSize}u, ${isCooperative(source)}, ${memory}, [&](const mgemu::Thread& t, char** tg) { ${call}; });`;
}

/** The arg that stands for a two-pass reduction's scratch buffer (no case buffer has it). */
const SCRATCH_ARG = -1;

/** The generated part of the translation unit: the kernels and a table that runs each case. */
export function translationUnit(cases: Case[]): string {
  const names = new Set(cases.map((c) => c.name));
  if (names.size !== cases.length) throw new Error('translationUnit: case names must be unique');
  const parts = ['#include "driver.cc"', ''];
  const table: string[] = [];
  cases.forEach((c, ci) => {
    const calls: string[] = [];
    c.kernels.forEach((k, ki) => {
      if (k.kind === 'alias') throw new Error(`${c.name}: alias kernels have no MSL`);
      // A two-pass reduction's partials live in a local scratch buffer, poisoned (NaN, -1, 255) so
      // that a partial pass 1 fails to write shows in the result.
      const { passes, scratch } = mslPasses(k, c.options ?? MSL_DEFAULTS, SCRATCH_ARG);
      if (scratch) calls.push(`  std::vector<char> scratch${ki}(${scratch.size * (scratch.dtype === 'bool' ? 1 : 4)}, char(0xff));`);
      passes.forEach((pass, pi) => {
        const name = `${c.name}_k${ki}${passes.length > 1 ? `_pass${pi + 1}` : ''}`;
        const source = generateMsl(pass.kernel, name, c.options, pass.stage);
        parts.push(source);
        const bindings = mslBindings(pass.kernel);
        const buffer = (i: number): string => (bindings[i].arg === SCRATCH_ARG ? `scratch${ki}.data()` : `b[${bindings[i].arg}]`);
        // The grid is whole threadgroups, so threads past the last element run too: the kernel's
        // bounds checks must make them do nothing.
        calls.push(`  ${dispatchCall(source, name, pass.launch, buffer)}`);
      });
    });
    parts.push(`static void run_case_${ci}(char** b) {`, ...calls, '}', '');
    const bytes = c.bufs.map((a) => a.size * (a.dtype === 'bool' ? 1 : 4));
    parts.push(`static const long case_${ci}_bytes[] = {${[...bytes, 0].join(', ')}};`);
    table.push(`    {run_case_${ci}, ${bytes.length}, case_${ci}_bytes},`);
  });
  parts.push('const MgCase kCases[] = {', ...table, '};', `const int kNumCases = ${cases.length};`, '');
  return parts.join('\n');
}

/** A compiled test program; `dispose` removes its folder. */
export interface Compiled {
  exe: string;
  dispose(): void;
}

/** Compiles all cases into one program. Throws with clang's output (and keeps the source) on failure. */
export function compileCases(cases: Case[]): Compiled {
  const probe = spawnSync(CLANG, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${CLANG} is required to compile generated MSL (install it with \`apt-get install -y clang-19\`, or point METALGRAD_CLANGXX at a clang++): ${probe.error?.message ?? probe.stderr}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metalgrad-msl-'));
  const src = path.join(dir, 'kernels.cc');
  const exe = path.join(dir, 'kernels');
  fs.writeFileSync(src, translationUnit(cases));
  const args = ['-x', 'c++', '-std=c++17', '-O2', '-Wall', '-Werror', '-Wno-unknown-attributes', '-Wno-unused-function', '-Wno-unused-variable',
    '-fsanitize=undefined,float-cast-overflow,address', '-fno-sanitize-recover=all', '-I', MSL_DIR, src, '-o', exe];
  try {
    execFileSync(CLANG, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`generated MSL failed to compile (${src}):\n${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
  return { exe, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the compiled cases on their initial buffers; returns the buffers afterwards. */
export function runMsl(exe: string, cases: Case[], initial: TypedArray[][]): TypedArray[][] {
  const input = Buffer.concat(initial.flat().map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  const r = spawnSync(exe, [], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`the compiled MSL kernels failed (status ${r.status}, signal ${r.signal}):\n${r.stderr.toString()}`);
  let at = 0;
  return cases.map((c, ci) =>
    initial[ci].map((b) => {
      const out = b.slice();
      Buffer.from(out.buffer, out.byteOffset, out.byteLength).set(r.stdout.subarray(at, at + b.byteLength));
      at += b.byteLength;
      return out;
    }),
  );
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Distance in units of the last place between two float32 values of the same sign. */
function ulpDistance(a: number, b: number): number {
  const bits = (x: number): number => {
    f32[0] = x;
    return x < 0 ? -(u32[0] & 0x7fffffff) : u32[0];
  };
  return Math.abs(bits(a) - bits(b));
}

/** The first mismatch between `got` (MSL) and `want` (CPU), or null. */
export function mismatch(got: TypedArray, want: TypedArray, dtype: DType, tol: Tolerance): string | null {
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    let ok: boolean;
    if (dtype !== 'float32') ok = g === w;
    else if (Number.isNaN(w) || Number.isNaN(g)) ok = Number.isNaN(w) && Number.isNaN(g);
    else if (tol === 'exact') ok = Object.is(g, w);
    else ok = g === w || Math.abs(g - w) <= tol.atol + tol.rtol * Math.abs(w) || ulpDistance(g, w) <= tol.ulps;
    if (!ok) return `element ${i}: MSL gives ${g}, the CPU ${w}`;
  }
  return null;
}
