/** @file Forward mode: a trace whose tracers carry a primal and a tangent (null = symbolic zero). */

import { ShapedArray } from '../core/aval';
import { fullRaise, MainTrace, Trace, Tracer, Value, withMainTrace } from '../core/trace';
import { TreeDef, unflatten } from '../core/tree';
import * as lax from '../lax';
import { primitiveDef } from '../primitives';
import { Params, Prim, Tangent } from '../primitives/types';
import { callFlat, checkFunction, flattenArgs } from './common';

class JVPTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly primal: Value,
    readonly tangent: Tangent,
  ) {
    super(trace);
  }
  get aval(): ShapedArray {
    return this.primal.aval;
  }
}

class JVPTrace extends Trace {
  pure(x: Value): Value {
    return new JVPTracer(this, x, null);
  }
  lift(x: Value): Value {
    return new JVPTracer(this, x, null);
  }
  processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    const ts = args as JVPTracer[];
    const [outs, tangents] = primitiveDef(prim).jvp(
      ts.map((t) => t.primal),
      ts.map((t) => t.tangent),
      params,
    );
    return outs.map((o, i) => new JVPTracer(this, o, tangents[i]));
  }
}

/** jvp of a flat function; output tangents may be null (zero). `name` is what errors call the transformation. */
export function jvpFlat(f: (...xs: Value[]) => Value[], primals: Value[], tangents: Tangent[], name = 'jvp'): [Value[], Tangent[]] {
  return withMainTrace(JVPTrace, null, name, (main: MainTrace) => {
    const trace = new JVPTrace(main);
    const ins = primals.map((p, i) => new JVPTracer(trace, p, tangents[i]));
    const outs = f(...ins).map((o) => fullRaise(trace, o) as JVPTracer);
    return [outs.map((o) => o.primal), outs.map((o) => o.tangent)];
  });
}

export const instantiate = (t: Tangent, like: Value): Value => t ?? lax.zerosLike(like);

/** `jvp(f, primals, tangents)` → `[out, tangentOut]`, with pytree primals and tangents. */
export function jvp(f: (...args: any[]) => any, primals: unknown[], tangents: unknown[]): [any, any] {
  checkFunction('jvp', f);
  if (!globalThis.Array.isArray(primals)) throw new TypeError('jvp: argument `primals` must be a JS array of the function\'s arguments');
  if (!globalThis.Array.isArray(tangents)) throw new TypeError('jvp: argument `tangents` must be a JS array with one tangent per primal');
  const [ps, def] = flattenArgs('jvp', primals, 'primals');
  const [ts, tdef] = flattenArgs('jvp', tangents, 'tangents');
  if (!tdef.equals(def)) throw new Error(`jvp: argument \`tangents\` has structure ${tdef}, expected ${def} (the structure of \`primals\`)`);
  ps.forEach((p, i) => {
    const t = ts[i];
    if (t.ndim !== p.ndim || t.aval.shape.some((d, j) => d !== p.aval.shape[j])) {
      throw new Error(`jvp: tangent leaf ${i} has shape [${t.aval.shape.join(', ')}], expected [${p.aval.shape.join(', ')}] (its primal's shape)`);
    }
  });
  const store: { out?: TreeDef } = {};
  const [outs, touts] = jvpFlat((...xs) => callFlat('jvp', f, def, xs, store), ps, ts.map((t, i) => lax.convert(t, ps[i].dtype, ps[i].weakType)));
  const outDef = store.out as TreeDef;
  return [unflatten(outDef, outs), unflatten(outDef, touts.map((t, i) => instantiate(t, outs[i])))];
}

