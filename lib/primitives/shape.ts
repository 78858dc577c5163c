/**
 * @file Shape primitives: reshape, transpose, broadcast_in_dim, concatenate, slice, pad, rev. All are
 * linear; all but reshape lower to strided copies.
 */

import { ShapedArray } from '../core/aval';
import { contiguousStrides, shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { copyKernel, fillKernel, Kernel } from '../compiler/kernel';
import { BDim, Params, PrimitiveDef, UndefPrimal } from './types';

const range = (n: number): number[] => [...Array(n).keys()];
const avalOf = (x: Value | UndefPrimal): ShapedArray => x.aval;
const linearJvp = (f: (x: Value) => Value) => ([x]: Value[], [t]: (Value | null)[]): [Value[], (Value | null)[]] => [[f(x)], [t === null ? null : f(t)]];
const kernelsOnly = (kernels: Kernel[]) => ({ kernels, temps: [] });

/** Moves the batch axis of `x` to the front (broadcasting it in when `x` is unbatched). */
function batchFirst(x: Value, d: BDim, size: number): Value {
  if (d !== null) return lax.moveAxis(x, d, 0);
  return lax.broadcastInDim(x, [size, ...x.aval.shape], range(x.ndim).map((i) => i + 1));
}

function checkPerm(name: string, perm: number[], ndim: number): void {
  const ok = perm.length === ndim && new Set(perm).size === ndim && perm.every((p) => Number.isInteger(p) && p >= 0 && p < ndim);
  if (!ok) throw new RangeError(`${name}: axes [${perm.join(', ')}] are not a permutation of the ${ndim} axes`);
}

const reshape: PrimitiveDef<'reshape'> = {
  abstractEval([x], { shape }) {
    if (sizeOf(shape) !== x.size) throw new Error(`reshape: cannot reshape an array of shape ${shapeStr(x.shape)} (${x.size} elements) into shape ${shapeStr(shape)}`);
    return [new ShapedArray([...shape], x.dtype, x.weakType)];
  },
  jvp: ([x], [t], { shape }) => linearJvp((v) => lax.reshape(v, shape))([x], [t]),
  transpose: ([ct], [x]) => [ct === null ? null : lax.reshape(ct, [...avalOf(x).shape])],
  vmap: ([x], [d], { shape }) => [[lax.reshape(lax.moveAxis(x, d as number, 0), [x.aval.shape[d as number], ...shape])], [0]],
  lower: () => kernelsOnly([{ kind: 'alias', input: 0, output: 1 }]),
};

const transpose: PrimitiveDef<'transpose'> = {
  abstractEval([x], { perm }) {
    checkPerm('transpose', perm, x.ndim);
    return [new ShapedArray(perm.map((p) => x.shape[p]), x.dtype, x.weakType)];
  },
  jvp: ([x], [t], { perm }) => linearJvp((v) => lax.transpose(v, perm))([x], [t]),
  transpose([ct], _x, { perm }) {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [ct === null ? null : lax.transpose(ct, inverse)];
  },
  vmap: ([x], [d], { perm }) => [[lax.transpose(lax.moveAxis(x, d as number, 0), [0, ...perm.map((p) => p + 1)])], [0]],
  lower([x], [out], { perm }) {
    const s = contiguousStrides(x.shape);
    return kernelsOnly([copyKernel([...out.shape], x.dtype, { arg: 0, offset: 0, strides: perm.map((p) => s[p]) }, { arg: 1, offset: 0, strides: contiguousStrides(out.shape) })]);
  },
};

const broadcastInDim: PrimitiveDef<'broadcast_in_dim'> = {
  abstractEval([x], { shape, dims }) {
    const ok = dims.length === x.ndim && dims.every((d, i) => Number.isInteger(d) && d >= 0 && d < shape.length && (i === 0 || d > dims[i - 1]) && (x.shape[i] === 1 || x.shape[i] === shape[d]));
    if (!ok) throw new Error(`broadcast_in_dim: cannot broadcast shape ${shapeStr(x.shape)} to ${shapeStr(shape)} with dims [${dims.join(', ')}]`);
    return [new ShapedArray([...shape], x.dtype, x.weakType)];
  },
  jvp: ([x], [t], { shape, dims }) => linearJvp((v) => lax.broadcastInDim(v, shape, dims))([x], [t]),
  transpose([ct], [x], { shape, dims }) {
    if (ct === null) return [null];
    const operand = avalOf(x);
    const summed = range(shape.length).filter((j) => !dims.includes(j) || (operand.shape[dims.indexOf(j)] === 1 && shape[j] !== 1));
    const kept = lax.reduceSum(ct, summed);
    return [lax.reshape(kept, [...operand.shape])];
  },
  vmap: ([x], [d], { shape, dims }) => {
    const size = x.aval.shape[d as number];
    return [[lax.broadcastInDim(lax.moveAxis(x, d as number, 0), [size, ...shape], [0, ...dims.map((i) => i + 1)])], [0]];
  },
  lower([x], [out], { dims }) {
    const s = contiguousStrides(x.shape);
    const strides = out.shape.map(() => 0);
    dims.forEach((j, i) => (strides[j] = x.shape[i] === 1 ? 0 : s[i]));
    return kernelsOnly([copyKernel([...out.shape], x.dtype, { arg: 0, offset: 0, strides }, { arg: 1, offset: 0, strides: contiguousStrides(out.shape) })]);
  },
};

const concatenate: PrimitiveDef<'concatenate'> = {
  abstractEval(xs, { axis }) {
    const first = xs[0];
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.ndim) throw new RangeError(`concatenate: axis ${axis} is out of range for operands of rank ${first.ndim}`);
    for (const x of xs) {
      const same = x.ndim === first.ndim && x.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!same) throw new Error(`concatenate: operands must match except along axis ${axis}, received ${xs.map((a) => shapeStr(a.shape)).join(' and ')}`);
      if (x.dtype !== first.dtype) throw new Error(`concatenate: operands must have equal dtypes, received ${xs.map((a) => a.dtype).join(' and ')}`);
    }
    const shape = [...first.shape];
    shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
    return [new ShapedArray(shape, first.dtype, xs.every((x) => x.weakType))];
  },
  jvp(xs, ts, { axis }) {
    const out = lax.concatenate(xs, axis);
    if (ts.every((t) => t === null)) return [[out], [null]];
    return [[out], [lax.concatenate(ts.map((t, i) => t ?? lax.zerosLike(xs[i])), axis)]];
  },
  transpose([ct], xs, { axis }) {
    let start = 0;
    return xs.map((x) => {
      const aval = avalOf(x);
      const begin = start;
      start += aval.shape[axis];
      if (ct === null || !(x instanceof UndefPrimal)) return null;
      const lo = ct.aval.shape.map((_, i) => (i === axis ? begin : 0));
      const hi = ct.aval.shape.map((d, i) => (i === axis ? begin + aval.shape[axis] : d));
      return lax.slice(ct, lo, hi);
    });
  },
  vmap(xs, dims, { axis }) {
    const i0 = dims.findIndex((d) => d !== null);
    const size = xs[i0].aval.shape[dims[i0] as number];
    return [[lax.concatenate(xs.map((x, i) => batchFirst(x, dims[i], size)), axis + 1)], [0]];
  },
  lower(ins, [out]) {
    const outStrides = contiguousStrides(out.shape);
    const axis = ins[0].shape.findIndex((_, i) => ins.some((x) => x.shape[i] !== out.shape[i]));
    let offset = 0;
    const kernels = ins.map((x, i) => {
      const k = copyKernel([...x.shape], x.dtype, { arg: i, offset: 0, strides: contiguousStrides(x.shape) }, { arg: ins.length, offset, strides: outStrides });
      if (axis >= 0) offset += x.shape[axis] * outStrides[axis];
      return k;
    });
    return kernelsOnly(kernels);
  },
};

function sliceShape(x: ShapedArray, { start, limit, strides }: Params['slice']): number[] {
  const ok = start.length === x.ndim && limit.length === x.ndim && strides.length === x.ndim &&
    x.shape.every((d, i) => Number.isInteger(start[i]) && Number.isInteger(limit[i]) && 0 <= start[i] && start[i] <= limit[i] && limit[i] <= d && Number.isInteger(strides[i]) && strides[i] >= 1);
  if (!ok) throw new RangeError(`slice: start [${start.join(', ')}], limit [${limit.join(', ')}], strides [${strides.join(', ')}] are invalid for shape ${shapeStr(x.shape)}`);
  return x.shape.map((_, i) => Math.ceil((limit[i] - start[i]) / strides[i]));
}

const slice: PrimitiveDef<'slice'> = {
  abstractEval: ([x], params) => [new ShapedArray(sliceShape(x, params), x.dtype, x.weakType)],
  jvp: ([x], [t], p) => linearJvp((v) => lax.slice(v, p.start, p.limit, p.strides))([x], [t]),
  transpose([ct], [x], { start, strides }) {
    if (ct === null) return [null];
    const operand = avalOf(x);
    if (ct.size === 0) return [lax.zerosLike(lax.broadcastInDim(lax.scalarLike(0, ct), [...operand.shape], []))];
    const hi = operand.shape.map((d, i) => d - (start[i] + (ct.aval.shape[i] - 1) * strides[i] + 1));
    return [lax.pad(ct, start, hi, 0, strides.map((s) => s - 1))];
  },
  vmap: ([x], [d], { start, limit, strides }) => {
    const y = lax.moveAxis(x, d as number, 0);
    return [[lax.slice(y, [0, ...start], [y.aval.shape[0], ...limit], [1, ...strides])], [0]];
  },
  lower([x], [out], { start, strides }) {
    const s = contiguousStrides(x.shape);
    const offset = start.reduce((acc, st, i) => acc + st * s[i], 0);
    return kernelsOnly([copyKernel([...out.shape], x.dtype, { arg: 0, offset, strides: s.map((v, i) => v * strides[i]) }, { arg: 1, offset: 0, strides: contiguousStrides(out.shape) })]);
  },
};

const pad: PrimitiveDef<'pad'> = {
  abstractEval([x], { lo, hi, interior }) {
    const ok = [lo, hi, interior].every((v) => v.length === x.ndim && v.every((n) => Number.isInteger(n) && n >= 0));
    if (!ok) throw new RangeError(`pad: lo [${lo.join(', ')}], hi [${hi.join(', ')}], interior [${interior.join(', ')}] must be non-negative integers, one per axis of shape ${shapeStr(x.shape)}`);
    return [new ShapedArray(x.shape.map((d, i) => lo[i] + hi[i] + d + Math.max(d - 1, 0) * interior[i]), x.dtype, x.weakType)];
  },
  jvp: ([x], [t], { lo, hi, interior, value }) => [[lax.pad(x, lo, hi, value, interior)], [t === null ? null : lax.pad(t, lo, hi, 0, interior)]],
  transpose([ct], [x], { lo, interior }) {
    if (ct === null) return [null];
    const operand = avalOf(x);
    const limit = operand.shape.map((d, i) => lo[i] + (d === 0 ? 0 : (d - 1) * (interior[i] + 1) + 1));
    return [lax.slice(ct, lo, limit, interior.map((n) => n + 1))];
  },
  vmap: ([x], [d], { lo, hi, interior, value }) => [[lax.pad(lax.moveAxis(x, d as number, 0), [0, ...lo], [0, ...hi], value, [0, ...interior])], [0]],
  lower([x], [out], { lo, interior, value }) {
    const os = contiguousStrides(out.shape);
    const offset = lo.reduce((acc, l, i) => acc + l * os[i], 0);
    return kernelsOnly([
      fillKernel([...out.shape], x.dtype, value, { arg: 1, offset: 0, strides: os }),
      copyKernel([...x.shape], x.dtype, { arg: 0, offset: 0, strides: contiguousStrides(x.shape) }, { arg: 1, offset, strides: os.map((s, i) => s * (interior[i] + 1)) }),
    ]);
  },
};

/** Reverses the listed axes: a copy through a view with negative strides. */
const rev: PrimitiveDef<'rev'> = {
  abstractEval([x], { dims }) {
    if (!dims.every((d, i) => Number.isInteger(d) && d >= 0 && d < x.ndim && dims.indexOf(d) === i)) throw new RangeError(`rev: dims [${dims.join(', ')}] must be distinct axes of an operand of shape ${shapeStr(x.shape)}`);
    return [new ShapedArray([...x.shape], x.dtype, x.weakType)];
  },
  jvp: ([x], [t], { dims }) => linearJvp((v) => lax.rev(v, dims))([x], [t]),
  transpose: ([ct], _x, { dims }) => [ct === null ? null : lax.rev(ct, dims)],
  vmap: ([x], [d], { dims }) => [[lax.rev(lax.moveAxis(x, d as number, 0), dims.map((a) => a + 1))], [0]],
  lower([x], [out], { dims }) {
    const s = contiguousStrides(x.shape);
    const offset = dims.reduce((acc, d) => acc + Math.max(x.shape[d] - 1, 0) * s[d], 0);
    const strides = s.map((v, i) => (dims.includes(i) ? -v : v));
    return kernelsOnly([copyKernel([...out.shape], x.dtype, { arg: 0, offset, strides }, { arg: 1, offset: 0, strides: contiguousStrides(out.shape) })]);
  },
};

export const shapeDefs = { reshape, transpose, broadcast_in_dim: broadcastInDim, concatenate, slice, pad, rev };
