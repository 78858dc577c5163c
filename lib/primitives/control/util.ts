/**
 * @file Helpers shared by the control-flow primitives: nested jaxprs are transformed (jvp, vmap,
 * transpose) by tracing the transformation of their evaluation into a new jaxpr.
 */

import { ShapedArray } from '../../core/aval';
import { fromScalar } from '../../core/concrete';
import { Value } from '../../core/trace';
import { evalJaxpr } from '../../ir/eval';
import { ClosedJaxpr, Jaxpr, Var } from '../../ir/jaxpr';
import { dceClosed } from '../../compiler/dce';
import { traceToJaxpr } from '../../ir/stage';
import * as lax from '../../lax';
import { jvpFlat } from '../../transforms/jvp';
import { backwardPass } from '../../transforms/linearize';
import { vmapFlat } from '../../transforms/vmap';
import { BDim, UndefPrimal } from '../types';

export const zerosOf = (a: ShapedArray): Value => lax.broadcastInDim(fromScalar(0, a.dtype, a.weakType), [...a.shape], []);
export const orEach = (a: boolean[], b: boolean[]): boolean[] => a.map((x, i) => x || b[i]);
export const sameFlags = (a: boolean[], b: boolean[]): boolean => a.every((x, i) => x === b[i]);
export const pick = <T>(xs: readonly T[], mask: boolean[], want = true): T[] => xs.filter((_, i) => mask[i] === want);
export const withBatch = (a: ShapedArray, size: number): ShapedArray => new ShapedArray([size, ...a.shape], a.dtype, a.weakType);
export const dropBatch = (a: ShapedArray): ShapedArray => new ShapedArray(a.shape.slice(1), a.dtype, a.weakType);
export const avalsEqual = (a: ShapedArray, b: ShapedArray): boolean => a.dtype === b.dtype && a.ndim === b.ndim && a.shape.every((d, i) => d === b.shape[i]);

/** The size of the mapped axis, from the first batched argument. */
export function batchSize(args: Value[], dims: BDim[]): number {
  const i = dims.findIndex((d) => d !== null);
  return args[i].aval.shape[dims[i] as number];
}

/** Moves a batched value's batch axis to the front (unbatched values are returned as they are). */
export const batchFirst = (x: Value, d: BDim): Value => (d === null ? x : lax.moveAxis(x, d, 0));

/** A value with its batch axis in front, broadcasting an unbatched one along a new front axis. */
export function toFront(x: Value, d: BDim, size: number): Value {
  if (d !== null) return lax.moveAxis(x, d, 0);
  return lax.broadcastInDim(x, [size, ...x.aval.shape], [...Array(x.ndim).keys()].map((i) => i + 1));
}

/** `closed` with its inputs and outputs reordered: new input i is old input `ins[i]` (likewise outs). */
export function permute(closed: ClosedJaxpr, ins: number[] | null, outs: number[] | null): ClosedJaxpr {
  const { jaxpr } = closed;
  const binders = ins ? ins.map((i) => jaxpr.inBinders[i]) : jaxpr.inBinders;
  const results = outs ? outs.map((i) => jaxpr.outs[i]) : jaxpr.outs;
  return new ClosedJaxpr(new Jaxpr(jaxpr.constvars, binders, jaxpr.eqns, results), closed.consts);
}

/** `closed` computing only the outputs in `keep` (dead code removed), and which inputs it still reads. */
export function pruneOutputs(closed: ClosedJaxpr, keep: boolean[]): { closed: ClosedJaxpr; usedInputs: boolean[] } {
  const pruned = dceClosed(permute(closed, null, closed.jaxpr.outs.map((_, i) => i).filter((i) => keep[i])));
  const read = new Set<Var>();
  for (const e of pruned.jaxpr.eqns) for (const a of e.inputs) if (a instanceof Var) read.add(a);
  for (const o of pruned.jaxpr.outs) if (o instanceof Var) read.add(o);
  return { closed: pruned, usedInputs: pruned.jaxpr.inBinders.map((v) => read.has(v)) };
}

/** `closed` without the inputs not in `keep` (which it must not read). */
export function dropInputs(closed: ClosedJaxpr, keep: boolean[]): ClosedJaxpr {
  return permute(closed, closed.jaxpr.inBinders.map((_, i) => i).filter((i) => keep[i]), null);
}

/** Positions of the items of each group in a concatenation of groups, e.g. ([2, 1]) → [[0, 1], [2]]. */
export function groups(sizes: number[]): number[][] {
  let start = 0;
  return sizes.map((n) => {
    const g = [...Array(n).keys()].map((i) => start + i);
    start += n;
    return g;
  });
}

/** Splits `xs` into consecutive groups of the given sizes. */
export function split<T>(xs: readonly T[], sizes: number[]): T[][] {
  return groups(sizes).map((g) => g.map((i) => xs[i]));
}

/**
 * The JVP of `closed`: inputs [primals..., tangents of the `nonzeros` inputs...], outputs
 * [primals..., tangents of the `outNonzeros` outputs...] (`instantiate` forces zeros to be output).
 */
export function jvpJaxpr(closed: ClosedJaxpr, nonzeros: boolean[], instantiate: boolean[]): { jaxpr: ClosedJaxpr; outNonzeros: boolean[] } {
  let outNonzeros: boolean[] = [];
  const n = closed.inAvals.length;
  const jaxpr = traceToJaxpr(
    (...xs) => {
      let k = n;
      const tangents = nonzeros.map((nz) => (nz ? xs[k++] : null));
      const [outs, touts] = jvpFlat((...ys) => evalJaxpr(closed, ys), xs.slice(0, n), tangents);
      outNonzeros = touts.map((t, i) => t !== null || instantiate[i]);
      const ts = touts.flatMap((t, i) => (outNonzeros[i] ? [lax.convert(t ?? lax.zerosLike(outs[i]), outs[i].dtype, outs[i].weakType)] : []));
      return [...outs, ...ts];
    },
    [...closed.inAvals, ...pick(closed.inAvals, nonzeros)],
    'jvp',
  );
  return { jaxpr, outNonzeros };
}

/**
 * `closed` mapped over a leading axis of size `size` of its `batched` inputs; outputs that are
 * batched (or listed in `instantiate`) get the batch axis in front.
 */
export function vmapJaxpr(closed: ClosedJaxpr, size: number, batched: boolean[], instantiate: boolean[]): { jaxpr: ClosedJaxpr; outBatched: boolean[] } {
  let outBatched: boolean[] = [];
  const jaxpr = traceToJaxpr(
    (...xs) =>
      vmapFlat((...ys) => evalJaxpr(closed, ys), size, xs, batched.map((b) => (b ? 0 : null)), (dims) => {
        outBatched = dims.map((d, i) => d !== null || instantiate[i]);
        return outBatched.map((b) => (b ? 0 : null));
      }),
    closed.inAvals.map((a, i) => (batched[i] ? withBatch(a, size) : a)),
    'vmap',
  );
  return { jaxpr, outBatched };
}

/**
 * The transpose of `closed`, linear in its `linear` inputs: inputs [non-linear inputs..., cotangents
 * of every output...], outputs the cotangents of the linear inputs (zeros where none flows).
 */
export function transposeJaxpr(closed: ClosedJaxpr, linear: boolean[]): ClosedJaxpr {
  const resAvals = pick(closed.inAvals, linear, false);
  return traceToJaxpr(
    (...xs) => {
      const res = xs.slice(0, resAvals.length);
      let r = 0;
      const args = closed.inAvals.map((a, i) => (linear[i] ? new UndefPrimal(a) : res[r++]));
      const cts = backwardPass(closed, xs.slice(resAvals.length), args);
      return closed.inAvals.flatMap((a, i) => (linear[i] ? [cts[i] ?? zerosOf(a)] : []));
    },
    [...resAvals, ...closed.outAvals],
    'transpose',
  );
}
