/**
 * @file Reverse mode as linearize + transpose (autodidax). Linearize runs the JVP with tangents as
 * staged inputs, so the primal computation happens now (under any outer transformation) and the
 * tangent computation is recorded as a linear jaxpr. Transposing that jaxpr gives the VJP; since it
 * is evaluated with `bind`, derivatives of derivatives work.
 */

import { ShapedArray } from '../core/aval';
import { bind, MainTrace, Value, withMainTrace } from '../core/trace';
import { Atom, ClosedJaxpr, Literal, Var } from '../ir/jaxpr';
import { PartialEvalTrace } from '../ir/partial-eval';
import { JaxprBuilder } from '../ir/stage';
import * as lax from '../lax';
import { primitiveDef } from '../primitives';
import { Tangent, UndefPrimal } from '../primitives/types';
import { jvpFlat } from './jvp';

export interface Linearized {
  primalsOut: Value[];
  /** tangents in → tangents out; outputs whose tangent is identically zero are `null`. */
  linear: ClosedJaxpr;
  zeroOut: boolean[];
}

export function linearizeFlat(f: (...xs: Value[]) => Value[], primals: Value[]): Linearized {
  const builder = new JaxprBuilder();
  return withMainTrace(PartialEvalTrace, builder, 'grad', (main: MainTrace) => {
    const trace = new PartialEvalTrace(main);
    const tangentsIn = primals.map((p) => trace.newArg(new ShapedArray(p.aval.shape, p.dtype, p.weakType)));
    const [primalsOut, tangentsOut] = jvpFlat(f, primals, tangentsIn, 'grad');
    const zeroOut = tangentsOut.map((t) => t === null);
    const outs = tangentsOut.map((t, i) => trace.atomOf(t ?? lax.zerosLike(primalsOut[i])));
    const linear = builder.build(
      tangentsIn.map((t) => t.atom as Var),
      outs,
    );
    return { primalsOut, linear, zeroOut };
  });
}

/** Accumulates cotangents per variable. */
class CotangentMap {
  private readonly m = new Map<Var, Value>();
  add(v: Var, ct: Value): void {
    const prev = this.m.get(v);
    this.m.set(v, prev === undefined ? ct : lax.add(prev, ct));
  }
  pop(v: Var): Tangent {
    const ct = this.m.get(v);
    this.m.delete(v);
    return ct ?? null;
  }
}

/**
 * Runs the linear jaxpr backwards: cotangents of its outputs (null = zero) → cotangents of its
 * inputs (null = zero). Equations are visited in reverse; each one's transpose rule is evaluated with
 * `bind`, so outer transformations see the backward pass too. `args` may give known (non-linear)
 * values for some inputs (the others are `UndefPrimal`); equations on known values only are
 * evaluated forwards first (control-flow bodies mix residuals and linear values).
 */
export function backwardPass(closed: ClosedJaxpr, cts: Tangent[], args?: (Value | UndefPrimal)[]): Tangent[] {
  const { jaxpr, consts } = closed;
  const constEnv = new Map<Var, Value>();
  jaxpr.constvars.forEach((v, i) => constEnv.set(v, consts[i]));
  args?.forEach((a, i) => a instanceof UndefPrimal || constEnv.set(jaxpr.inBinders[i], a));
  const isKnown = (a: Atom): boolean => a instanceof Literal || constEnv.has(a);
  const linearEqns = jaxpr.eqns.filter((eqn) => {
    if (!args || !eqn.inputs.every(isKnown)) return true;
    const outs = bind(eqn.prim, eqn.inputs.map((a) => (a instanceof Literal ? a.value : (constEnv.get(a) as Value))), eqn.params);
    eqn.outs.forEach((v, i) => constEnv.set(v, outs[i]));
    return false;
  });
  const ctMap = new CotangentMap();
  jaxpr.outs.forEach((o, i) => {
    const ct = cts[i];
    if (ct !== null && o instanceof Var && !constEnv.has(o)) ctMap.add(o, ct);
  });
  for (let e = linearEqns.length - 1; e >= 0; e--) {
    const eqn = linearEqns[e];
    const ctsOut = eqn.outs.map((v) => ctMap.pop(v));
    if (ctsOut.every((c) => c === null)) continue;
    const eqnArgs = eqn.inputs.map((a) => (a instanceof Literal ? a.value : constEnv.get(a) ?? new UndefPrimal(a.aval)));
    const rule = primitiveDef(eqn.prim).transpose;
    if (rule === null) throw new Error(`grad: the primitive ${eqn.prim} appeared in a linear computation but has no transpose rule (it is not linear)`);
    const ctsIn = rule(ctsOut, eqnArgs, eqn.params as never);
    eqn.inputs.forEach((a, i) => {
      const ct = ctsIn[i];
      if (ct !== null && ct !== undefined && eqnArgs[i] instanceof UndefPrimal) ctMap.add(a as Var, ct);
    });
  }
  return jaxpr.inBinders.map((v) => ctMap.pop(v));
}

/** vjp of a flat function: primal outputs and a function from output cotangents to input cotangents. */
export function vjpFlat(f: (...xs: Value[]) => Value[], primals: Value[]): [Value[], (cts: Tangent[]) => Tangent[]] {
  const { primalsOut, linear } = linearizeFlat(f, primals);
  return [primalsOut, (cts) => backwardPass(linear, cts)];
}
