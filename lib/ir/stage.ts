/**
 * @file Staging: a trace that records primitive applications as jaxpr equations instead of running
 * them. jit and makeJaxpr stage everything (as the dynamic trace); linearize stages only the tangent
 * computation, so values of outer transformations appear as constvars.
 */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { MainTrace, Trace, Tracer, Value, withDynamicTrace, withMainTrace } from '../core/trace';
import { primitiveDef } from '../primitives';
import { Params, Prim } from '../primitives/types';
import { Atom, ClosedJaxpr, Eqn, Jaxpr, Literal, Var } from './jaxpr';

export class JaxprTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly atom: Atom,
  ) {
    super(trace);
  }
  get aval(): ShapedArray {
    return this.atom.aval;
  }
}

/** Collects equations and constants while a function is staged. */
export class JaxprBuilder {
  readonly eqns: Eqn[] = [];
  private readonly constVars = new Map<Value, Var>();
  private readonly constValues = new Map<Var, Value>();

  /** A constvar for a value from outside (rank-0 concrete values become literals). */
  constAtom(x: Value): Atom {
    if (x instanceof ConcreteArray && x.ndim === 0) return new Literal(x);
    let v = this.constVars.get(x);
    if (!v) {
      v = new Var(x.aval);
      this.constVars.set(x, v);
      this.constValues.set(v, x);
    }
    return v;
  }

  /** The outside value a constvar stands for (undefined for staged values). */
  constValue(v: Var): Value | undefined {
    return this.constValues.get(v);
  }

  build(inBinders: Var[], outs: Atom[]): ClosedJaxpr {
    const constvars = [...this.constVars.values()];
    const consts = [...this.constVars.keys()];
    return new ClosedJaxpr(new Jaxpr(constvars, inBinders, [...this.eqns], outs), consts);
  }
}

export class JaxprTrace extends Trace {
  get builder(): JaxprBuilder {
    return this.main.globalData as JaxprBuilder;
  }
  newArg(aval: ShapedArray): JaxprTracer {
    return new JaxprTracer(this, new Var(aval));
  }
  pure(x: Value): Value {
    return new JaxprTracer(this, this.builder.constAtom(x));
  }
  lift(x: Value): Value {
    return this.pure(x);
  }
  processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    const inputs = (args as JaxprTracer[]).map((t) => t.atom);
    const avals = primitiveDef(prim).abstractEval(inputs.map((a) => a.aval), params);
    const outs = avals.map((a) => new Var(a));
    this.builder.eqns.push({ prim, inputs, params, outs } as Eqn);
    return outs.map((v) => new JaxprTracer(this, v));
  }

  /** The atom for an output value: this trace's tracer, or a constant captured from outside. */
  atomOf(x: Value): Atom {
    if (x instanceof JaxprTracer && x._trace.main === this.main) return x.atom;
    return this.builder.constAtom(x);
  }
}

/**
 * Stages `f` on abstract inputs into a closed jaxpr. Every operation is recorded, including those on
 * constants only (the staging trace is the dynamic trace while `f` runs).
 */
export function traceToJaxpr(f: (...xs: Value[]) => Value[], inAvals: ShapedArray[], name: string): ClosedJaxpr {
  const builder = new JaxprBuilder();
  return withMainTrace(JaxprTrace, builder, name, (main: MainTrace) => {
    const trace = new JaxprTrace(main);
    const args = inAvals.map((a) => trace.newArg(a));
    const outs = withDynamicTrace(main, () => f(...args));
    return builder.build(
      args.map((a) => a.atom as Var),
      outs.map((o) => trace.atomOf(o)),
    );
  });
}
