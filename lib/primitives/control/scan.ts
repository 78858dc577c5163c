/**
 * @file `scan`: a loop over the leading axis of `xs` with a carry, its body one jaxpr (traced once;
 * the IR does not grow with the length). Carries that become nonzero / batched / unknown inside the
 * body are found by fixed-point iteration, as in JAX. Reverse mode: partial evaluation stacks the
 * per-iteration residuals as outputs of the known scan, and the transpose is a scan in the opposite
 * direction over them.
 */

import { sizeOf } from '../../core/shape';
import { allocate, TypedArray } from '../../core/dtype';
import { bind, Value } from '../../core/trace';
import { evalJaxpr } from '../../ir/eval';
import { PartialEvalTrace, partialEvalJaxpr } from '../../ir/partial-eval';
import { Var } from '../../ir/jaxpr';
import { traceToJaxpr } from '../../ir/stage';
import { planOf } from '../../compiler/plan';
import * as lax from '../../lax';
import { backwardPass } from '../../transforms/linearize';
import { Params, PrimitiveDef, Tangent, UndefPrimal } from '../types';
import { avalsEqual, batchFirst, batchSize, dropBatch, dropInputs, groups, jvpJaxpr, orEach, permute, pick, pruneOutputs, sameFlags, split, toFront, vmapJaxpr, withBatch, zerosOf } from './util';

const count = (flags: boolean[], want = true): number => flags.filter((f) => f === want).length;

/** The numbers of consts, carries, xs and ys of a scan. */
function arity(nargs: number, { jaxpr, numConsts, numCarry }: Params['scan']): [number, number, number, number] {
  return [numConsts, numCarry, nargs - numConsts - numCarry, jaxpr.outAvals.length - numCarry];
}

function partialEvalScan(trace: PartialEvalTrace, args: Value[], params: Params['scan']): Value[] {
  const { jaxpr, length, reverse } = params;
  const [nc, nk, nx, ny] = arity(args.length, params);
  const known = args.map((a) => trace.known(a));
  const [cUk, kUk0, xUk] = split(known.map((k) => k === undefined), [nc, nk, nx]);
  let kUk = kUk0;
  let pe = partialEvalJaxpr(jaxpr, [...cUk, ...kUk, ...xUk], [...kUk, ...Array(ny).fill(false)]);
  while (!sameFlags(orEach(kUk, pe.outUnknowns.slice(0, nk)), kUk)) {
    kUk = orEach(kUk, pe.outUnknowns.slice(0, nk));
    pe = partialEvalJaxpr(jaxpr, [...cUk, ...kUk, ...xUk], [...kUk, ...Array(ny).fill(false)]);
  }
  const yUk = pe.outUnknowns.slice(nk);
  const inUk = [...cUk, ...kUk, ...xUk];
  // Residuals computed from known consts alone (or that are such consts) are loop-invariant: they
  // become consts of the unknown scan, computed once. The others are stacked per iteration.
  const nKnownOut = count(pe.outUnknowns, false);
  const nKc = count(cUk, false);
  const knownBody = pe.known.jaxpr;
  const varying = new Set<Var>(knownBody.inBinders.slice(nKc));
  for (const e of knownBody.eqns) if (e.inputs.some((a) => a instanceof Var && varying.has(a))) e.outs.forEach((v) => varying.add(v));
  const resIdx = [...Array(pe.resAvals.length).keys()];
  const stacked = resIdx.map((r) => {
    const o = knownBody.outs[nKnownOut + r];
    return o instanceof Var && varying.has(o);
  });
  const knownArgs = pick(known, inUk, false) as Value[];
  const invariantIdx = resIdx.filter((r) => !stacked[r]);
  const consts = knownArgs.slice(0, nKc);
  const constsOnly = [...Array(knownBody.inBinders.length).keys()].map((i) => i < nKc);
  const invariant = invariantIdx.length === 0 ? [] : evalJaxpr(dropInputs(pruneOutputs(pe.known, knownBody.outs.map((_, i) => i >= nKnownOut && !stacked[i - nKnownOut])).closed, constsOnly), consts);
  const knownScanBody = permute(pe.known, null, [...Array(nKnownOut).keys(), ...resIdx.filter((r) => stacked[r]).map((r) => nKnownOut + r)]);
  const kOuts = bind('scan', knownArgs, { jaxpr: knownScanBody, numConsts: nKc, numCarry: count(kUk, false), length, reverse });
  const [kCarry, kYs, kRes] = split(kOuts, [count(kUk, false), count(yUk, false), count(stacked)]);
  let ukOuts: Value[] = [];
  if (pe.outUnknowns.some(Boolean)) {
    const nRes = pe.resAvals.length;
    const [gc, gk, gx] = groups([count(cUk), count(kUk), count(xUk)]).map((g) => g.map((i) => i + nRes));
    const body = permute(pe.unknown, [...invariantIdx, ...gc, ...gk, ...resIdx.filter((r) => stacked[r]), ...gx], null);
    const [cArgs, kArgs, xArgs] = split(args, [nc, nk, nx]);
    const ukArgs = [...invariant.map((v) => trace.pure(v)), ...pick(cArgs, cUk), ...pick(kArgs, kUk), ...kRes.map((r) => trace.pure(r)), ...pick(xArgs, xUk)];
    ukOuts = trace.stage('scan', ukArgs, { jaxpr: body, numConsts: invariantIdx.length + count(cUk), numCarry: count(kUk), length, reverse });
  }
  const [uCarry, uYs] = split(ukOuts, [count(kUk), count(yUk)]);
  const merge = (uk: boolean[], kv: Value[], uv: Value[]): Value[] => {
    let a = 0;
    let b = 0;
    return uk.map((u) => (u ? uv[b++] : kv[a++]));
  };
  return [...merge(kUk, kCarry, uCarry), ...merge(yUk, kYs, uYs)];
}

export const scanDef: PrimitiveDef<'scan'> = {
  abstractEval(avals, params) {
    const { jaxpr, length } = params;
    const [nc, nk] = arity(avals.length, params);
    const ins = jaxpr.inAvals;
    const expected = avals.map((a, i) => (i < nc + nk ? a : a.ndim > 0 && a.shape[0] === length ? dropBatch(a) : null));
    if (ins.length !== avals.length || expected.some((a, i) => a === null || !avalsEqual(a, ins[i]))) {
      throw new TypeError(`scan: the body takes (${ins.join(', ')}), but the operands are (${avals.join(', ')}) with length ${length}`);
    }
    const outs = jaxpr.outAvals;
    const carry = avals.slice(nc, nc + nk);
    if (outs.length < nk || carry.some((a, i) => !avalsEqual(a, outs[i]))) {
      throw new TypeError(`scan: the body returns carry (${outs.slice(0, nk).join(', ')}), but the carry is (${carry.join(', ')})`);
    }
    return [...carry, ...outs.slice(nk).map((a) => withBatch(a, length))];
  },

  jvp(primals, tangents, params) {
    const { jaxpr } = params;
    const [nc, nk, nx, ny] = arity(primals.length, params);
    const nz = tangents.map((t) => t !== null);
    if (!nz.some(Boolean)) return [bind('scan', primals, params), Array(nk + ny).fill(null)];
    const [cNz, , xNz] = split(nz, [nc, nk, nx]);
    let kNz = nz.slice(nc, nc + nk);
    const noYs: boolean[] = Array(ny).fill(false);
    let jj = jvpJaxpr(jaxpr, [...cNz, ...kNz, ...xNz], [...kNz, ...noYs]);
    while (!sameFlags(orEach(kNz, jj.outNonzeros.slice(0, nk)), kNz)) {
      kNz = orEach(kNz, jj.outNonzeros.slice(0, nk));
      jj = jvpJaxpr(jaxpr, [...cNz, ...kNz, ...xNz], [...kNz, ...noYs]);
    }
    const yNz = jj.outNonzeros.slice(nk);
    const [nct, nkt, nxt, nyt] = [count(cNz), count(kNz), count(xNz), count(yNz)];
    // The JVP jaxpr is [primals, tangents] → [outs, tangents]; the scan wants consts, carry and xs grouped.
    const [gc, gk, gx, gct, gkt, gxt] = groups([nc, nk, nx, nct, nkt, nxt]);
    const [ok, oy, okt, oyt] = groups([nk, ny, nkt, nyt]);
    const body = permute(jj.jaxpr, [...gc, ...gct, ...gk, ...gkt, ...gx, ...gxt], [...ok, ...okt, ...oy, ...oyt]);
    const [consts, carry, xs] = split(primals, [nc, nk, nx]);
    const [tc, tk, tx] = split(tangents, [nc, nk, nx]);
    const carryT = carry.flatMap((c, i) => (kNz[i] ? [tk[i] ?? lax.zerosLike(c)] : []));
    const args = [...consts, ...(pick(tc, cNz) as Value[]), ...carry, ...carryT, ...xs, ...(pick(tx, xNz) as Value[])];
    const outs = bind('scan', args, { ...params, jaxpr: body, numConsts: nc + nct, numCarry: nk + nkt });
    const [carryOut, carryTOut, ys, ysT] = split(outs, [nk, nkt, ny, nyt]);
    const spread = (flags: boolean[], vals: Value[]): Tangent[] => {
      let k = 0;
      return flags.map((f) => (f ? vals[k++] : null));
    };
    return [[...carryOut, ...ys], [...spread(kNz, carryTOut), ...spread(yNz, ysT)]];
  },

  transpose(cts, args, params) {
    const { jaxpr, length, reverse } = params;
    const [nc, nk, nx, ny] = arity(args.length, params);
    const [consts, carry, xs] = split(args, [nc, nk, nx]);
    const isLin = (a: Value | UndefPrimal): boolean => a instanceof UndefPrimal;
    const cLin = consts.map(isLin);
    const xLin = xs.map(isLin);
    const resC = pick(consts, cLin, false) as Value[];
    const resX = pick(xs, xLin, false) as Value[];
    const ins = jaxpr.inAvals;
    const [constAvals, carryAvals, xAvals] = split(ins, [nc, nk, nx]);
    const yAvals = jaxpr.outAvals.slice(nk);
    const linC = pick(constAvals, cLin);
    // One step backwards: [res consts, const ct sums, carry ct, res x, y ct] → [const ct sums, carry ct, x ct].
    const bodyT = traceToJaxpr(
      (...zs) => {
        const [rc, acc, ck, rx, cy] = split(zs, [resC.length, linC.length, nk, resX.length, ny]);
        let i = 0;
        let j = 0;
        const bodyArgs = [
          ...constAvals.map((a, q) => (cLin[q] ? new UndefPrimal(a) : rc[i++])),
          ...carryAvals.map((a) => new UndefPrimal(a)),
          ...xAvals.map((a, q) => (xLin[q] ? new UndefPrimal(a) : rx[j++])),
        ];
        const ctsIn = backwardPass(jaxpr, [...ck, ...cy], bodyArgs);
        const inst = (k: number): Value => ctsIn[k] ?? zerosOf(ins[k]);
        const [gc, gk, gx] = groups([nc, nk, nx]);
        return [...pick(gc, cLin).map((k, q) => lax.add(acc[q], inst(k))), ...gk.map(inst), ...pick(gx, xLin).map(inst)];
      },
      [...pick(constAvals, cLin, false), ...linC, ...carryAvals, ...pick(xAvals, xLin, false), ...yAvals],
      'transpose',
    );
    const [ctCarry, ctYs] = split(cts, [nk, ny]);
    const outs = bind(
      'scan',
      [...resC, ...linC.map(zerosOf), ...ctCarry.map((c, i) => c ?? zerosOf(carryAvals[i])), ...resX, ...ctYs.map((c, i) => c ?? zerosOf(withBatch(yAvals[i], length)))],
      { jaxpr: bodyT, numConsts: resC.length, numCarry: linC.length + nk, length, reverse: !reverse },
    );
    const [ctC, ctK, ctX] = split(outs, [linC.length, nk, count(xLin)]);
    let a = 0;
    let b = 0;
    return [...cLin.map((l) => (l ? ctC[a++] : null)), ...carry.map((c, q) => (c instanceof UndefPrimal ? ctK[q] : null)), ...xLin.map((l) => (l ? ctX[b++] : null))];
  },

  vmap(args, dims, params) {
    const { jaxpr } = params;
    const [nc, nk, nx, ny] = arity(args.length, params);
    const size = batchSize(args, dims);
    const [cD, kD, xD] = split(dims, [nc, nk, nx]);
    const cB = cD.map((d) => d !== null);
    const xB = xD.map((d) => d !== null);
    let kB = kD.map((d) => d !== null);
    const noYs: boolean[] = Array(ny).fill(false);
    let vj = vmapJaxpr(jaxpr, size, [...cB, ...kB, ...xB], [...kB, ...noYs]);
    while (!sameFlags(orEach(kB, vj.outBatched.slice(0, nk)), kB)) {
      kB = orEach(kB, vj.outBatched.slice(0, nk));
      vj = vmapJaxpr(jaxpr, size, [...cB, ...kB, ...xB], [...kB, ...noYs]);
    }
    const [consts, carry, xs] = split(args, [nc, nk, nx]);
    // xs keep the scanned axis in front, so their batch axis goes second.
    const moved = [
      ...consts.map((c, i) => batchFirst(c, cD[i])),
      ...carry.map((c, i) => (kB[i] ? toFront(c, kD[i], size) : c)),
      ...xs.map((x, i) => (xD[i] === null ? x : lax.moveAxis(x, xD[i] as number, 1))),
    ];
    const outs = bind('scan', moved, { ...params, jaxpr: vj.jaxpr });
    return [outs, [...kB.map((b) => (b ? 0 : null)), ...vj.outBatched.slice(nk).map((b) => (b ? 1 : null))]];
  },

  lower(ins, outs, params) {
    const { jaxpr, length, reverse } = params;
    const [nc, nk] = arity(ins.length, params);
    const carryAvals = ins.slice(nc, nc + nk);
    const xSizes = ins.slice(nc + nk).map((a) => sizeOf(a.shape.slice(1)));
    const ySizes = outs.slice(nk).map((a) => sizeOf(a.shape.slice(1)));
    // Two sets of carry buffers, alternated across iterations and reused across calls.
    let carryBufs: TypedArray[][] | undefined;
    const host = (inBufs: TypedArray[], outBufs: TypedArray[]): void => {
      const plan = planOf(jaxpr);
      const bufs = (carryBufs ??= [0, 1].map(() => carryAvals.map((a) => allocate(a.dtype, a.size))));
      const xs = inBufs.slice(nc + nk);
      const ys = outBufs.slice(nk);
      // The body's argument lists are filled in place: [consts, carry, x slices] → [carry, y slices].
      const args = [...inBufs];
      const results = [...bufs[0], ...ys];
      let carry = inBufs.slice(nc, nc + nk);
      for (let t = 0; t < length; t++) {
        const i = reverse ? length - 1 - t : t;
        const next = bufs[t % 2];
        for (let j = 0; j < nk; j++) {
          args[nc + j] = carry[j];
          results[j] = next[j];
        }
        for (let j = 0; j < xs.length; j++) args[nc + nk + j] = xs[j].subarray(i * xSizes[j], (i + 1) * xSizes[j]);
        for (let j = 0; j < ys.length; j++) results[nk + j] = ys[j].subarray(i * ySizes[j], (i + 1) * ySizes[j]);
        plan.exec(args, results);
        carry = next;
      }
      carry.forEach((c, j) => outBufs[j].set(c.subarray(0, carryAvals[j].size)));
    };
    return { kernels: [], temps: [], host };
  },

  partialEval: partialEvalScan,

  dce(params, used) {
    const { jaxpr, numConsts: nc, numCarry: nk } = params;
    const keepY = used.slice(nk);
    // A carry stays if it is used, or if the body reads it to compute something that stays.
    let keepK = used.slice(0, nk);
    let pruned = pruneOutputs(jaxpr, [...keepK, ...keepY]);
    while (!sameFlags(orEach(keepK, pruned.usedInputs.slice(nc, nc + nk)), keepK)) {
      keepK = orEach(keepK, pruned.usedInputs.slice(nc, nc + nk));
      pruned = pruneOutputs(jaxpr, [...keepK, ...keepY]);
    }
    const usedInputs = [...pruned.usedInputs.slice(0, nc), ...keepK, ...pruned.usedInputs.slice(nc + nk)];
    return {
      params: { ...params, jaxpr: dropInputs(pruned.closed, usedInputs), numConsts: count(usedInputs.slice(0, nc)), numCarry: count(keepK) },
      keptOutputs: [...keepK, ...keepY],
      usedInputs,
    };
  },
};
