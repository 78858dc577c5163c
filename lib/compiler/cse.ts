/**
 * @file Common-subexpression elimination: equal equations (primitive, params, inputs) are computed
 * once; nested jaxprs (control flow) are compared by their text and simplified too.
 */

import { Atom, ClosedJaxpr, Eqn, Jaxpr, Literal, mapSubJaxprs, paramsKey, Var } from '../ir/jaxpr';

export function cse(jaxpr: Jaxpr): Jaxpr {
  const ids = new Map<Var, number>();
  const idOf = (v: Var): number => {
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = ids.size));
    return id;
  };
  const subst = new Map<Var, Var>();
  const resolve = (a: Atom): Atom => (a instanceof Var ? subst.get(a) ?? a : a);
  const key = (a: Atom): string => (a instanceof Literal ? a.key : `v${idOf(a)}`);
  const seen = new Map<string, Var[]>();
  const eqns: Eqn[] = [];
  for (const e of jaxpr.eqns) {
    const inputs = e.inputs.map(resolve);
    const params = mapSubJaxprs(e.params, (c) => new ClosedJaxpr(cse(c.jaxpr), c.consts));
    const k = `${e.prim}|${paramsKey(params)}|${inputs.map(key).join(',')}`;
    const prev = seen.get(k);
    if (prev) {
      e.outs.forEach((v, i) => subst.set(v, prev[i]));
      continue;
    }
    seen.set(k, e.outs);
    eqns.push({ ...e, inputs, params } as Eqn);
  }
  return new Jaxpr(jaxpr.constvars, jaxpr.inBinders, eqns, jaxpr.outs.map(resolve));
}
