/**
 * @file Kernel IR: what a primitive (and later a fused group) lowers to, independent of the backend.
 * A kernel names its operands by index (`arg`); the plan maps those indices to buffers.
 */

import { DType } from '../core/dtype';

/** Scalar ops in the native ABI's opcode order (native/cpu/ops.h and native/ABI.md). */
export const SCALAR_OPS = [
  'copy', 'const', 'convert', 'neg', 'exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'tanh', 'sqrt',
  'abs', 'sign', 'erf', 'floor', 'ceil', 'add', 'sub', 'mul', 'div', 'pow', 'max', 'min',
  'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'not', 'select',
  'erf_inv', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic', 'bitcast_convert_type',
] as const;
export type ScalarOp = (typeof SCALAR_OPS)[number];

/** Ops whose `b` operand is the source dtype code rather than a register (the ABI's convert form). */
export const SOURCE_KIND_OPS: ReadonlySet<ScalarOp> = new Set<ScalarOp>(['convert', 'bitcast_convert_type']);

/** A strided window into operand `arg` (element units). */
export interface View {
  arg: number;
  offset: number;
  strides: number[];
}

/** `dst = op(a, b, c)` computed in dtype `kind`; for `const`, `a` indexes the kernel's `consts`. */
export interface Instr {
  op: ScalarOp;
  kind: DType;
  dst: number;
  a: number;
  b: number;
  c: number;
}

export interface ElementwiseKernel {
  kind: 'elementwise';
  shape: number[];
  /** Input i is loaded into register i. */
  inputs: { dtype: DType; view: View }[];
  outputs: { dtype: DType; view: View; reg: number }[];
  nregs: number;
  instrs: Instr[];
  consts: number[];
  /**
   * A reduction fused onto the program (its prologue): register `reg` is also reduced over `axes`
   * of `shape` into `output`, contiguous over the kept axes in order. Every index of `shape` is
   * still visited once, so `outputs` are stored as usual.
   */
  reduce?: ElementwiseReduce;
}

export interface ElementwiseReduce {
  op: ReduceKernel['op'];
  /** The kind of `reg` and the output's dtype. */
  dtype: DType;
  reg: number;
  axes: number[];
  output: { arg: number; offset: number };
  epilogue?: Epilogue;
}

/**
 * Elementwise work on the result of a reduction or matmul (its epilogue), run on each finished
 * block of the result while it is in cache. `kernel` runs over the result's shape (it has no
 * reduction of its own); its input `src` is the result, read through a contiguous view of where the
 * step writes it: the result's own buffer when it is used elsewhere, otherwise an output of the
 * epilogue with the same layout, which the epilogue then overwrites in place. Element i of the
 * epilogue reads element i of the result only, so blocks are independent.
 */
export interface Epilogue {
  kernel: ElementwiseKernel;
  src: number;
}

export interface ReduceKernel {
  kind: 'reduce';
  op: 'sum' | 'prod' | 'max' | 'min';
  dtype: DType;
  shape: number[];
  input: View;
  axes: number[];
  output: { arg: number; offset: number };
  epilogue?: Epilogue;
}

export interface ArgReduceKernel {
  kind: 'argreduce';
  op: 'argmax' | 'argmin';
  dtype: DType;
  shape: number[];
  input: View;
  axis: number;
  output: { arg: number; offset: number };
}

/** Batched C[b] = A[b] @ B[b]; strides are [batch, row, col] of each matrix. */
export interface MatmulKernel {
  kind: 'matmul';
  dtype: DType;
  batch: number;
  m: number;
  n: number;
  k: number;
  a: View;
  b: View;
  c: View;
  /** Runs on each finished block of C; needs C contiguous ([m * n, n, 1] from `c.offset`). */
  epilogue?: Epilogue;
}

/** The output shares the input's buffer (a reshape of a contiguous array). */
export interface AliasKernel {
  kind: 'alias';
  input: number;
  output: number;
}

/** A contiguous block of operand `arg` starting at element `offset`. */
export interface Block {
  arg: number;
  offset: number;
}

/** Gather/scatter sizes: x [nb, np, n, nq], indices [nb, ns], gathered / updates [nb, np, ns, nq]. */
export interface IndexDims {
  nb: number;
  np: number;
  n: number;
  ns: number;
  nq: number;
}

/** out[b, p, s, q] = x[b, p, clamp(idx[b, s], 0, n - 1), q]. */
export interface GatherKernel {
  kind: 'gather';
  dtype: DType;
  dims: IndexDims;
  x: Block;
  indices: Block;
  output: Block;
}

export type ScatterOp = 'add' | 'set' | 'mul' | 'min' | 'max';

/** out[b, p, idx[b, s], q] op= updates[b, p, s, q] in order of s; out-of-range indices clamp or drop. */
export interface ScatterKernel {
  kind: 'scatter';
  op: ScatterOp;
  mode: 'clip' | 'drop';
  dtype: DType;
  dims: IndexDims;
  updates: Block;
  indices: Block;
  output: Block;
}

/** Stable sort of `rows` contiguous rows of `n` elements, with the int32 source positions. */
export interface SortKernel {
  kind: 'sort';
  dtype: DType;
  descending: boolean;
  rows: number;
  n: number;
  input: Block;
  output: Block;
  indices: Block;
}

/** Inclusive scan along the middle axis of [outer, n, inner]. */
export interface ScanKernel {
  kind: 'scan';
  op: 'sum' | 'prod' | 'max' | 'min';
  dtype: DType;
  reverse: boolean;
  outer: number;
  n: number;
  inner: number;
  input: Block;
  output: Block;
}

export type Kernel = ElementwiseKernel | ReduceKernel | ArgReduceKernel | MatmulKernel | AliasKernel | GatherKernel | ScatterKernel | SortKernel | ScanKernel;

/** The epilogue of a kernel, if it has one. */
export function epilogueOf(k: Kernel): Epilogue | undefined {
  if (k.kind === 'elementwise') return k.reduce?.epilogue;
  return k.kind === 'reduce' || k.kind === 'matmul' ? k.epilogue : undefined;
}

/** The arg indices a kernel reads and writes. */
export function kernelArgs(k: Kernel): { reads: number[]; writes: number[] } {
  const own = ownArgs(k);
  const e = epilogueOf(k);
  if (!e) return own;
  const epi = ownArgs(e.kernel);
  // The epilogue's src reads the kernel's own result, not a buffer from outside.
  return { reads: [...own.reads, ...epi.reads.filter((_, i) => i !== e.src)], writes: [...own.writes, ...epi.writes] };
}

function ownArgs(k: Kernel): { reads: number[]; writes: number[] } {
  switch (k.kind) {
    case 'elementwise':
      return { reads: k.inputs.map((i) => i.view.arg), writes: [...k.outputs.map((o) => o.view.arg), ...(k.reduce ? [k.reduce.output.arg] : [])] };
    case 'reduce':
    case 'argreduce':
      return { reads: [k.input.arg], writes: [k.output.arg] };
    case 'matmul':
      return { reads: [k.a.arg, k.b.arg], writes: [k.c.arg] };
    case 'alias':
      return { reads: [k.input], writes: [k.output] };
    case 'gather':
      return { reads: [k.x.arg, k.indices.arg], writes: [k.output.arg] };
    case 'scatter':
      // The output is read too: updates combine with what is there.
      return { reads: [k.updates.arg, k.indices.arg, k.output.arg], writes: [k.output.arg] };
    case 'sort':
      return { reads: [k.input.arg], writes: [k.output.arg, k.indices.arg] };
    case 'scan':
      return { reads: [k.input.arg], writes: [k.output.arg] };
  }
}

/** Returns a copy of `k` with every arg index mapped through `f`. */
export function remapKernel(k: Kernel, f: (arg: number) => number): Kernel {
  const v = (x: View): View => ({ ...x, arg: f(x.arg) });
  const b = (x: Block): Block => ({ ...x, arg: f(x.arg) });
  const epi = (e: Epilogue | undefined) => (e ? { epilogue: { ...e, kernel: remapKernel(e.kernel, f) as ElementwiseKernel } } : {});
  switch (k.kind) {
    case 'elementwise':
      return {
        ...k,
        inputs: k.inputs.map((i) => ({ ...i, view: v(i.view) })),
        outputs: k.outputs.map((o) => ({ ...o, view: v(o.view) })),
        ...(k.reduce ? { reduce: { ...k.reduce, output: { ...k.reduce.output, arg: f(k.reduce.output.arg) }, ...epi(k.reduce.epilogue) } } : {}),
      };
    case 'reduce':
      return { ...k, input: v(k.input), output: { ...k.output, arg: f(k.output.arg) }, ...epi(k.epilogue) };
    case 'argreduce':
      return { ...k, input: v(k.input), output: { ...k.output, arg: f(k.output.arg) } };
    case 'matmul':
      return { ...k, a: v(k.a), b: v(k.b), c: v(k.c), ...epi(k.epilogue) };
    case 'alias':
      return { ...k, input: f(k.input), output: f(k.output) };
    case 'gather':
      return { ...k, x: b(k.x), indices: b(k.indices), output: b(k.output) };
    case 'scatter':
      return { ...k, updates: b(k.updates), indices: b(k.indices), output: b(k.output) };
    case 'sort':
      return { ...k, input: b(k.input), output: b(k.output), indices: b(k.indices) };
    case 'scan':
      return { ...k, input: b(k.input), output: b(k.output) };
  }
}

/** out[view] = in[view] over `shape` (transposes, broadcasts, slices and pads are strided copies). */
export function copyKernel(shape: number[], dtype: DType, input: View, output: View): ElementwiseKernel {
  return {
    kind: 'elementwise',
    shape,
    inputs: [{ dtype, view: input }],
    outputs: [{ dtype, view: output, reg: 1 }],
    nregs: 2,
    instrs: [{ op: 'copy', kind: dtype, dst: 1, a: 0, b: -1, c: -1 }],
    consts: [],
  };
}

/** out[view] = value over `shape`. */
export function fillKernel(shape: number[], dtype: DType, value: number, output: View): ElementwiseKernel {
  return {
    kind: 'elementwise',
    shape,
    inputs: [],
    outputs: [{ dtype, view: output, reg: 0 }],
    nregs: 1,
    instrs: [{ op: 'const', kind: dtype, dst: 0, a: 0, b: -1, c: -1 }],
    consts: [value],
  };
}
