/** @file Evaluates a jaxpr by binding each equation, so it runs under whatever transformations are active. */

import { bind, Value } from '../core/trace';
import { Atom, ClosedJaxpr, Literal, Var } from './jaxpr';

export function evalJaxpr(closed: ClosedJaxpr, args: Value[]): Value[] {
  const { jaxpr, consts } = closed;
  const env = new Map<Var, Value>();
  jaxpr.constvars.forEach((v, i) => env.set(v, consts[i]));
  jaxpr.inBinders.forEach((v, i) => env.set(v, args[i]));
  const read = (a: Atom): Value => (a instanceof Literal ? a.value : (env.get(a) as Value));
  for (const eqn of jaxpr.eqns) {
    const outs = bind(eqn.prim, eqn.inputs.map(read), eqn.params);
    eqn.outs.forEach((v, i) => env.set(v, outs[i]));
  }
  return jaxpr.outs.map(read);
}
