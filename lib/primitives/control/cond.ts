/**
 * @file `cond`: runs one of several branch jaxprs, chosen by an int32 index (clamped), on shared
 * operands. JVP, partial evaluation and transposition map over the branches; a batched index
 * evaluates every branch and selects (as JAX).
 */

import { fromScalar } from '../../core/concrete';
import { bind, Value } from '../../core/trace';
import { evalJaxpr } from '../../ir/eval';
import { PartialEvalTrace, partialEvalJaxpr } from '../../ir/partial-eval';
import { traceToJaxpr } from '../../ir/stage';
import { planOf } from '../../compiler/plan';
import * as lax from '../../lax';
import { Params, PrimitiveDef, UndefPrimal } from '../types';
import { avalsEqual, batchSize, dropInputs, jvpJaxpr, orEach, pick, pruneOutputs, transposeJaxpr, vmapJaxpr, zerosOf } from './util';

const clampIndex = (i: number, n: number): number => Math.min(Math.max(i, 0), n - 1);

function partialEvalCond(trace: PartialEvalTrace, args: Value[], params: Params['cond']): Value[] {
  const { branches } = params;
  const known = args.map((a) => trace.known(a));
  if (known[0] === undefined) return trace.stage('cond', args, params);
  const unknowns = known.slice(1).map((k) => k === undefined);
  let outUk = branches[0].outAvals.map(() => false);
  for (const b of branches) outUk = orEach(outUk, partialEvalJaxpr(b, unknowns, outUk).outUnknowns);
  const pes = branches.map((b) => partialEvalJaxpr(b, unknowns, outUk));
  // Every known branch returns the residuals of all branches (zeros for the others').
  const allRes = pes.flatMap((p) => p.resAvals);
  const offsets = pes.map((_, i) => pes.slice(0, i).reduce((n, p) => n + p.resAvals.length, 0));
  const nKnownOut = outUk.filter((u) => !u).length;
  const knownBranches = pes.map((p, i) =>
    traceToJaxpr(
      (...xs) => {
        const outs = evalJaxpr(p.known, xs);
        return [...outs.slice(0, nKnownOut), ...pes.flatMap((q, j) => (j === i ? outs.slice(nKnownOut) : q.resAvals.map(zerosOf)))];
      },
      p.known.inAvals,
      'cond',
    ),
  );
  const knownOuts = bind('cond', [known[0], ...(known.slice(1).filter((k) => k !== undefined) as Value[])], { branches: knownBranches });
  if (!outUk.some(Boolean)) return knownOuts;
  const ukArgs = pick(args.slice(1), unknowns);
  const unknownBranches = pes.map((p, i) =>
    traceToJaxpr(
      (...xs) => evalJaxpr(p.unknown, [...xs.slice(offsets[i], offsets[i] + p.resAvals.length), ...xs.slice(allRes.length)]),
      [...allRes, ...ukArgs.map((a) => a.aval)],
      'cond',
    ),
  );
  const res = knownOuts.slice(nKnownOut).map((r) => trace.pure(r));
  const ukOuts = trace.stage('cond', [args[0], ...res, ...ukArgs], { branches: unknownBranches });
  let k = 0;
  let u = 0;
  return outUk.map((isUk) => (isUk ? ukOuts[u++] : knownOuts[k++]));
}

export const condDef: PrimitiveDef<'cond'> = {
  abstractEval([index, ...ops], { branches }) {
    if (index.ndim !== 0 || index.dtype !== 'int32') throw new TypeError(`cond: the index must be an int32 scalar, received ${index}`);
    branches.forEach((b, i) => {
      const ins = b.inAvals;
      if (ins.length !== ops.length || ins.some((a, j) => !avalsEqual(a, ops[j]))) {
        throw new TypeError(`cond: branch ${i} takes (${ins.join(', ')}), but the operands are (${ops.join(', ')})`);
      }
      const outs = b.outAvals;
      const first = branches[0].outAvals;
      if (outs.length !== first.length || outs.some((a, j) => !a.equals(first[j]))) {
        throw new TypeError(`cond: branch ${i} returns (${outs.join(', ')}), but branch 0 returns (${first.join(', ')})`);
      }
    });
    return branches[0].outAvals;
  },

  jvp(primals, tangents, { branches }) {
    const [index, ...ops] = primals;
    const nz = tangents.slice(1).map((t) => t !== null);
    if (!nz.some(Boolean)) return [bind('cond', primals, { branches }), branches[0].outAvals.map(() => null)];
    let outNz = branches[0].outAvals.map(() => false);
    for (const b of branches) outNz = orEach(outNz, jvpJaxpr(b, nz, outNz).outNonzeros);
    const jvpBranches = branches.map((b) => jvpJaxpr(b, nz, outNz).jaxpr);
    const outs = bind('cond', [index, ...ops, ...(tangents.slice(1).filter((t) => t !== null) as Value[])], { branches: jvpBranches });
    let k = outNz.length;
    return [outs.slice(0, outNz.length), outNz.map((z) => (z ? outs[k++] : null))];
  },

  transpose(cts, [index, ...ops], { branches }) {
    if (index instanceof UndefPrimal) throw new Error('cond: transpose with respect to the index (not linear)');
    const linear = ops.map((o) => o instanceof UndefPrimal);
    const outAvals = branches[0].outAvals;
    const transposed = branches.map((b) => transposeJaxpr(b, linear));
    const res = ops.filter((o) => !(o instanceof UndefPrimal)) as Value[];
    const outs = bind('cond', [index, ...res, ...cts.map((c, i) => c ?? zerosOf(outAvals[i]))], { branches: transposed });
    let k = 0;
    return [null, ...linear.map((l) => (l ? outs[k++] : null))];
  },

  vmap([index, ...ops], [indexDim, ...dims], { branches }) {
    const size = batchSize([index, ...ops], [indexDim, ...dims]);
    const moved = ops.map((o, i) => (dims[i] === null ? o : lax.moveAxis(o, dims[i] as number, 0)));
    const batched = dims.map((d) => d !== null);
    if (indexDim === null) {
      let outB = branches[0].outAvals.map(() => false);
      for (const b of branches) outB = orEach(outB, vmapJaxpr(b, size, batched, outB).outBatched);
      const outs = bind('cond', [index, ...moved], { branches: branches.map((b) => vmapJaxpr(b, size, batched, outB).jaxpr) });
      return [outs, outB.map((b) => (b ? 0 : null))];
    }
    // A batched index: every branch runs on every lane, and each lane selects its branch's result.
    const all = branches.map((b) => evalJaxpr(vmapJaxpr(b, size, batched, b.outAvals.map(() => true)).jaxpr, moved));
    const last = fromScalar(branches.length - 1, 'int32');
    const idx = lax.max(lax.min(lax.moveAxis(index, indexDim, 0), last), fromScalar(0, 'int32'));
    const outs = all[0].map((first, j) =>
      all.slice(1).reduce((acc, outs, k) => {
        const pred = lax.broadcastInDim(lax.eq(idx, fromScalar(k + 1, 'int32')), [...acc.aval.shape], [0]);
        return lax.select(pred, outs[j], acc);
      }, first),
    );
    return [outs, outs.map(() => 0)];
  },

  lower: (_ins, _outs, { branches }) => ({
    kernels: [],
    temps: [],
    host: (ins, outs) => planOf(branches[clampIndex(ins[0][0], branches.length)]).exec(ins.slice(1), outs),
  }),

  partialEval: partialEvalCond,

  dce({ branches }, used) {
    const pruned = branches.map((b) => pruneOutputs(b, used));
    const usedOps = pruned.reduce((acc, p) => orEach(acc, p.usedInputs), branches[0].inAvals.map(() => false));
    return { params: { branches: pruned.map((p) => dropInputs(p.closed, usedOps)) }, keptOutputs: used, usedInputs: [true, ...usedOps] };
  },
};
