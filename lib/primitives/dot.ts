/**
 * @file dot_general (JAX semantics): contract `lhsContract` with `rhsContract`, batch over
 * `lhsBatch`/`rhsBatch`; the output is [batch..., lhs free..., rhs free...]. Lowers to a batched GEMM.
 */

import { ShapedArray } from '../core/aval';
import { contiguousStrides, shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { copyKernel, Kernel, View } from '../compiler/kernel';
import { DotDims, PrimitiveDef, UndefPrimal } from './types';

const range = (n: number): number[] => [...Array(n).keys()];
const freeDims = (ndim: number, contract: number[], batch: number[]): number[] => range(ndim).filter((i) => !contract.includes(i) && !batch.includes(i));

function checkDims(name: string, x: ShapedArray, dims: number[]): void {
  if (new Set(dims).size !== dims.length || dims.some((d) => !Number.isInteger(d) || d < 0 || d >= x.ndim)) {
    throw new RangeError(`dot_general: ${name} dims [${dims.join(', ')}] are invalid for an operand of shape ${shapeStr(x.shape)}`);
  }
}

function abstractEval([l, r]: ShapedArray[], d: DotDims): ShapedArray[] {
  checkDims('lhs contracting', l, d.lhsContract);
  checkDims('rhs contracting', r, d.rhsContract);
  checkDims('lhs batch', l, d.lhsBatch);
  checkDims('rhs batch', r, d.rhsBatch);
  const pairs = (a: number[], b: number[], what: string): void => {
    if (a.length !== b.length || a.some((ax, i) => l.shape[ax] !== r.shape[b[i]])) {
      throw new Error(`dot_general: ${what} dimensions do not match: lhs ${shapeStr(l.shape)} axes [${a.join(', ')}] vs rhs ${shapeStr(r.shape)} axes [${b.join(', ')}]`);
    }
  };
  pairs(d.lhsContract, d.rhsContract, 'contracting');
  pairs(d.lhsBatch, d.rhsBatch, 'batch');
  if (l.dtype !== r.dtype) throw new Error(`dot_general: operands must have equal dtypes, received ${l.dtype} and ${r.dtype}`);
  if (l.dtype !== 'float32' && l.dtype !== 'int32') throw new TypeError(`dot_general: operands must be float32 or int32, received ${l.dtype}`);
  const shape = [
    ...d.lhsBatch.map((a) => l.shape[a]),
    ...freeDims(l.ndim, d.lhsContract, d.lhsBatch).map((a) => l.shape[a]),
    ...freeDims(r.ndim, d.rhsContract, d.rhsBatch).map((a) => r.shape[a]),
  ];
  return [new ShapedArray(shape, l.dtype, l.weakType && r.weakType)];
}

/** The inverse of permutation `p`. */
const inverse = (p: number[]): number[] => {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
};

/**
 * Cotangent of one operand `x` given the other operand `y`: contract ct's y-free axes with y's free
 * axes, batch over the batch axes, then permute the result into x's axis order.
 */
function transposeOperand(ct: Value, y: Value, x: ShapedArray, xd: { contract: number[]; batch: number[] }, yd: { contract: number[]; batch: number[] }, xFirst: boolean): Value {
  const nb = xd.batch.length;
  const xFree = freeDims(x.ndim, xd.contract, xd.batch);
  const yFree = freeDims(y.ndim, yd.contract, yd.batch);
  const ctYFree = yFree.map((_, i) => nb + (xFirst ? xFree.length + i : i));
  const yRest = [...yd.contract].sort((a, b) => a - b).map((a) => xd.contract[yd.contract.indexOf(a)]);
  // With y first, the result's axes are [batch..., y's remaining..., x free...]; when that is
  // already x's order (the weight of x @ w: dw = x^T ct), no transposing copy is needed.
  const yFirstOrder = [...xd.batch, ...yRest, ...xFree];
  if (yFirstOrder.every((a, i) => a === i)) {
    return lax.dotGeneral(y, ct, { lhsContract: yFree, rhsContract: ctYFree, lhsBatch: yd.batch, rhsBatch: range(nb) });
  }
  const r = lax.dotGeneral(ct, y, { lhsContract: ctYFree, rhsContract: yFree, lhsBatch: range(nb), rhsBatch: yd.batch });
  // r's axes: [batch..., x free (ct's remaining axes, in order)..., y's remaining (= yd.contract sorted)].
  const order = [...xd.batch, ...xFree, ...yRest];
  return lax.transpose(r, inverse(order));
}

/** Groups `axes` of a contiguous operand into one (size, stride), or null when not collapsible. */
function collapse(shape: readonly number[], strides: number[], axes: number[]): [number, number] | null {
  const live = axes.filter((a) => shape[a] !== 1);
  const size = axes.reduce((n, a) => n * shape[a], 1);
  if (live.length === 0) return [size, 0];
  for (let i = 0; i + 1 < live.length; i++) {
    if (strides[live[i]] !== strides[live[i + 1]] * shape[live[i + 1]]) return null;
  }
  return [size, strides[live[live.length - 1]]];
}

/** A [batch, rows, cols] view of operand `arg`, or null when its axes do not collapse. */
function view3(x: ShapedArray, arg: number, groups: number[][]): { view: View; dims: number[] } | null {
  const s = contiguousStrides(x.shape);
  const parts = groups.map((g) => collapse(x.shape, s, g));
  if (parts.some((p) => p === null)) return null;
  const ok = parts as [number, number][];
  return { view: { arg, offset: 0, strides: ok.map((p) => p[1]) }, dims: ok.map((p) => p[0]) };
}

function lower([l, r]: ShapedArray[], [out]: ShapedArray[], d: DotDims) {
  const lGroups = [d.lhsBatch, freeDims(l.ndim, d.lhsContract, d.lhsBatch), d.lhsContract];
  const rGroups = [d.rhsBatch, d.rhsContract, freeDims(r.ndim, d.rhsContract, d.rhsBatch)];
  const kernels: Kernel[] = [];
  const temps: ShapedArray[] = [];
  // An operand whose groups are not contiguous is first copied into a temp in group order.
  const operand = (x: ShapedArray, arg: number, groups: number[][]): View => {
    const direct = view3(x, arg, groups);
    if (direct) return direct.view;
    const perm = groups.flat();
    const shape = perm.map((a) => x.shape[a]);
    const tempArg = 3 + temps.length;
    temps.push(new ShapedArray(shape, x.dtype));
    const s = contiguousStrides(x.shape);
    kernels.push(copyKernel(shape, x.dtype, { arg, offset: 0, strides: perm.map((a) => s[a]) }, { arg: tempArg, offset: 0, strides: contiguousStrides(shape) }));
    const sizes = groups.map((g) => sizeOf(g.map((a) => x.shape[a])));
    return { arg: tempArg, offset: 0, strides: [sizes[1] * sizes[2], sizes[2], 1] };
  };
  const a = operand(l, 0, lGroups);
  const b = operand(r, 1, rGroups);
  const batch = sizeOf(d.lhsBatch.map((i) => l.shape[i]));
  const m = sizeOf(lGroups[1].map((i) => l.shape[i]));
  const k = sizeOf(d.lhsContract.map((i) => l.shape[i]));
  const n = sizeOf(rGroups[2].map((i) => r.shape[i]));
  kernels.push({ kind: 'matmul', dtype: out.dtype, batch, m, n, k, a, b, c: { arg: 2, offset: 0, strides: [m * n, n, 1] } });
  return { kernels, temps };
}

export const dotGeneral: PrimitiveDef<'dot_general'> = {
  abstractEval,
  jvp([l, r], [tl, tr], d) {
    const out = lax.dotGeneral(l, r, d);
    const parts = [tl === null ? null : lax.dotGeneral(tl, r, d), tr === null ? null : lax.dotGeneral(l, tr, d)].filter((t): t is Value => t !== null);
    return [[out], [parts.length === 0 ? null : parts.length === 1 ? parts[0] : lax.add(parts[0], parts[1])]];
  },
  transpose([ct], [l, r], d) {
    if (l instanceof UndefPrimal && r instanceof UndefPrimal) throw new Error('dot_general: transpose of a product of two linear values (not linear)');
    if (ct === null) return [null, null];
    const ld = { contract: d.lhsContract, batch: d.lhsBatch };
    const rd = { contract: d.rhsContract, batch: d.rhsBatch };
    if (l instanceof UndefPrimal) return [transposeOperand(ct, r as Value, l.aval, ld, rd, true), null];
    if (r instanceof UndefPrimal) return [null, transposeOperand(ct, l as Value, r.aval, rd, ld, false)];
    return [null, null];
  },
  vmap([l, r], [dl, dr], d) {
    const shift = (dims: number[]): number[] => dims.map((a) => a + 1);
    if (dl !== null && dr !== null) {
      const dims = { lhsContract: shift(d.lhsContract), rhsContract: shift(d.rhsContract), lhsBatch: [0, ...shift(d.lhsBatch)], rhsBatch: [0, ...shift(d.rhsBatch)] };
      return [[lax.dotGeneral(lax.moveAxis(l, dl, 0), lax.moveAxis(r, dr, 0), dims)], [0]];
    }
    if (dl !== null) {
      // The batch axis becomes the first free axis of lhs.
      const dims = { ...d, lhsContract: shift(d.lhsContract), lhsBatch: shift(d.lhsBatch) };
      return [[lax.dotGeneral(lax.moveAxis(l, dl, 0), r, dims)], [d.lhsBatch.length]];
    }
    const dims = { ...d, rhsContract: shift(d.rhsContract), rhsBatch: shift(d.rhsBatch) };
    const lFree = l.ndim - d.lhsContract.length - d.lhsBatch.length;
    return [[lax.dotGeneral(l, lax.moveAxis(r, dr as number, 0), dims)], [d.rhsBatch.length + lFree]];
  },
  lower,
};
