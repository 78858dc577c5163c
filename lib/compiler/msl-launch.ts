/**
 * @file How generated Metal kernels are launched and how their threads share work: the launch
 * (`MslLaunch`, a 1-D grid of 256-thread threadgroups), the layout of a reduction (which dims are
 * kept and reduced, and how many threads cooperate on each output, chosen from the shapes), the
 * MSL of the stage where those threads combine their partials, and the grid of the tiled matmul
 * shader (shaders/matmul.metal). lib/compiler/msl.ts generates the kernels around these.
 */

import { DType } from '../core/dtype';
import { sizeOf } from '../core/shape';
import { MatmulKernel, ReduceKernel, View } from './kernel';

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

/** How the partials of a reduction combine: `combine` is the `mg_<op>` function, `identity` its unit. */
export interface Fold {
  op: ReduceKernel['op'];
  /** The accumulator's kind (`accKind` of the reduction's dtype). */
  kind: DType;
  combine: string;
  identity: string;
}

/** `x` combined over the lanes of a SIMD-group; lane 0 holds the result (every lane, for builtins). */
function simdCombine(op: ReduceKernel['op'], t: DType, x: string, pad: string): string {
  // Metal leaves NaN handling of simd_max/simd_min on floats open: fold those with mg_max/mg_min.
  if (t === 'float32' && (op === 'max' || op === 'min')) return `${pad}for (ushort d = ${SIMD_WIDTH / 2}; d > 0; d /= 2) ${x} = mg_${op}(${x}, simd_shuffle_down(${x}, d));`;
  const fn = { sum: 'simd_sum', prod: 'simd_product', max: 'simd_max', min: 'simd_min' }[op];
  return `${pad}${x} = ${fn}(${x});`;
}

/**
 * After each thread's fold: the lanes of an output combine their partials and one of them stores
 * the result (`store(x)`), if `guard` (a condition, '' for none) holds. `first` names the thread's
 * index among its output's lanes; the kernel names its partials `partial` and its positions `tid`,
 * `sg`, `lane` (and `slice` in the column form).
 */
export function combineLines(l: ReductionLayout, fold: Fold, simd: boolean, first: string, guard: string, store: (x: string) => string): string[] {
  const { op, kind: t, combine } = fold;
  const perGroup = GROUP_SIZE / l.lanes;
  if (l.lanes === COLUMN_LANES) {
    return [
      '  partial[tid] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (slice == 0) {',
      `    for (uint s = 1; s < ${COLUMN_LANES}u; ++s) acc = ${combine}(acc, partial[s * ${perGroup}u + tid]);`,
      `    ${guard ? `if (${guard}) ` : ''}${store('acc')}`,
      '  }',
    ];
  }
  if (simd && l.lanes === SIMD_WIDTH) return [simdCombine(op, t, 'acc', '  '), `  if (lane == 0) ${store('acc')}`];
  if (simd) {
    // Each SIMD-group combines its lanes, then the first SIMD-group combines the groups' partials.
    return [
      simdCombine(op, t, 'acc', '  '),
      '  if (lane == 0) partial[sg] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (sg == 0) {',
      `    acc = lane < ${GROUP_SIZE / SIMD_WIDTH}u ? partial[lane] : ${fold.identity};`,
      simdCombine(op, t, 'acc', '    '),
      `    if (lane == 0) ${store('acc')}`,
      '  }',
    ];
  }
  // A tree over the lanes' partials, halving the active lanes at each barrier.
  return [
    '  partial[tid] = acc;',
    `  for (uint s = ${l.lanes / 2}u; s > 0; s /= 2) {`,
    '    threadgroup_barrier(mem_flags::mem_threadgroup);',
    `    if (${first} < s) partial[tid] = ${combine}(partial[tid], partial[tid + s]);`,
    '  }',
    `  if (${first} == 0${guard ? ` && ${guard}` : ''}) ${store('partial[tid]')}`,
  ];
}

/** Rows and columns of C per threadgroup, and bytes of each staged tile (as in shaders/matmul.metal). */
export const MATMUL_TILE = 64;
export const MATMUL_TILE_BYTES = MATMUL_TILE * 16 * 4;

export function matmulTiles(k: MatmulKernel): number {
  return k.batch * Math.ceil(k.m / MATMUL_TILE) * Math.ceil(k.n / MATMUL_TILE);
}
