/**
 * @file Partial evaluation (JAX's partial_eval): inputs are known (values of outer traces, computed
 * now) or unknown (staged). Linearize uses it with the tangents unknown; higher-order primitives
 * split their nested jaxprs with `partialEvalJaxpr` so that only the unknown work is staged and the
 * known outputs (the primal values) come back computed, with residuals passed between the parts.
 */

import { ShapedArray } from '../core/aval';
import { MainTrace, Value, withMainTrace } from '../core/trace';
import { primitiveDef } from '../primitives';
import { Params, Prim } from '../primitives/types';
import { evalJaxpr } from './eval';
import { ClosedJaxpr, Jaxpr, Literal, Var } from './jaxpr';
import { JaxprBuilder, JaxprTrace, JaxprTracer, traceToJaxpr } from './stage';

export class PartialEvalTrace extends JaxprTrace {
  /** The value of a known input (a constant of the staged jaxpr), or undefined for an unknown one. */
  known(x: Value): Value | undefined {
    const atom = (x as JaxprTracer).atom;
    return atom instanceof Literal ? atom.value : this.builder.constValue(atom);
  }

  override processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    const rule = primitiveDef(prim).partialEval;
    if (rule && args.some((a) => this.known(a) !== undefined)) return rule.call(primitiveDef(prim), this, args, params);
    return this.stage(prim, args, params);
  }

  /** Stages the whole application (every output unknown). */
  stage<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    return super.processPrimitive(prim, args, params);
  }
}

export interface PartialEvalResult {
  /** known inputs → [known outputs..., residuals...] */
  known: ClosedJaxpr;
  /** [residuals..., unknown inputs...] → unknown outputs */
  unknown: ClosedJaxpr;
  outUnknowns: boolean[];
  resAvals: ShapedArray[];
}

/**
 * Splits `closed` by which inputs are `unknowns`. Outputs that depend on unknown inputs, or are
 * listed in `instantiate`, are outputs of the unknown part; the rest are computed by the known part.
 */
export function partialEvalJaxpr(closed: ClosedJaxpr, unknowns: boolean[], instantiate: boolean[]): PartialEvalResult {
  const inAvals = closed.inAvals;
  let unknown: ClosedJaxpr | undefined;
  let outUnknowns: boolean[] = [];
  let resAvals: ShapedArray[] = [];
  const known = traceToJaxpr(
    (...knownIns) => {
      const builder = new JaxprBuilder();
      return withMainTrace(PartialEvalTrace, builder, 'partial evaluation', (main: MainTrace) => {
        const trace = new PartialEvalTrace(main);
        const ukArgs = inAvals.filter((_, i) => unknowns[i]).map((a) => trace.newArg(a));
        let k = 0;
        let u = 0;
        const outs = evalJaxpr(
          closed,
          inAvals.map((_, i) => (unknowns[i] ? ukArgs[u++] : knownIns[k++])),
        );
        const isUnknown = (o: Value): boolean => o instanceof JaxprTracer && o._trace.main === main && trace.known(o) === undefined;
        outUnknowns = outs.map((o, i) => isUnknown(o) || instantiate[i]);
        const built = builder.build(
          ukArgs.map((t) => t.atom as Var),
          outs.filter((_, i) => outUnknowns[i]).map((o) => trace.atomOf(o)),
        );
        const { jaxpr } = built;
        unknown = new ClosedJaxpr(new Jaxpr([], [...jaxpr.constvars, ...jaxpr.inBinders], jaxpr.eqns, jaxpr.outs), []);
        resAvals = jaxpr.constvars.map((v) => v.aval);
        return [...outs.filter((_, i) => !outUnknowns[i]), ...built.consts];
      });
    },
    inAvals.filter((_, i) => !unknowns[i]),
    'partial evaluation',
  );
  return { known, unknown: unknown as ClosedJaxpr, outUnknowns, resAvals };
}
