/**
 * @file How generated Metal kernels are launched and how their threads share work: the launch
 * (`MslLaunch`, a 1-D grid of 256-thread threadgroups) of every kernel, the layout of a reduction
 * (which dims are kept and reduced, and how many threads cooperate on each output, chosen from the
 * shapes), the two passes of a long reduction with few outputs (`mslPasses`), the grid of the
 * tiled matmul shader (shaders/matmul.metal), and the number of result elements an epilogue runs
 * over. The generators (msl.ts, msl-reduce.ts, msl-matmul.ts) read these.
 */

import { DType } from '../core/dtype';
import { sizeOf } from '../core/shape';
import { ElementwiseKernel, ElementwiseReduce, Kernel, MatmulKernel, ReduceKernel, View } from './kernel';
import { programViews } from './msl-emit';

/** Code generation choices that depend on the device. */
export interface MslOptions {
  /**
   * Use SIMD-group functions (`simd_sum`, `simd_shuffle_down`, ...; Apple7 GPUs and newer, whose
   * SIMD-groups have 32 lanes). Without them reductions combine lanes through threadgroup memory
   * only, which every Metal GPU runs.
   */
  simdgroup: boolean;
}

/** What Apple-silicon Macs (M1 and later) run, and what `lower().kernels` shows. */
export const MSL_DEFAULTS: MslOptions = { simdgroup: true };

/** How a kernel is launched: a 1-D grid of threadgroups (`dispatchThreadgroups:threadsPerThreadgroup:`). */
export interface MslLaunch {
  /** Threadgroups in the grid; 0 means there is nothing to dispatch. */
  groups: number;
  /** Threads per threadgroup; the pipeline must allow at least this many. */
  groupSize: number;
  /** The SIMD-group width the kernel's SIMD-group functions assume, or 0 when it uses none. */
  simdWidth: number;
  /** Bytes of threadgroup memory bound at each `[[threadgroup(i)]]` (multiples of 16). */
  threadgroupMemory: number[];
}

/** Threads per threadgroup of every generated kernel: 8 SIMD-groups of 32 lanes. */
export const GROUP_SIZE = 256;
export const SIMD_WIDTH = 32;

/** Dims of a reduction: `strides[v][d]` is view v's stride along dim d. */
export interface Space {
  dims: number[];
  strides: number[][];
}

/**
 * How a reduction runs: its live dims split into kept ones (output order) and reduced ones, each
 * run of dims that every view walks as one merged; and `lanes`, the threads that cooperate on
 * one output: 1 (a thread folds the whole extent: short extents, and column reductions with many
 * outputs, where neighbouring threads read neighbouring addresses), `COLUMN_LANES` (column
 * reductions with fewer outputs: a threadgroup takes 32 neighbouring outputs, its SIMD-groups
 * split the extent), 32 (a SIMD-group per output) or 256 (the whole threadgroup: long extents, or
 * few outputs).
 */
export interface ReductionLayout {
  kept: Space;
  red: Space;
  outputs: number;
  extent: number;
  lanes: 1 | typeof COLUMN_LANES | 32 | 256;
}

/** Threads per output of the column form (GROUP_SIZE / SIMD_WIDTH): one per SIMD-group, whose lanes take 32 neighbouring outputs. */
export const COLUMN_LANES = 8;

export function reductionLayout(shape: readonly number[], views: readonly View[], inputs: number, axes: readonly number[]): ReductionLayout {
  const kept: Space = { dims: [], strides: views.map(() => []) };
  const red: Space = { dims: [], strides: views.map(() => []) };
  shape.forEach((n, d) => {
    if (n === 1) return;
    const part = axes.includes(d) ? red : kept;
    const last = part.dims.length - 1;
    if (last >= 0 && views.every((v, i) => part.strides[i][last] === v.strides[d] * n)) {
      part.dims[last] *= n;
      views.forEach((v, i) => (part.strides[i][last] = v.strides[d]));
    } else {
      part.dims.push(n);
      views.forEach((v, i) => part.strides[i].push(v.strides[d]));
    }
  });
  const outputs = sizeOf(kept.dims);
  const extent = sizeOf(red.dims);
  // Row-like: some input is contiguous along a reduced dim, so lanes of one output read neighbours.
  // Column-like: some input is contiguous along the innermost kept dim, so neighbouring outputs do.
  const rowLike = red.strides.slice(0, inputs).some((s) => s.some((x) => Math.abs(x) === 1));
  const columnLike = kept.dims.length > 0 && kept.strides.slice(0, inputs).some((s) => Math.abs(s[s.length - 1]) === 1);
  let lanes: ReductionLayout['lanes'] = SIMD_WIDTH;
  if (extent < SIMD_WIDTH || (!rowLike && outputs >= 8192) || (!rowLike && !columnLike && outputs >= 1024)) lanes = 1;
  else if (!rowLike && columnLike && outputs >= SIMD_WIDTH) lanes = COLUMN_LANES;
  else if (extent >= 1024 || (outputs < 64 && extent >= GROUP_SIZE)) lanes = GROUP_SIZE;
  return { kept, red, outputs, extent, lanes };
}

/** Bools reduce as uint 0/1 (max is or, min is and), so SIMD-group functions and tree steps apply. */
export const accKind = (t: DType): DType => (t === 'bool' ? 'uint32' : t);

/** Whether the lanes of an output combine through SIMD-group functions (the column form needs none). */
export const usesSimd = (l: ReductionLayout, options: MslOptions): boolean => options.simdgroup && (l.lanes === SIMD_WIDTH || l.lanes === GROUP_SIZE);

export function reductionLaunch(l: ReductionLayout, options: MslOptions): MslLaunch {
  if (l.outputs === 0) return { groups: 0, groupSize: GROUP_SIZE, simdWidth: 0, threadgroupMemory: [] };
  const simd = usesSimd(l, options);
  // Partials in threadgroup memory: one per SIMD-group (then one SIMD-group combines them), or one
  // per thread for the tree of the baseline form and for the column form.
  const partials = l.lanes === 1 || (simd && l.lanes === SIMD_WIDTH) ? 0 : simd ? GROUP_SIZE / SIMD_WIDTH : GROUP_SIZE;
  return {
    groups: Math.ceil((l.outputs * l.lanes) / GROUP_SIZE),
    groupSize: GROUP_SIZE,
    simdWidth: simd ? SIMD_WIDTH : 0,
    threadgroupMemory: partials === 0 ? [] : [Math.ceil((partials * 4) / 16) * 16],
  };
}

/** Rows and columns of C per threadgroup, and bytes of each staged tile (as in shaders/matmul.metal). */
export const MATMUL_TILE = 64;
export const MATMUL_TILE_BYTES = MATMUL_TILE * 16 * 4;

export function matmulTiles(k: MatmulKernel): number {
  return k.batch * Math.ceil(k.m / MATMUL_TILE) * Math.ceil(k.n / MATMUL_TILE);
}

/**
 * Two-pass reductions. The one-pass layouts give a long reduction with few outputs one threadgroup
 * per output (or one per 32 columns), so `sum(x)` over millions of elements would run on a single
 * threadgroup. With at most `SPLIT_MAX_OUTPUTS` outputs and an extent of at least 2 ×
 * `SPLIT_CHUNK`, pass 1 gives each output `split` = min(⌊extent / SPLIT_CHUNK⌋, ⌊SPLIT_GROUPS /
 * outputs⌋) threadgroups of 256 threads, which fold interleaved slices of its extent (threadgroup g
 * takes elements g·256 + t, stepping split·256: neighbouring threads read neighbouring elements of
 * a row) into one partial each, in a scratch buffer at [o · split + g]; pass 2 is a plain reduction
 * of those [outputs, split] partials that runs the kernel's epilogue once per output. So each pass-1
 * thread folds at least 16 elements, the grid has about `SPLIT_GROUPS` threadgroups, and pass 2
 * reads at most `SPLIT_GROUPS` values, which keeps it one pass.
 */
export const SPLIT_CHUNK = 4096;
export const SPLIT_GROUPS = 1024;
export const SPLIT_MAX_OUTPUTS = 64;

/** Threadgroups per output of pass 1 of a two-pass reduction, or 1 when the layout runs in one pass. */
export function reductionSplit(l: ReductionLayout): number {
  if (l.outputs === 0 || l.outputs > SPLIT_MAX_OUTPUTS || l.extent < 2 * SPLIT_CHUNK) return 1;
  return Math.min(Math.floor(l.extent / SPLIT_CHUNK), Math.floor(SPLIT_GROUPS / l.outputs));
}

/** Which pass of a two-pass reduction a kernel is: 1 folds `split` partials per output, 2 combines them. */
export interface MslStage {
  pass: 1 | 2;
  split: number;
}

/** One launch of a kernel of the IR: the kernel whose bindings and source it runs, and its grid. */
export interface MslPass {
  kernel: Kernel;
  /** Set for the passes of a two-pass reduction (`generateMsl` takes it). */
  stage?: MslStage;
  launch: MslLaunch;
}

/** The launches of one kernel of the IR, and the scratch buffer (of `size` elements) they share, if any. */
export interface MslPasses {
  passes: MslPass[];
  scratch: { arg: number; dtype: DType; size: number } | null;
}

/**
 * How a kernel runs: one launch, or for a long reduction with few outputs (`reductionSplit`) two.
 * Pass 1 is the kernel (its prologue program included) writing partials to the scratch buffer bound
 * as arg `scratchArg`, without its epilogue; pass 2 reduces the partials into the kernel's output
 * and runs its epilogue.
 */
export function mslPasses(kernel: Kernel, options: MslOptions, scratchArg: number): MslPasses {
  const single = (): MslPasses => ({ passes: [{ kernel, launch: mslLaunch(kernel, options) }], scratch: null });
  if (kernel.kind !== 'reduce' && !(kernel.kind === 'elementwise' && kernel.reduce)) return single();
  const l = kernelReductionLayout(kernel);
  const split = reductionSplit(l);
  if (split < 2) return single();
  const partials = { arg: scratchArg, offset: 0 };
  let pass1: Kernel;
  let r: ReduceKernel | ElementwiseReduce;
  if (kernel.kind === 'reduce') {
    r = kernel;
    const { epilogue: _, ...own } = kernel;
    pass1 = { ...own, output: partials };
  } else {
    r = kernel.reduce as ElementwiseReduce;
    const { epilogue: _, ...own } = r;
    pass1 = { ...kernel, reduce: { ...own, output: partials } };
  }
  const epilogue = r.epilogue;
  const pass2: ReduceKernel = {
    kind: 'reduce',
    op: r.op,
    dtype: r.dtype,
    shape: [l.outputs, split],
    input: { arg: scratchArg, offset: 0, strides: [split, 1] },
    axes: [1],
    output: r.output,
    ...(epilogue ? { epilogue } : {}),
  };
  return {
    passes: [
      { kernel: pass1, stage: { pass: 1, split }, launch: reductionLaunch({ ...l, outputs: l.outputs * split, lanes: GROUP_SIZE }, options) },
      { kernel: pass2, stage: { pass: 2, split }, launch: mslLaunch(pass2, options) },
    ],
    scratch: { arg: scratchArg, dtype: r.dtype, size: l.outputs * split },
  };
}

/** The launch of a generated kernel run in one pass (`options` as given to `generateMsl`; see `mslPasses`). */
export function mslLaunch(kernel: Kernel, options: MslOptions = MSL_DEFAULTS): MslLaunch {
  if (kernel.kind === 'reduce' || (kernel.kind === 'elementwise' && kernel.reduce)) return reductionLaunch(kernelReductionLayout(kernel), options);
  if (kernel.kind === 'matmul') return { groups: matmulTiles(kernel), groupSize: GROUP_SIZE, simdWidth: 0, threadgroupMemory: [MATMUL_TILE_BYTES, MATMUL_TILE_BYTES] };
  return { groups: Math.ceil(elementThreads(kernel) / GROUP_SIZE), groupSize: GROUP_SIZE, simdWidth: 0, threadgroupMemory: [] };
}

/** The layout of a plain reduction, or of an elementwise kernel's fused one. */
export function kernelReductionLayout(kernel: ReduceKernel | ElementwiseKernel): ReductionLayout {
  if (kernel.kind === 'reduce') return reductionLayout(kernel.shape, [kernel.input], 1, kernel.axes);
  if (!kernel.reduce) throw new Error('generateMsl: an elementwise kernel without a reduction has no reduction layout');
  return reductionLayout(kernel.shape, programViews(kernel), kernel.inputs.length, kernel.reduce.axes);
}

/**
 * Elements of the result of a reduction (its outputs) or matmul (C): what an epilogue runs over,
 * once per element, by the thread that stores it.
 */
export function resultCount(kernel: Kernel): number {
  if (kernel.kind === 'matmul') return kernel.batch * kernel.m * kernel.n;
  if (kernel.kind === 'reduce' || (kernel.kind === 'elementwise' && kernel.reduce)) return kernelReductionLayout(kernel).outputs;
  throw new Error(`generateMsl: a ${kernel.kind} kernel has no result an epilogue could run on`);
}

/** Threads of a kernel that runs one thread per output element (or line); the grid rounds it up. */
function elementThreads(kernel: Exclude<Kernel, ReduceKernel | MatmulKernel>): number {
  switch (kernel.kind) {
    case 'elementwise':
      return kernel.outputs.length === 0 ? 0 : sizeOf(kernel.shape);
    case 'argreduce':
      return sizeOf(kernel.shape.filter((_, d) => d !== kernel.axis));
    case 'gather':
      return kernel.dims.nb * kernel.dims.np * kernel.dims.ns * kernel.dims.nq;
    case 'scatter':
      return kernel.dims.nb * kernel.dims.np * kernel.dims.nq;
    case 'sort':
      return kernel.rows;
    case 'scan':
      return kernel.outer * kernel.inner;
    case 'alias':
      return 0;
  }
}
