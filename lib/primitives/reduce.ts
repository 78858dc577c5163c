/** @file Reductions (sum, max, min, prod over any axes) and argmax/argmin along one axis. */

import { ShapedArray } from '../core/aval';
import { contiguousStrides, shapeStr } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { BDim, Lowering, Params, PrimitiveDef, Tangent } from './types';

type ReducePrim = 'reduce_sum' | 'reduce_max' | 'reduce_min' | 'reduce_prod';
const KERNEL_OP = { reduce_sum: 'sum', reduce_max: 'max', reduce_min: 'min', reduce_prod: 'prod' } as const;
const apply = (p: ReducePrim, x: Value, axes: number[]): Value => lax[({ reduce_sum: 'reduceSum', reduce_max: 'reduceMax', reduce_min: 'reduceMin', reduce_prod: 'reduceProd' } as const)[p]](x, axes);

function checkAxes(name: string, x: ShapedArray, axes: number[]): void {
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= x.ndim || seen.has(a)) {
      throw new RangeError(`${name}: axes [${axes.join(', ')}] are invalid for an operand of shape ${shapeStr(x.shape)}`);
    }
    seen.add(a);
  }
}

const keptShape = (shape: readonly number[], axes: number[]): number[] => shape.filter((_, i) => !axes.includes(i));
const keptDims = (ndim: number, axes: number[]): number[] => [...Array(ndim).keys()].filter((i) => !axes.includes(i));

/** Broadcasts a reduced value back over the reduced axes. */
function expandBack(r: Value, like: ShapedArray, axes: number[]): Value {
  return lax.broadcastInDim(r, [...like.shape], keptDims(like.ndim, axes));
}

/** Batching: move the batch axis to the front and shift the reduced axes past it. */
function vmapReduce(p: ReducePrim): (args: Value[], dims: BDim[], params: { axes: number[] }) => [Value[], BDim[]] {
  return ([x], [d], { axes }) => [[apply(p, lax.moveAxis(x, d as number, 0), axes.map((a) => a + 1))], [0]];
}

function lowerReduce(p: ReducePrim): (ins: ShapedArray[], outs: ShapedArray[], params: { axes: number[] }) => Lowering {
  return ([x], _outs, { axes }) => ({
    kernels: [{ kind: 'reduce', op: KERNEL_OP[p], dtype: x.dtype, shape: [...x.shape], input: { arg: 0, offset: 0, strides: contiguousStrides(x.shape) }, axes, output: { arg: 1, offset: 0 } }],
    temps: [],
  });
}

function abstractReduce(p: ReducePrim) {
  return ([x]: ShapedArray[], { axes }: { axes: number[] }): ShapedArray[] => {
    checkAxes(p, x, axes);
    if (x.dtype === 'bool' && (p === 'reduce_sum' || p === 'reduce_prod')) throw new TypeError(`${p}: the operand must be numeric, received bool`);
    return [new ShapedArray(keptShape(x.shape, axes), x.dtype, x.weakType)];
  };
}

/** max/min: the tangent is the mean of the tangents at the positions that attain the extreme. */
function chooserJvp(p: 'reduce_max' | 'reduce_min') {
  return ([x]: Value[], [t]: Tangent[], { axes }: { axes: number[] }): [Value[], Tangent[]] => {
    const out = apply(p, x, axes);
    if (t === null || x.dtype !== 'float32') return [[out], [null]];
    const mask = lax.convert(lax.eq(x, expandBack(out, x.aval, axes)), x.dtype);
    const count = lax.reduceSum(mask, axes);
    return [[out], [lax.div(lax.reduceSum(lax.mul(t, mask), axes), count)]];
  };
}

/** d prod(x) = sum_i t_i prod_{j != i} x_j, computed so that zeros in x are handled exactly. */
function prodJvp([x]: Value[], [t]: Tangent[], { axes }: { axes: number[] }): [Value[], Tangent[]] {
  const out = lax.reduceProd(x, axes);
  if (t === null || x.dtype !== 'float32') return [[out], [null]];
  const zero = lax.scalarLike(0, x);
  const isZero = lax.eq(x, zero);
  const nonzero = lax.select(isZero, lax.scalarLike(1, x), x);
  const prodNonzero = expandBack(lax.reduceProd(nonzero, axes), x.aval, axes);
  const zeros = expandBack(lax.reduceSum(lax.convert(isZero, 'float32'), axes), x.aval, axes);
  const others = lax.select(
    isZero,
    lax.select(lax.eq(zeros, lax.scalarLike(1, zeros)), prodNonzero, zero),
    lax.select(lax.eq(zeros, lax.scalarLike(0, zeros)), lax.div(prodNonzero, nonzero), zero),
  );
  return [[out], [lax.reduceSum(lax.mul(t, others), axes)]];
}

function reduceDef(p: ReducePrim, jvp: PrimitiveDef<ReducePrim>['jvp'], transpose: PrimitiveDef<ReducePrim>['transpose']): PrimitiveDef<ReducePrim> {
  return { abstractEval: abstractReduce(p), jvp, transpose, vmap: vmapReduce(p), lower: lowerReduce(p) };
}

type ArgPrim = 'argmax' | 'argmin';
function argDef(p: ArgPrim): PrimitiveDef<ArgPrim> {
  const call = (x: Value, axis: number): Value => (p === 'argmax' ? lax.argmax(x, axis) : lax.argmin(x, axis));
  return {
    abstractEval([x], { axis }) {
      if (!Number.isInteger(axis) || axis < 0 || axis >= x.ndim) throw new RangeError(`${p}: axis ${axis} is out of range for an operand of shape ${shapeStr(x.shape)}`);
      if (x.shape[axis] === 0) throw new Error(`${p}: cannot take ${p} of an empty axis (shape ${shapeStr(x.shape)}, axis ${axis})`);
      return [new ShapedArray(x.shape.filter((_, i) => i !== axis), 'int32')];
    },
    jvp: ([x], _t, { axis }) => [[call(x, axis)], [null]],
    transpose: null,
    vmap: ([x], [d], { axis }) => [[call(lax.moveAxis(x, d as number, 0), axis + 1)], [0]],
    lower: ([x], _o, { axis }) => ({
      kernels: [{ kind: 'argreduce', op: p, dtype: x.dtype, shape: [...x.shape], input: { arg: 0, offset: 0, strides: contiguousStrides(x.shape) }, axis, output: { arg: 1, offset: 0 } }],
      temps: [],
    }),
  };
}

export const reduceDefs: { [P in ReducePrim | ArgPrim]: PrimitiveDef<P> } = {
  reduce_sum: reduceDef(
    'reduce_sum',
    ([x], [t], { axes }) => [[lax.reduceSum(x, axes)], [t === null ? null : lax.reduceSum(t, axes)]],
    ([ct], [x], { axes }: Params['reduce_sum']) => [ct === null ? null : expandBack(ct, (x as { aval: ShapedArray }).aval, axes)],
  ),
  reduce_max: reduceDef('reduce_max', chooserJvp('reduce_max'), null),
  reduce_min: reduceDef('reduce_min', chooserJvp('reduce_min'), null),
  reduce_prod: reduceDef('reduce_prod', prodJvp, null),
  argmax: argDef('argmax'),
  argmin: argDef('argmin'),
};
