/**
 * @file The primitive set and the shape of a primitive definition. Every primitive has all of its
 * rules in one `PrimitiveDef`; the table in ./index.ts is typed as exhaustive over `Prim`.
 */

import type { ShapedArray } from '../core/aval';
import type { DType } from '../core/dtype';
import type { Value } from '../core/trace';
import type { Kernel, ScalarOp, ScatterOp } from '../compiler/kernel';
import type { TypedArray } from '../core/dtype';
import type { ClosedJaxpr } from '../ir/jaxpr';
import type { PartialEvalTrace } from '../ir/partial-eval';

type NoParams = Record<string, never>;

export const UNARY_PRIMS = ['neg', 'exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'tanh', 'sqrt', 'abs', 'sign', 'erf', 'floor', 'ceil', 'not', 'erf_inv'] as const;
export const BINARY_PRIMS = [
  'add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'and', 'or',
  'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic',
] as const;
export const COMPARE_PRIMS = ['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const;
export type UnaryPrim = (typeof UNARY_PRIMS)[number];
export type BinaryPrim = (typeof BINARY_PRIMS)[number];
export type ComparePrim = (typeof COMPARE_PRIMS)[number];

export interface DotDims {
  lhsContract: number[];
  rhsContract: number[];
  lhsBatch: number[];
  rhsBatch: number[];
}

/** Each primitive's parameters (plain JSON data: they key caches and CSE). */
export type Params = { [P in UnaryPrim | BinaryPrim | ComparePrim]: NoParams } & {
  select: NoParams;
  convert: { dtype: DType; weakType: boolean };
  reduce_sum: { axes: number[] };
  reduce_max: { axes: number[] };
  reduce_min: { axes: number[] };
  reduce_prod: { axes: number[] };
  argmax: { axis: number };
  argmin: { axis: number };
  dot_general: DotDims;
  reshape: { shape: number[] };
  transpose: { perm: number[] };
  broadcast_in_dim: { shape: number[]; dims: number[] };
  concatenate: { axis: number };
  slice: { start: number[]; limit: number[]; strides: number[] };
  pad: { lo: number[]; hi: number[]; interior: number[]; value: number };
  stop_gradient: NoParams;
  bitcast_convert_type: { dtype: DType };
  rev: { dims: number[] };
  gather: { axis: number; batchDims: number };
  scatter: { axis: number; batchDims: number; op: ScatterOp; mode: 'clip' | 'drop' };
  sort: { descending: boolean };
  cumsum: { axis: number; reverse: boolean };
  cumprod: { axis: number; reverse: boolean };
  cummax: { axis: number; reverse: boolean };
  cummin: { axis: number; reverse: boolean };
  /** Structured control flow: inputs [index, operands...]; runs `branches[index]` (index clamped). */
  cond: { branches: ClosedJaxpr[] };
  /** Inputs [consts, carry, xs]; the body maps [consts, carry, x] to [carry, y]; outputs [carry, ys]. */
  scan: { jaxpr: ClosedJaxpr; numConsts: number; numCarry: number; length: number; reverse: boolean };
  /** Inputs [cond consts, body consts, carry]; loops while `condJaxpr` (a bool scalar) holds. */
  while: { condJaxpr: ClosedJaxpr; bodyJaxpr: ClosedJaxpr; condNconsts: number; bodyNconsts: number };
};

export type Prim = keyof Params;

/** A tangent; `null` is a symbolic zero (no work is done for it). */
export type Tangent = Value | null;
/** The mapped axis of a batched value, or `null` when the value is not batched. */
export type BDim = number | null;

/** Stands for a linear input of a transpose rule: only its abstract value is known. */
export class UndefPrimal {
  constructor(readonly aval: ShapedArray) {}
}

export interface PrimitiveDef<P extends Prim> {
  /** Shape and dtype rule; throws a clear error for invalid operands. */
  abstractEval(avals: ShapedArray[], params: Params[P]): ShapedArray[];
  /** Forward-mode rule: outputs and their tangents, given primal inputs and their tangents. */
  jvp(primals: Value[], tangents: Tangent[], params: Params[P]): [Value[], Tangent[]];
  /**
   * For primitives linear in some inputs: the cotangents of the linear inputs (`UndefPrimal`s)
   * given output cotangents (`null` = zero). `null` for primitives that are never linear.
   */
  transpose: ((cts: Tangent[], args: (Value | UndefPrimal)[], params: Params[P]) => Tangent[]) | null;
  /** Batching rule: outputs and their batch axes. */
  vmap(args: Value[], dims: BDim[], params: Params[P]): [Value[], BDim[]];
  /** Lowering to kernels over args [inputs..., outputs..., temps...] (all contiguous buffers). */
  lower(ins: ShapedArray[], outs: ShapedArray[], params: Params[P]): Lowering;
  /** For elementwise primitives: the scalar op they compute (fusion and MSL use this name). */
  scalarOp?: ScalarOp;
  /**
   * For higher-order primitives under partial evaluation (linearize): splits an application whose
   * inputs are partly known into work done now and an equation staged on the unknown inputs.
   */
  partialEval?(trace: PartialEvalTrace, args: Value[], params: Params[P]): Value[];
  /**
   * For higher-order primitives: dead-code elimination given which outputs are used. Returns params
   * (of this primitive) computing only `keptOutputs` (a superset of the used ones) from the `usedInputs`.
   */
  dce?(params: Params[P], usedOutputs: boolean[]): { params: object; keptOutputs: boolean[]; usedInputs: boolean[] };
}

/** A step run on the host (control flow): reads `ins`, fills `outs` (both exactly sized). */
export type HostRun = (ins: TypedArray[], outs: TypedArray[]) => void;

/**
 * Kernels for one equation, plus scratch buffers they need (args after the outputs). Control flow
 * lowers to no kernels and a `host` step that runs nested plans instead.
 */
export interface Lowering {
  kernels: Kernel[];
  temps: ShapedArray[];
  host?: HostRun;
}

export type PrimitiveTable = { [P in Prim]: PrimitiveDef<P> };
