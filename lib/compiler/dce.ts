/**
 * @file Dead-code elimination: drops equations whose outputs nothing uses (every primitive is pure,
 * loops included), inside nested jaxprs too.
 */

import { ClosedJaxpr, Eqn, Jaxpr, mapSubJaxprs, Var } from '../ir/jaxpr';

export function dce(jaxpr: Jaxpr): Jaxpr {
  const live = new Set<Var>();
  for (const o of jaxpr.outs) if (o instanceof Var) live.add(o);
  const kept: Eqn[] = [];
  for (let i = jaxpr.eqns.length - 1; i >= 0; i--) {
    const e = jaxpr.eqns[i];
    if (!e.outs.some((v) => live.has(v))) continue;
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
