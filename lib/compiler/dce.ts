/**
 * @file Dead-code elimination: drops equations whose outputs nothing uses (every primitive is pure,
 * loops included), inside nested jaxprs too.
 */

import { ClosedJaxpr, Eqn, Jaxpr, mapSubJaxprs, Var } from '../ir/jaxpr';
import { primitiveDef } from '../primitives';

export function dce(jaxpr: Jaxpr): Jaxpr {
  const live = new Set<Var>();
  for (const o of jaxpr.outs) if (o instanceof Var) live.add(o);
  const kept: Eqn[] = [];
  for (let i = jaxpr.eqns.length - 1; i >= 0; i--) {
    let e = jaxpr.eqns[i];
    const used = e.outs.map((v) => live.has(v));
    if (!used.some(Boolean)) continue;
    // Higher-order primitives drop unused outputs (and the inputs only those needed).
    const rule = primitiveDef(e.prim).dce;
    if (rule && !used.every(Boolean)) {
      const { params, keptOutputs, usedInputs } = rule(e.params as never, used);
      e = { ...e, params, outs: e.outs.filter((_, j) => keptOutputs[j]), inputs: e.inputs.filter((_, j) => usedInputs[j]) } as Eqn;
    }
    kept.push({ ...e, params: mapSubJaxprs(e.params, dceClosed) } as Eqn);
    for (const a of e.inputs) if (a instanceof Var) live.add(a);
  }
  kept.reverse();
  const constvars = jaxpr.constvars.filter((v) => live.has(v));
  return new Jaxpr(constvars, jaxpr.inBinders, kept, jaxpr.outs);
}

/** DCE of a closed jaxpr, keeping the constants of the constvars that stay. */
export function dceClosed(closed: ClosedJaxpr): ClosedJaxpr {
  const jaxpr = dce(closed.jaxpr);
  const consts = jaxpr.constvars.map((v) => closed.consts[closed.jaxpr.constvars.indexOf(v)]);
  return new ClosedJaxpr(jaxpr, consts);
}
