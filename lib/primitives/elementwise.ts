/**
 * @file Elementwise primitives (unary, binary, comparisons, select, convert), built from rule
 * factories: a new elementwise op is its dtype constraint, its scalar op and its derivative.
 */

import { ShapedArray } from '../core/aval';
import { DType, DTYPE_CODE, isFloat } from '../core/dtype';
import { shapeStr, shapesEqual } from '../core/shape';
import { bind1, Value } from '../core/trace';
import * as lax from '../lax';
import { contiguousStrides } from '../core/shape';
import { ElementwiseKernel, Instr, ScalarOp } from '../compiler/kernel';
import { BDim, BinaryPrim, ComparePrim, Lowering, PrimitiveDef, Tangent, UnaryPrim, UndefPrimal } from './types';

type DTypeRule = 'float' | 'numeric' | 'logical' | 'integer' | 'any';
const ALLOWED: Record<DTypeRule, readonly DType[]> = {
  float: ['float32'],
  numeric: ['float32', 'int32', 'uint32'],
  logical: ['bool', 'int32', 'uint32'],
  integer: ['int32', 'uint32'],
  any: ['float32', 'int32', 'uint32', 'bool'],
};

/** Operands share a dtype and a shape, except rank-0 operands, which broadcast. */
function elementwiseShape(name: string, avals: ShapedArray[]): number[] {
  let shape: readonly number[] = [];
  for (const a of avals) {
    if (a.ndim === 0) continue;
    if (shape.length === 0) shape = a.shape;
    else if (!shapesEqual(shape, a.shape)) {
      throw new Error(`${name}: operands must have equal shapes (or be rank-0), received ${avals.map((x) => shapeStr(x.shape)).join(' and ')}`);
    }
  }
  return [...shape];
}

function checkDTypes(name: string, avals: ShapedArray[], rule: DTypeRule): DType {
  const dtype = avals[0].dtype;
  for (const a of avals) {
    if (a.dtype !== dtype) throw new Error(`${name}: operands must have equal dtypes, received ${avals.map((x) => x.dtype).join(' and ')}`);
  }
  if (!ALLOWED[rule].includes(dtype)) throw new TypeError(`${name}: operands must be ${ALLOWED[rule].join(' or ')}, received ${dtype}`);
  return dtype;
}

const allWeak = (avals: ShapedArray[]): boolean => avals.every((a) => a.weakType);

/** One kernel: load the operands (rank-0 ones broadcast), apply `op` once, store. */
export function lowerElementwise(ins: ShapedArray[], out: ShapedArray, op: ScalarOp, kind: DType, extra: Partial<Instr> = {}): Lowering {
  const shape = [...out.shape];
  const full = contiguousStrides(shape);
  const n = ins.length;
  const kernel: ElementwiseKernel = {
    kind: 'elementwise',
    shape,
    inputs: ins.map((a, i) => ({ dtype: a.dtype, view: { arg: i, offset: 0, strides: a.ndim === 0 ? shape.map(() => 0) : full } })),
    outputs: [{ dtype: out.dtype, view: { arg: n, offset: 0, strides: full }, reg: n }],
    nregs: n + 1,
    instrs: [{ op, kind, dst: n, a: 0, b: n > 1 ? 1 : -1, c: n > 2 ? 2 : -1, ...extra }],
    consts: [],
  };
  return { kernels: [kernel], temps: [] };
}

/**
 * Batching for elementwise ops: batched operands get their batch axis in front; unbatched operands
 * are broadcast along it (rank-0 ones stay scalars when the result is rank-0 too).
 */
export function vmapElementwise(prim: (args: Value[]) => Value, args: Value[], dims: BDim[]): [Value[], BDim[]] {
  const i0 = dims.findIndex((d) => d !== null);
  const size = args[i0].aval.shape[dims[i0] as number];
  const logical = args.map((a, i) => (dims[i] === null ? a.aval.shape : a.aval.shape.filter((_, j) => j !== dims[i])));
  const outShape = logical.find((s) => s.length > 0) ?? [];
  const rank = outShape.length;
  const moved = args.map((a, i) => {
    const d = dims[i];
    if (d === null) {
      if (a.ndim === 0 && rank === 0) return a;
      if (a.ndim === 0) return lax.broadcastInDim(a, [size, ...outShape], []);
      return lax.broadcastInDim(a, [size, ...outShape], [...Array(rank).keys()].map((k) => k + 1));
    }
    const front = lax.moveAxis(a, d, 0);
    if (logical[i].length === 0 && rank > 0) return lax.broadcastInDim(front, [size, ...outShape], [0]);
    return front;
  });
  return [[prim(moved)], [0]];
}

/** Sums `ct` down to the operand's shape when the operand was a broadcast rank-0 value. */
function unbroadcast(ct: Value, aval: ShapedArray): Value {
  let r = ct;
  if (aval.ndim === 0 && r.ndim > 0) r = lax.reduceSum(r, [...Array(r.ndim).keys()]);
  return lax.convert(r, aval.dtype, aval.weakType);
}

function sumTangents(ts: Tangent[]): Tangent {
  let acc: Tangent = null;
  for (const t of ts) if (t !== null) acc = acc === null ? t : lax.add(acc, t);
  return acc;
}

/** Is this operand floating point (so that it carries a tangent)? */
const differentiable = (x: Value): boolean => isFloat(x.dtype);

type Contribution = (t: Value, primals: Value[], out: Value) => Value;

/** A unary elementwise primitive. `deriv` gives the tangent contribution (`null` = constant). */
function unaryDef(p: UnaryPrim, rule: DTypeRule, deriv: Contribution | null, op: ScalarOp = p): PrimitiveDef<UnaryPrim> {
  const apply = (args: Value[]): Value => bind1(p, args, {});
  return {
    scalarOp: op,
    abstractEval([x]) {
      const dtype = checkDTypes(p, [x], rule);
      return [new ShapedArray(x.shape, dtype, x.weakType)];
    },
    jvp(primals, [t]) {
      const out = apply(primals);
      const tout = deriv && t !== null && differentiable(primals[0]) ? deriv(t, primals, out) : null;
      return [[out], [tout]];
    },
    transpose: p === 'neg' ? ([ct]) => [ct === null ? null : lax.neg(ct)] : null,
    vmap: (args, dims) => [[apply(args)], dims],
    lower: (ins, [out]) => lowerElementwise(ins, out, op, ins[0].dtype),
  };
}

/** A binary elementwise primitive with per-operand derivative contributions. */
function binaryDef(
  p: BinaryPrim,
  rule: DTypeRule,
  derivs: [Contribution, Contribution] | null,
  transpose: PrimitiveDef<BinaryPrim>['transpose'] = null,
): PrimitiveDef<BinaryPrim> {
  const apply = (args: Value[]): Value => bind1(p, args, {});
  return {
    scalarOp: p,
    abstractEval(avals) {
      const dtype = checkDTypes(p, avals, rule);
      return [new ShapedArray(elementwiseShape(p, avals), dtype, allWeak(avals))];
    },
    jvp(primals, tangents) {
      const out = apply(primals);
      if (!derivs || !differentiable(out)) return [[out], [null]];
      const contribs = tangents.map((t, i) => (t === null ? null : derivs[i](t, primals, out)));
      return [[out], [sumTangents(contribs)]];
    },
    transpose,
    vmap: (args, dims) => vmapElementwise(apply, args, dims),
    lower: (ins, [out]) => lowerElementwise(ins, out, p, ins[0].dtype),
  };
}

function compareDef(p: ComparePrim): PrimitiveDef<ComparePrim> {
  const apply = (args: Value[]): Value => lax[p](args[0], args[1]);
  return {
    scalarOp: p,
    abstractEval(avals) {
      checkDTypes(p, avals, 'any');
      return [new ShapedArray(elementwiseShape(p, avals), 'bool', false)];
    },
    jvp: (primals) => [[apply(primals)], [null]],
    transpose: null,
    vmap: (args, dims) => vmapElementwise(apply, args, dims),
    lower: (ins, [out]) => lowerElementwise(ins, out, p, ins[0].dtype),
  };
}

const one = (x: Value): Value => lax.scalarLike(1, x);
const half = (x: Value): Value => lax.scalarLike(0.5, x);

/** d max(x, y)/dx is 1 where x wins, 0.5 at ties (as JAX), 0 where y wins. */
function maxMinShare(winner: (a: Value, b: Value) => Value): (self: Value, other: Value) => Value {
  return (self, other) => {
    const s = lax.select(winner(self, other), one(self), lax.scalarLike(0, self));
    return lax.select(lax.eq(self, other), half(self), s);
  };
}
const maxShare = maxMinShare(lax.gt);
const minShare = maxMinShare(lax.lt);

function linearInEach(signs: [number, number]): NonNullable<PrimitiveDef<BinaryPrim>['transpose']> {
  return ([ct], args) => {
    if (ct === null) return [null, null];
    return args.map((a, i) => {
      if (!(a instanceof UndefPrimal)) return null;
      return unbroadcast(signs[i] < 0 ? lax.neg(ct) : ct, a.aval);
    });
  };
}

export const elementwiseDefs = {
  neg: unaryDef('neg', 'numeric', (t) => lax.neg(t)),
  exp: unaryDef('exp', 'float', (t, _, y) => lax.mul(t, y)),
  log: unaryDef('log', 'float', (t, [x]) => lax.div(t, x)),
  log1p: unaryDef('log1p', 'float', (t, [x]) => lax.div(t, lax.add(x, one(x)))),
  expm1: unaryDef('expm1', 'float', (t, _, y) => lax.mul(t, lax.add(y, one(y)))),
  sin: unaryDef('sin', 'float', (t, [x]) => lax.mul(t, lax.cos(x))),
  cos: unaryDef('cos', 'float', (t, [x]) => lax.neg(lax.mul(t, lax.sin(x)))),
  tanh: unaryDef('tanh', 'float', (t, _, y) => lax.mul(t, lax.sub(one(y), lax.mul(y, y)))),
  sqrt: unaryDef('sqrt', 'float', (t, _, y) => lax.div(lax.mul(t, half(y)), y)),
  // Derivative +1 at 0, as JAX.
  abs: unaryDef('abs', 'numeric', (t, [x]) => lax.select(lax.ge(x, lax.scalarLike(0, x)), t, lax.neg(t))),
  sign: unaryDef('sign', 'numeric', null),
  erf: unaryDef('erf', 'float', (t, [x]) => lax.mul(t, lax.mul(lax.scalarLike(2 / Math.sqrt(Math.PI), x), lax.exp(lax.neg(lax.mul(x, x)))))),
  floor: unaryDef('floor', 'float', null),
  ceil: unaryDef('ceil', 'float', null),
  not: unaryDef('not', 'logical', null),
  // d erfinv(x)/dx = sqrt(pi)/2 exp(erfinv(x)^2).
  erf_inv: unaryDef('erf_inv', 'float', (t, _, y) => lax.mul(t, lax.mul(lax.scalarLike(Math.sqrt(Math.PI) / 2, y), lax.exp(lax.mul(y, y))))),

  add: binaryDef('add', 'numeric', [(t) => t, (t) => t], linearInEach([1, 1])),
  sub: binaryDef('sub', 'numeric', [(t) => t, (t) => lax.neg(t)], linearInEach([1, -1])),
  mul: binaryDef('mul', 'numeric', [(t, [, y]) => lax.mul(t, y), (t, [x]) => lax.mul(x, t)], ([ct], [x, y]) => {
    if (ct === null) return [null, null];
    if (x instanceof UndefPrimal && y instanceof UndefPrimal) throw new Error('mul: transpose of a product of two linear values (not linear)');
    if (x instanceof UndefPrimal) return [unbroadcast(lax.mul(ct, y as Value), x.aval), null];
    if (y instanceof UndefPrimal) return [null, unbroadcast(lax.mul(x as Value, ct), y.aval)];
    return [null, null];
  }),
  div: binaryDef('div', 'numeric', [(t, [, y]) => lax.div(t, y), (t, [, y], out) => lax.neg(lax.div(lax.mul(t, out), y))], ([ct], [x, y]) => {
    if (y instanceof UndefPrimal) throw new Error('div: transpose with respect to the divisor (not linear)');
    if (ct === null || !(x instanceof UndefPrimal)) return [null, null];
    return [unbroadcast(lax.div(ct, y as Value), x.aval), null];
  }),
  pow: binaryDef('pow', 'numeric', [
    // d/dx x^y = y x^(y-1), taken as 0 where y == 0 (so 0^0 has derivative 0, as in JAX).
    (t, [x, y]) => {
      const y1 = lax.sub(y, one(y));
      const d = lax.select(lax.eq(y, lax.scalarLike(0, y)), lax.scalarLike(0, y), lax.mul(y, lax.pow(x, y1)));
      return lax.mul(t, d);
    },
    // d/dy x^y = log(x) x^y, taken as 0 where x == 0.
    (t, [x], out) => {
      const zero = lax.scalarLike(0, x);
      const isZero = lax.eq(x, zero);
      const safeX = lax.select(isZero, one(x), x);
      return lax.mul(t, lax.select(isZero, zero, lax.mul(lax.log(safeX), out)));
    },
  ]),
  max: binaryDef('max', 'any', [(t, [x, y]) => lax.mul(t, maxShare(x, y)), (t, [x, y]) => lax.mul(t, maxShare(y, x))]),
  min: binaryDef('min', 'any', [(t, [x, y]) => lax.mul(t, minShare(x, y)), (t, [x, y]) => lax.mul(t, minShare(y, x))]),
  and: binaryDef('and', 'logical', null),
  or: binaryDef('or', 'logical', null),
  xor: binaryDef('xor', 'logical', null),
  // Shift amounts are read as unsigned: 32 or more (or negative) shifts every bit out (XLA).
  shift_left: binaryDef('shift_left', 'integer', null),
  shift_right_logical: binaryDef('shift_right_logical', 'integer', null),
  shift_right_arithmetic: binaryDef('shift_right_arithmetic', 'integer', null),

  lt: compareDef('lt'),
  le: compareDef('le'),
  gt: compareDef('gt'),
  ge: compareDef('ge'),
  eq: compareDef('eq'),
  ne: compareDef('ne'),

  select: {
    scalarOp: 'select',
    abstractEval([p, a, b]) {
      if (p.dtype !== 'bool') throw new TypeError(`select: the predicate must be bool, received ${p.dtype}`);
      const dtype = checkDTypes('select', [a, b], 'any');
      return [new ShapedArray(elementwiseShape('select', [p, a, b]), dtype, a.weakType && b.weakType)];
    },
    jvp([p, a, b], [, ta, tb]) {
      const out = lax.select(p, a, b);
      if (ta === null && tb === null) return [[out], [null]];
      return [[out], [lax.select(p, ta ?? lax.zerosLike(a), tb ?? lax.zerosLike(b))]];
    },
    transpose([ct], [p, a, b]) {
      if (p instanceof UndefPrimal) throw new Error('select: transpose with respect to the predicate (not linear)');
      if (ct === null) return [null, null, null];
      const zero = lax.zerosLike(ct);
      return [
        null,
        a instanceof UndefPrimal ? unbroadcast(lax.select(p, ct, zero), a.aval) : null,
        b instanceof UndefPrimal ? unbroadcast(lax.select(p, zero, ct), b.aval) : null,
      ];
    },
    vmap: (args, dims) => vmapElementwise((xs) => lax.select(xs[0], xs[1], xs[2]), args, dims),
    lower: (ins, [out]) => lowerElementwise(ins, out, 'select', out.dtype),
  } satisfies PrimitiveDef<'select'>,

  convert: {
    scalarOp: 'convert',
    abstractEval([x], { dtype, weakType }) {
      return [new ShapedArray(x.shape, dtype, weakType)];
    },
    jvp([x], [t], params) {
      const out = lax.convert(x, params.dtype, params.weakType);
      const keeps = isFloat(x.dtype) && isFloat(params.dtype);
      return [[out], [keeps && t !== null ? lax.convert(t, params.dtype, params.weakType) : null]];
    },
    transpose([ct], [x]) {
      const aval = (x as UndefPrimal).aval;
      return [ct === null ? null : lax.convert(ct, aval.dtype, aval.weakType)];
    },
    vmap: ([x], dims, p) => [[lax.convert(x, p.dtype, p.weakType)], dims],
    lower: (ins, [out]) => lowerElementwise(ins, out, 'convert', out.dtype, { b: DTYPE_CODE[ins[0].dtype] }),
  } satisfies PrimitiveDef<'convert'>,

  /** Reinterprets the 32 bits of each element as another 32-bit dtype (not differentiable). */
  bitcast_convert_type: {
    scalarOp: 'bitcast_convert_type',
    abstractEval([x], { dtype }) {
      const widths = ALLOWED.numeric;
      if (!widths.includes(x.dtype)) throw new TypeError(`bitcastConvertType: the operand must be ${widths.join(' or ')} (32-bit), received ${x.dtype}`);
      if (!widths.includes(dtype)) throw new TypeError(`bitcastConvertType: the new dtype must be ${widths.join(' or ')} (32-bit), received ${String(dtype)}`);
      return [new ShapedArray(x.shape, dtype, false)];
    },
    jvp: ([x], _, p) => [[lax.bitcastConvertType(x, p.dtype)], [null]],
    transpose: null,
    vmap: ([x], dims, p) => [[lax.bitcastConvertType(x, p.dtype)], dims],
    lower: (ins, [out]) => lowerElementwise(ins, out, 'bitcast_convert_type', out.dtype, { b: DTYPE_CODE[ins[0].dtype] }),
  } satisfies PrimitiveDef<'bitcast_convert_type'>,

  stop_gradient: {
    abstractEval: ([x]) => [x],
    jvp: ([x]) => [[lax.stopGradient(x)], [null]],
    transpose: null,
    vmap: ([x], dims) => [[lax.stopGradient(x)], dims],
    lower: (ins, [out]) => lowerElementwise(ins, out, 'copy', out.dtype),
  } satisfies PrimitiveDef<'stop_gradient'>,
};
