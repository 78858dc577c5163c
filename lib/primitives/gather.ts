/**
 * @file gather and scatter along one axis, with leading batch dimensions shared by the operand and
 * the indices (as tf.gather's batch_dims). `gather` covers take, takeAlongAxis and integer-array
 * indexing; `scatter` (add, set, mul, min, max) covers `.at[]` updates and is gather's transpose.
 * Indices are int32 data: gather clamps them into range; scatter clamps them (mode 'clip', used by
 * transposes of gather) or drops out-of-range updates (mode 'drop', JAX's default for updates).
 */

import { ShapedArray } from '../core/aval';
import { fromBuffer } from '../core/concrete';
import { contiguousStrides, shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { copyKernel, IndexDims, ScatterOp } from '../compiler/kernel';
import { BDim, Params, PrimitiveDef, Tangent, UndefPrimal } from './types';

type GatherParams = Params['gather'];
type ScatterParams = Params['scatter'];

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/** x.shape[:axis] + idx.shape[batchDims:] + x.shape[axis+1:], after checking the operands. */
function gatheredShape(name: string, x: ShapedArray, idx: ShapedArray, { axis, batchDims }: GatherParams): number[] {
  if (idx.dtype !== 'int32') throw new TypeError(`${name}: indices must be int32, received ${idx.dtype}`);
  if (!Number.isInteger(batchDims) || !Number.isInteger(axis) || batchDims < 0 || axis < batchDims || axis >= x.ndim) {
    throw new RangeError(`${name}: axis ${axis} and batchDims ${batchDims} are invalid for an operand of shape ${shapeStr(x.shape)} (expected 0 <= batchDims <= axis < ${x.ndim})`);
  }
  if (idx.ndim < batchDims || range(0, batchDims).some((d) => idx.shape[d] !== x.shape[d])) {
    throw new Error(`${name}: the first ${batchDims} dimensions of the indices ${shapeStr(idx.shape)} must equal those of the operand ${shapeStr(x.shape)}`);
  }
  return [...x.shape.slice(0, axis), ...idx.shape.slice(batchDims), ...x.shape.slice(axis + 1)];
}

function indexDims(x: ShapedArray, idx: ShapedArray, { axis, batchDims }: GatherParams): IndexDims {
  return {
    nb: sizeOf(x.shape.slice(0, batchDims)),
    np: sizeOf(x.shape.slice(batchDims, axis)),
    n: x.shape[axis],
    ns: sizeOf(idx.shape.slice(batchDims)),
    nq: sizeOf(x.shape.slice(axis + 1)),
  };
}

/** Moves each batched value's batch axis to the front; unbatched ones get a broadcast one. */
function batchAllFirst(args: Value[], dims: BDim[]): Value[] {
  const i0 = dims.findIndex((d) => d !== null);
  const size = args[i0].aval.shape[dims[i0] as number];
  return args.map((x, i) => {
    const d = dims[i];
    if (d !== null) return lax.moveAxis(x, d, 0);
    return lax.broadcastInDim(x, [size, ...x.aval.shape], range(1, x.ndim + 1));
  });
}

/** Where each index is in range, broadcast to the updates' shape (for 'drop' semantics). */
function validMask(idx: Value, n: number, updShape: readonly number[], { axis, batchDims }: GatherParams): Value {
  const ok = lax.and(lax.ge(idx, lax.scalarLike(0, idx)), lax.lt(idx, lax.scalarLike(n, idx)));
  const dims = [...range(0, batchDims), ...range(axis, axis + idx.ndim - batchDims)];
  return lax.broadcastInDim(ok, [...updShape], dims);
}

/** gather(ct, idx) where the scatter used the index, and 0 where it dropped it. */
function gatherLike(ct: Value, idx: Value, updShape: readonly number[], p: ScatterParams): Value {
  const n = ct.aval.shape[p.axis];
  const zeros = lax.broadcastInDim(lax.scalarLike(0, ct), [...updShape], []);
  if (n === 0) return zeros;
  const g = lax.gather(ct, idx, p.axis, p.batchDims);
  return p.mode === 'clip' ? g : lax.select(validMask(idx, n, updShape, p), g, zeros);
}

const gather: PrimitiveDef<'gather'> = {
  abstractEval([x, idx], params) {
    const shape = gatheredShape('gather', x, idx, params);
    if (x.shape[params.axis] === 0 && sizeOf(shape) > 0) throw new Error(`gather: cannot index axis ${params.axis} of an operand of shape ${shapeStr(x.shape)}: it is empty`);
    return [new ShapedArray(shape, x.dtype, x.weakType)];
  },
  jvp: ([x, idx], [t], { axis, batchDims }) => [[lax.gather(x, idx, axis, batchDims)], [t === null ? null : lax.gather(t, idx, axis, batchDims)]],
  transpose([ct], [x, idx], { axis, batchDims }) {
    if (ct === null || !(x instanceof UndefPrimal)) return [null, null];
    const zeros = lax.broadcastInDim(lax.scalarLike(0, ct), [...x.aval.shape], []);
    return [lax.scatter(zeros, idx as Value, ct, { axis, batchDims, op: 'add', mode: 'clip' }), null];
  },
  vmap([x, idx], [dx, di], { axis, batchDims }) {
    if (batchDims === 0 && di === null) return [[lax.gather(lax.moveAxis(x, dx as number, 0), idx, axis + 1, 0)], [0]];
    if (batchDims === 0 && dx === null) return [[lax.gather(x, idx, axis, 0)], [axis + (di as number)]];
    const [bx, bi] = batchAllFirst([x, idx], [dx, di]);
    return [[lax.gather(bx, bi, axis + 1, batchDims + 1)], [0]];
  },
  lower([x, idx], [out], params) {
    return { kernels: [{ kind: 'gather', dtype: x.dtype, dims: indexDims(x, idx, params), x: { arg: 0, offset: 0 }, indices: { arg: 1, offset: 0 }, output: { arg: 2, offset: 0 } }], temps: [] };
  },
};

/** The index (row-major position) of every update, for telling which of several duplicates won. */
function iota(shape: readonly number[]): Value {
  const n = sizeOf(shape);
  const buf = new Int32Array(n);
  for (let i = 0; i < n; i++) buf[i] = i;
  return fromBuffer(shape, 'int32', buf);
}

/** Cotangent of `set` updates: only the update that was written last at an element receives it. */
function setUpdatesCotangent(ct: Value, idx: Value, upd: ShapedArray, p: ScatterParams): Value {
  const ids = iota(upd.shape);
  const minusOne = lax.broadcastInDim(lax.scalarLike(-1, ids), [...ct.aval.shape], []);
  const winner = lax.scatter(minusOne, idx, ids, { ...p, op: 'set' });
  const won = lax.eq(gatherLike(winner, idx, upd.shape, p), ids);
  return lax.select(won, gatherLike(ct, idx, upd.shape, p), lax.broadcastInDim(lax.scalarLike(0, ct), [...upd.shape], []));
}

/** max/min: the tangent at each element averages the tangents of the operand and updates that attain it. */
function extremalJvp(x: Value, idx: Value, u: Value, tx: Tangent, tu: Tangent, p: ScatterParams): [Value, Tangent] {
  const out = lax.scatter(x, idx, u, p);
  if ((tx === null && tu === null) || x.dtype !== 'float32') return [out, null];
  // Nothing lands in an empty axis: the output is the (empty) operand.
  if (x.aval.shape[p.axis] === 0) return [out, tx ?? lax.zerosLike(x)];
  const f = (b: Value): Value => lax.convert(b, 'float32');
  const xm = f(lax.eq(x, out));
  const um = lax.mul(f(lax.eq(u, lax.gather(out, idx, p.axis, p.batchDims))), p.mode === 'drop' ? f(validMask(idx, x.aval.shape[p.axis], u.aval.shape, p)) : lax.fullLike(u, 1));
  const add = (base: Value, upd: Value): Value => lax.scatter(base, idx, upd, { ...p, op: 'add' });
  const zeros = lax.zerosLike(x);
  const num = add(tx === null ? zeros : lax.mul(xm, tx), tu === null ? lax.zerosLike(u) : lax.mul(um, tu));
  const den = add(xm, um);
  return [out, lax.div(num, den)];
}

const scatter: PrimitiveDef<'scatter'> = {
  abstractEval([x, idx, upd], params) {
    if (!['add', 'set', 'mul', 'min', 'max'].includes(params.op)) throw new TypeError(`scatter: op must be one of 'add', 'set', 'mul', 'min', 'max', received ${JSON.stringify(params.op)}`);
    if (params.mode !== 'clip' && params.mode !== 'drop') throw new TypeError(`scatter: mode must be 'clip' or 'drop', received ${JSON.stringify(params.mode)}`);
    const want = gatheredShape('scatter', x, idx, params);
    if (upd.ndim !== want.length || upd.shape.some((d, i) => d !== want[i])) {
      throw new Error(`scatter: updates must have shape ${shapeStr(want)} for an operand of shape ${shapeStr(x.shape)} and indices of shape ${shapeStr(idx.shape)}, received ${shapeStr(upd.shape)}`);
    }
    if (upd.dtype !== x.dtype) throw new TypeError(`scatter: updates must have the operand's dtype ${x.dtype}, received ${upd.dtype}`);
    if (x.dtype === 'bool' && (params.op === 'add' || params.op === 'mul')) throw new TypeError(`scatter: ${params.op} is not defined on bool`);
    if (x.shape[params.axis] === 0 && upd.size > 0 && params.mode === 'clip') throw new Error(`scatter: cannot clamp indices into the empty axis ${params.axis} of shape ${shapeStr(x.shape)}`);
    return [new ShapedArray([...x.shape], x.dtype, x.weakType)];
  },
  jvp([x, idx, u], [tx, , tu], p) {
    if (p.op === 'min' || p.op === 'max') {
      const [out, t] = extremalJvp(x, idx, u, tx, tu, p);
      return [[out], [t]];
    }
    const out = lax.scatter(x, idx, u, p);
    if (p.op === 'mul') {
      if (tu !== null) throw new Error('scatter: the derivative of a multiplicative scatter (at[].mul) with respect to its updates is not supported (JAX supports it only for unique indices); differentiate with respect to the operand only');
      return [[out], [tx === null ? null : lax.scatter(tx, idx, u, p)]];
    }
    if (tx === null && tu === null) return [[out], [null]];
    return [[out], [lax.scatter(tx ?? lax.zerosLike(x), idx, tu ?? lax.zerosLike(u), p)]];
  },
  transpose([ct], [x, idx, u], p) {
    if (ct === null) return [null, null, null];
    const i = idx as Value;
    const opUndef = x instanceof UndefPrimal;
    const updUndef = u instanceof UndefPrimal;
    switch (p.op) {
      case 'add':
        return [opUndef ? ct : null, null, updUndef ? gatherLike(ct, i, u.aval.shape, p) : null];
      case 'set': {
        const zeros = lax.broadcastInDim(lax.scalarLike(0, ct), [...u.aval.shape], []);
        return [opUndef ? lax.scatter(ct, i, zeros, p) : null, null, updUndef ? setUpdatesCotangent(ct, i, u.aval, p) : null];
      }
      case 'mul':
        if (updUndef) throw new Error('scatter: a multiplicative scatter is linear in its operand only');
        return [opUndef ? lax.scatter(ct, i, u as Value, p) : null, null, null];
      default:
        throw new Error(`scatter: scatter-${p.op} is not linear and has no transpose`);
    }
  },
  vmap(args, dims, p) {
    return [[lax.scatter(...(batchAllFirst(args, dims) as [Value, Value, Value]), { ...p, axis: p.axis + 1, batchDims: p.batchDims + 1 })], [0]];
  },
  lower([x, idx], [out], p) {
    const s = contiguousStrides(x.shape);
    const op: ScatterOp = p.op;
    return {
      kernels: [
        copyKernel([...x.shape], x.dtype, { arg: 0, offset: 0, strides: s }, { arg: 3, offset: 0, strides: contiguousStrides(out.shape) }),
        { kind: 'scatter', op, mode: p.mode, dtype: x.dtype, dims: indexDims(x, idx, p), updates: { arg: 2, offset: 0 }, indices: { arg: 1, offset: 0 }, output: { arg: 3, offset: 0 } },
      ],
      temps: [],
    };
  },
};

export const gatherDefs = { gather, scatter };
