/**
 * @file `while`: loops a body jaxpr while a cond jaxpr (a bool scalar) holds. Forward mode and
 * batching work (a batched predicate runs until every lane is done, carrying a per-lane mask of
 * lanes still running); reverse mode does not, as in JAX: the trip count is not known ahead.
 */

import { ShapedArray } from '../../core/aval';
import { fromScalar } from '../../core/concrete';
import { allocate, TypedArray } from '../../core/dtype';
import { bind, Value } from '../../core/trace';
import { evalJaxpr } from '../../ir/eval';
import { ClosedJaxpr, Jaxpr, Var } from '../../ir/jaxpr';
import { PartialEvalTrace, partialEvalJaxpr } from '../../ir/partial-eval';
import { traceToJaxpr } from '../../ir/stage';
import { planOf } from '../../compiler/plan';
import * as lax from '../../lax';
import { Params, PrimitiveDef } from '../types';
import { avalsEqual, batchFirst, batchSize, groups, jvpJaxpr, orEach, permute, pick, sameFlags, split, toFront, vmapJaxpr } from './util';

const arity = (nargs: number, p: Params['while']): [number, number, number] => [p.condNconsts, p.bodyNconsts, nargs - p.condNconsts - p.bodyNconsts];

/**
 * Carries that depend only on known values are computed now by a loop over them alone; the whole
 * loop is staged again for the others (so that reverse mode reaches the clear error below).
 */
function partialEvalWhile(trace: PartialEvalTrace, args: Value[], params: Params['while']): Value[] {
  const { condJaxpr, bodyJaxpr } = params;
  const [ncc, nbc, nk] = arity(args.length, params);
  const known = args.map((a) => trace.known(a));
  const [ccUk, bcUk, kUk0] = split(known.map((k) => k === undefined), [ncc, nbc, nk]);
  let kUk = kUk0;
  let body = partialEvalJaxpr(bodyJaxpr, [...bcUk, ...kUk], kUk);
  while (!sameFlags(orEach(kUk, body.outUnknowns), kUk)) {
    kUk = orEach(kUk, body.outUnknowns);
    body = partialEvalJaxpr(bodyJaxpr, [...bcUk, ...kUk], kUk);
  }
  const cond = partialEvalJaxpr(condJaxpr, [...ccUk, ...kUk], [false]);
  if (cond.outUnknowns[0] || kUk.every(Boolean)) return trace.stage('while', args, params);
  const nKnown = kUk.filter((u) => !u).length;
  const [cc, bc, carry] = split(known, [ncc, nbc, nk]);
  const knownArgs = [...pick(cc, ccUk, false), ...pick(bc, bcUk, false), ...pick(carry, kUk, false)] as Value[];
  const kOuts = bind('while', knownArgs, {
    condJaxpr: permute(cond.known, null, [0]),
    bodyJaxpr: permute(body.known, null, [...Array(nKnown).keys()]),
    condNconsts: ccUk.filter((u) => !u).length,
    bodyNconsts: bcUk.filter((u) => !u).length,
  });
  const ukOuts = kUk.some(Boolean) ? trace.stage('while', args, params) : [];
  let k = 0;
  return kUk.map((u, i) => (u ? ukOuts[i] : kOuts[k++]));
}

export const whileDef: PrimitiveDef<'while'> = {
  abstractEval(avals, params) {
    const { condJaxpr, bodyJaxpr } = params;
    const [ncc, nbc] = arity(avals.length, params);
    const carry = avals.slice(ncc + nbc);
    const condIns = [...avals.slice(0, ncc), ...carry];
    const bodyIns = avals.slice(ncc);
    const matches = (want: ShapedArray[], got: ShapedArray[]): boolean => want.length === got.length && got.every((a, i) => avalsEqual(a, want[i]));
    if (!matches(condJaxpr.inAvals, condIns)) throw new TypeError(`while: the cond takes (${condJaxpr.inAvals.join(', ')}), but its operands are (${condIns.join(', ')})`);
    if (!matches(bodyJaxpr.inAvals, bodyIns)) throw new TypeError(`while: the body takes (${bodyJaxpr.inAvals.join(', ')}), but its operands are (${bodyIns.join(', ')})`);
    const pred = condJaxpr.outAvals;
    if (pred.length !== 1 || pred[0].ndim !== 0 || pred[0].dtype !== 'bool') throw new TypeError(`while: the cond must return one bool scalar, received (${pred.join(', ')})`);
    if (!matches(bodyJaxpr.outAvals, carry)) throw new TypeError(`while: the body returns (${bodyJaxpr.outAvals.join(', ')}), but the carry is (${carry.join(', ')})`);
    return carry;
  },

  jvp(primals, tangents, params) {
    const { condJaxpr, bodyJaxpr } = params;
    const [ncc, nbc, nk] = arity(primals.length, params);
    const [cc, bc, carry] = split(primals, [ncc, nbc, nk]);
    const [, tbc, tk] = split(tangents, [ncc, nbc, nk]);
    const bcNz = tbc.map((t) => t !== null);
    let kNz = tk.map((t) => t !== null);
    if (!bcNz.some(Boolean) && !kNz.some(Boolean)) return [bind('while', primals, params), carry.map(() => null)];
    let jj = jvpJaxpr(bodyJaxpr, [...bcNz, ...kNz], kNz);
    while (!sameFlags(orEach(kNz, jj.outNonzeros), kNz)) {
      kNz = orEach(kNz, jj.outNonzeros);
      jj = jvpJaxpr(bodyJaxpr, [...bcNz, ...kNz], kNz);
    }
    const nbt = bcNz.filter(Boolean).length;
    const nkt = kNz.filter(Boolean).length;
    const [gbc, gk, gbt, gkt] = groups([nbc, nk, nbt, nkt]);
    const body = permute(jj.jaxpr, [...gbc, ...gbt, ...gk, ...gkt], null);
    // The predicate ignores the tangents.
    const cj = condJaxpr.jaxpr;
    const tangentBinders = pick(carry, kNz).map((c) => new Var(c.aval));
    const cond = new ClosedJaxpr(new Jaxpr(cj.constvars, [...cj.inBinders, ...tangentBinders], cj.eqns, cj.outs), condJaxpr.consts);
    const carryT = carry.flatMap((c, i) => (kNz[i] ? [tk[i] ?? lax.zerosLike(c)] : []));
    const outs = bind('while', [...cc, ...bc, ...(pick(tbc, bcNz) as Value[]), ...carry, ...carryT], {
      condJaxpr: cond,
      bodyJaxpr: body,
      condNconsts: ncc,
      bodyNconsts: nbc + nbt,
    });
    let k = nk;
    return [outs.slice(0, nk), kNz.map((z) => (z ? outs[k++] : null))];
  },

  transpose() {
    throw new Error(
      'whileLoop: reverse-mode differentiation (grad, vjp) does not work for lax.whileLoop or lax.foriLoop with dynamic (traced) bounds, ' +
        'because the number of iterations is not known ahead. Use lax.scan, or lax.foriLoop with static (JS number) bounds.',
    );
  },

  vmap(args, dims, params) {
    const { condJaxpr, bodyJaxpr } = params;
    const [ncc, nbc, nk] = arity(args.length, params);
    const size = batchSize(args, dims);
    const [ccD, bcD, kD] = split(dims, [ncc, nbc, nk]);
    const ccB = ccD.map((d) => d !== null);
    const bcB = bcD.map((d) => d !== null);
    let kB = kD.map((d) => d !== null);
    let vb = vmapJaxpr(bodyJaxpr, size, [...bcB, ...kB], kB);
    while (!sameFlags(orEach(kB, vb.outBatched), kB)) {
      kB = orEach(kB, vb.outBatched);
      vb = vmapJaxpr(bodyJaxpr, size, [...bcB, ...kB], kB);
    }
    let vc = vmapJaxpr(condJaxpr, size, [...ccB, ...kB], [false]);
    const predBatched = vc.outBatched[0];
    if (predBatched && !kB.every(Boolean)) {
      // Lanes stop at different iterations, so every carry is per lane.
      kB = kB.map(() => true);
      vb = vmapJaxpr(bodyJaxpr, size, [...bcB, ...kB], kB);
      vc = vmapJaxpr(condJaxpr, size, [...ccB, ...kB], [false]);
    }
    const [cc, bc, carry] = split(args, [ncc, nbc, nk]);
    const ccM = cc.map((x, i) => batchFirst(x, ccD[i]));
    const bcM = bc.map((x, i) => batchFirst(x, bcD[i]));
    const carryM = carry.map((x, i) => (kB[i] ? toFront(x, kD[i], size) : x));
    if (!predBatched) {
      const outs = bind('while', [...ccM, ...bcM, ...carryM], { ...params, condJaxpr: vc.jaxpr, bodyJaxpr: vb.jaxpr });
      return [outs, kB.map((b) => (b ? 0 : null))];
    }
    // A batched predicate: carry a mask of lanes still running; finished lanes keep their values.
    const active = evalJaxpr(vc.jaxpr, [...ccM, ...carryM])[0];
    const carryAvals = carryM.map((c) => c.aval);
    const anyActive = traceToJaxpr(
      (...xs) => [lax.gt(lax.reduceMax(lax.convert(xs[xs.length - 1], 'int32'), [0]), fromScalar(0, 'int32'))],
      [...carryAvals, active.aval],
      'while',
    );
    const maskedBody = traceToJaxpr(
      (...xs) => {
        const [c1, b1, k1, [running]] = split(xs, [ncc, nbc, nk, 1]);
        const next = evalJaxpr(vb.jaxpr, [...b1, ...k1]);
        const kept = next.map((n, i) => lax.select(lax.broadcastInDim(running, [...n.aval.shape], [0]), n, k1[i]));
        return [...kept, lax.and(running, evalJaxpr(vc.jaxpr, [...c1, ...kept])[0])];
      },
      [...ccM.map((x) => x.aval), ...bcM.map((x) => x.aval), ...carryAvals, active.aval],
      'while',
    );
    const outs = bind('while', [...ccM, ...bcM, ...carryM, active], { condJaxpr: anyActive, bodyJaxpr: maskedBody, condNconsts: 0, bodyNconsts: ncc + nbc });
    return [outs.slice(0, nk), kB.map(() => 0)];
  },

  lower(ins, _outs, params) {
    const { condJaxpr, bodyJaxpr } = params;
    const [ncc, nbc] = arity(ins.length, params);
    const carryAvals = ins.slice(ncc + nbc);
    const pred = allocate('bool', 1);
    // Two sets of carry buffers, alternated across iterations and reused across calls.
    let carryBufs: TypedArray[][] | undefined;
    const host = (inBufs: TypedArray[], outBufs: TypedArray[]): void => {
      const condPlan = planOf(condJaxpr);
      const bodyPlan = planOf(bodyJaxpr);
      const bufs = (carryBufs ??= [0, 1].map(() => carryAvals.map((a) => allocate(a.dtype, a.size))));
      // The argument lists are filled in place: cond [consts, carry], body [consts, carry] → carry.
      const condArgs = [...inBufs.slice(0, ncc), ...inBufs.slice(ncc + nbc)];
      const bodyArgs = inBufs.slice(ncc);
      const predOut = [pred];
      let carry = inBufs.slice(ncc + nbc);
      for (let t = 0; ; t++) {
        for (let j = 0; j < carry.length; j++) condArgs[ncc + j] = bodyArgs[nbc + j] = carry[j];
        condPlan.exec(condArgs, predOut);
        if (!pred[0]) break;
        const next = bufs[t % 2];
        bodyPlan.exec(bodyArgs, next);
        carry = next;
      }
      carry.forEach((c, j) => outBufs[j].set(c.subarray(0, carryAvals[j].size)));
    };
    return { kernels: [], temps: [], host };
  },

  partialEval: partialEvalWhile,
};
