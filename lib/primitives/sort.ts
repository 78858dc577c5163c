/**
 * @file sort (stable, along the last axis, with the permutation as a second output) and the
 * cumulative ops cumsum, cumprod, cummax, cummin (inclusive scans along one axis). Values come
 * from native steps; derivatives gather through the permutation (sort), are a reverse cumsum
 * (cumsum), pick the tangent where the running extreme was attained (cummax, cummin), or follow a
 * log-depth product scan (cumprod, exact at zeros).
 */

import { ShapedArray } from '../core/aval';
import { shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { PrimitiveDef, Tangent } from './types';

/** Gathers `t` along its last axis at `idx` (same shape): t[..., idx[..., j]]. */
export function takeAlongLast(t: Value, idx: Value): Value {
  return lax.gather(t, idx, t.ndim - 1, t.ndim - 1);
}

const sort: PrimitiveDef<'sort'> = {
  abstractEval([x]) {
    if (x.ndim === 0) throw new Error('sort: the operand must have at least one dimension, received a rank-0 array');
    if (x.shape[x.ndim - 1] > 2147483647) throw new RangeError('sort: the sorted axis is too long for int32 indices');
    return [new ShapedArray([...x.shape], x.dtype, x.weakType), new ShapedArray([...x.shape], 'int32')];
  },
  jvp([x], [t], { descending }) {
    const [v, idx] = lax.sortWithIndices(x, descending);
    return [[v, idx], [t === null ? null : takeAlongLast(t, idx), null]];
  },
  transpose: null,
  vmap([x], [d], { descending }) {
    // Keep the sorted axis last: the batch axis goes first.
    const y = lax.moveAxis(x, d as number, 0);
    return [lax.sortWithIndices(y, descending), [0, 0]];
  },
  lower([x], _outs, { descending }) {
    const n = x.shape[x.ndim - 1];
    return {
      kernels: [{ kind: 'sort', dtype: x.dtype, descending, rows: n === 0 ? 0 : x.size / n, n, input: { arg: 0, offset: 0 }, output: { arg: 1, offset: 0 }, indices: { arg: 2, offset: 0 } }],
      temps: [],
    };
  },
};

type CumPrim = 'cumsum' | 'cumprod' | 'cummax' | 'cummin';
type CumParams = { axis: number; reverse: boolean };
const SCAN_OP = { cumsum: 'sum', cumprod: 'prod', cummax: 'max', cummin: 'min' } as const;

/** `v` shifted by `d` along `axis` in the scan direction, with `fill` in the vacated slots. */
function shift(v: Value, d: number, { axis, reverse }: CumParams, fill: number): Value {
  const shape = v.aval.shape;
  const n = shape[axis];
  const start = shape.map((_, i) => (i === axis && reverse ? d : 0));
  const limit = shape.map((s, i) => (i === axis && !reverse ? n - d : s));
  const lo = shape.map((_, i) => (i === axis && !reverse ? d : 0));
  const hi = shape.map((_, i) => (i === axis && reverse ? d : 0));
  return lax.pad(lax.slice(v, start, limit), lo, hi, fill);
}

/** Tangent of cumprod: the jvp of a Hillis-Steele product scan (exact where x has zeros). */
function cumprodTangent(x: Value, t: Value, p: CumParams): Value {
  let y = x;
  let ty = t;
  for (let d = 1; d < x.aval.shape[p.axis]; d *= 2) {
    const ys = shift(y, d, p, 1);
    ty = lax.add(lax.mul(ty, ys), lax.mul(y, shift(ty, d, p, 0)));
    y = lax.mul(y, ys);
  }
  return ty;
}

/** Tangent of cummax/cummin: t at the (last) position where the running extreme was attained. */
function extremeTangent(x: Value, out: Value, t: Value, { axis, reverse }: CumParams): Value {
  const n = x.aval.shape[axis];
  const pos = lax.broadcastInDim(lax.iota(n), [...x.aval.shape], [axis]);
  const attained = lax.eq(x, out);
  // Forwards the latest attaining position is the largest index so far; in reverse, the smallest.
  const k = reverse
    ? lax.cumulative('cummin', lax.select(attained, pos, lax.fullLike(pos, n - 1)), axis, true)
    : lax.cumulative('cummax', lax.select(attained, pos, lax.fullLike(pos, 0)), axis, false);
  const last = x.ndim - 1;
  return lax.moveAxis(takeAlongLast(lax.moveAxis(t, axis, last), lax.moveAxis(k, axis, last)), last, axis);
}

function cumDef(p: CumPrim): PrimitiveDef<CumPrim> {
  return {
    abstractEval([x], { axis }) {
      if (!Number.isInteger(axis) || axis < 0 || axis >= x.ndim) throw new RangeError(`${p}: axis ${axis} is out of range for an operand of shape ${shapeStr(x.shape)}`);
      if (x.dtype === 'bool' && (p === 'cumsum' || p === 'cumprod')) throw new TypeError(`${p}: the operand must be numeric, received bool`);
      return [new ShapedArray([...x.shape], x.dtype, x.weakType)];
    },
    jvp([x], [t], params) {
      const out = lax.cumulative(p, x, params.axis, params.reverse);
      if (t === null || (p !== 'cumsum' && x.dtype !== 'float32')) return [[out], [null]];
      let tangent: Tangent;
      if (p === 'cumsum') tangent = lax.cumulative('cumsum', t, params.axis, params.reverse);
      else if (p === 'cumprod') tangent = cumprodTangent(x, t, params);
      else tangent = extremeTangent(x, out, t, params);
      return [[out], [tangent]];
    },
    transpose:
      p === 'cumsum'
        ? ([ct], _x, { axis, reverse }) => [ct === null ? null : lax.cumulative('cumsum', ct, axis, !reverse)]
        : null,
    vmap: ([x], [d], { axis, reverse }) => [[lax.cumulative(p, lax.moveAxis(x, d as number, 0), axis + 1, reverse)], [0]],
    lower([x], _outs, { axis, reverse }) {
      const outer = sizeOf(x.shape.slice(0, axis));
      const inner = sizeOf(x.shape.slice(axis + 1));
      return {
        kernels: [{ kind: 'scan', op: SCAN_OP[p], dtype: x.dtype, reverse, outer, n: x.shape[axis], inner, input: { arg: 0, offset: 0 }, output: { arg: 1, offset: 0 } }],
        temps: [],
      };
    },
  };
}

export const sortDefs: { [P in 'sort' | CumPrim]: PrimitiveDef<P> } = {
  sort,
  cumsum: cumDef('cumsum'),
  cumprod: cumDef('cumprod'),
  cummax: cumDef('cummax'),
  cummin: cumDef('cummin'),
};
