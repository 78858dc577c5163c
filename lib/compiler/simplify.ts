/**
 * @file Simplifications of a staged jaxpr before fusion (transformations are done by then): a
 * dot_general reads a transposed operand directly (the GEMM takes any strides), so `x.T @ y` and the
 * transposes reverse mode introduces cost no copy; `stop_gradient`, the identity once no derivative
 * will be taken, disappears. Dead equations are left for DCE.
 */

import { Atom, Eqn, Jaxpr, Var } from '../ir/jaxpr';
import { DotDims } from '../primitives/types';

const isIncreasing = (xs: number[]): boolean => xs.every((v, i) => i === 0 || xs[i - 1] < v);

/**
 * The dimension numbers that read `perm`'s input in place of its transposed output (transposed axis
 * i is input axis perm[i]), or null when the free axes would come out in another order.
 */
function throughTranspose(perm: number[], contract: number[], batch: number[]): { contract: number[]; batch: number[] } | null {
  const free = perm.map((_, i) => i).filter((i) => !contract.includes(i) && !batch.includes(i));
  if (!isIncreasing(free.map((i) => perm[i]))) return null;
  return { contract: contract.map((a) => perm[a]), batch: batch.map((a) => perm[a]) };
}

export function simplify(jaxpr: Jaxpr): Jaxpr {
  return foldTransposesIntoDots(dropStopGradients(jaxpr));
}

/** Replaces every use of a stop_gradient's result by its operand. */
export function dropStopGradients(jaxpr: Jaxpr): Jaxpr {
  const subst = new Map<Var, Atom>();
  const resolve = (a: Atom): Atom => (a instanceof Var ? subst.get(a) ?? a : a);
  const eqns: Eqn[] = [];
  for (const e of jaxpr.eqns) {
    if (e.prim === 'stop_gradient') {
      subst.set(e.outs[0], resolve(e.inputs[0]));
      continue;
    }
    eqns.push(e.inputs.some((a) => a instanceof Var && subst.has(a)) ? { ...e, inputs: e.inputs.map(resolve) } : e);
  }
  return new Jaxpr(jaxpr.constvars, jaxpr.inBinders, eqns, jaxpr.outs.map(resolve));
}

export function foldTransposesIntoDots(jaxpr: Jaxpr): Jaxpr {
  const transposed = new Map<Var, { input: Atom; perm: number[] }>();
  const eqns = jaxpr.eqns.map((e): Eqn => {
    if (e.prim === 'transpose') {
      transposed.set(e.outs[0], { input: e.inputs[0], perm: (e.params as { perm: number[] }).perm });
      return e;
    }
    if (e.prim !== 'dot_general') return e;
    let [lhs, rhs] = e.inputs;
    let d = e.params as DotDims;
    const l = lhs instanceof Var ? transposed.get(lhs) : undefined;
    const ld = l && throughTranspose(l.perm, d.lhsContract, d.lhsBatch);
    if (l && ld) {
      lhs = l.input;
      d = { ...d, lhsContract: ld.contract, lhsBatch: ld.batch };
    }
    const r = rhs instanceof Var ? transposed.get(rhs) : undefined;
    const rd = r && throughTranspose(r.perm, d.rhsContract, d.rhsBatch);
    if (r && rd) {
      rhs = r.input;
      d = { ...d, rhsContract: rd.contract, rhsBatch: rd.batch };
    }
    return lhs === e.inputs[0] && rhs === e.inputs[1] ? e : { ...e, inputs: [lhs, rhs], params: d };
  });
  return new Jaxpr(jaxpr.constvars, jaxpr.inBinders, eqns, jaxpr.outs);
}
