/**
 * @file Eager evaluation: the bottom of the trace stack. Each primitive is lowered to kernels and run
 * on the native CPU path immediately.
 */

import { ConcreteArray } from '../core/concrete';
import { TypedArray } from '../core/dtype';
import { installEvalTrace, Trace, Value } from '../core/trace';
import { primitiveDef } from '../primitives';
import { Params, Prim } from '../primitives/types';
import { defaultBackend } from './cpu';

export function executeEager<P extends Prim>(prim: P, args: ConcreteArray[], params: Params[P]): ConcreteArray[] {
  const backend = defaultBackend();
  const def = primitiveDef(prim);
  const inAvals = args.map((a) => a.aval);
  const outAvals = def.abstractEval(inAvals, params);
  const { kernels, temps, host } = def.lower(inAvals, outAvals, params);
  if (host) {
    // Control flow: runs nested plans (compiled once per nested jaxpr).
    const outs = outAvals.map((a) => backend.allocate(a.dtype, a.size));
    host(args.map((a) => a.buffer.subarray(0, a.size)), outs);
    return outAvals.map((a, i) => new ConcreteArray(a, outs[i]));
  }
  const n = args.length;
  const bufs: (TypedArray | undefined)[] = args.map((a) => a.buffer);
  for (const k of kernels) if (k.kind === 'alias') bufs[k.output] = bufs[k.input];
  outAvals.forEach((a, i) => (bufs[n + i] ??= backend.allocate(a.dtype, a.size)));
  temps.forEach((a, i) => (bufs[n + outAvals.length + i] = backend.allocate(a.dtype, a.size)));
  backend.dispatch(backend.compile(kernels), bufs as TypedArray[]);
  return outAvals.map((a, i) => new ConcreteArray(a, bufs[n + i] as TypedArray));
}

class EvalTrace extends Trace {
  pure(x: Value): Value {
    return x;
  }
  lift(x: Value): Value {
    return x;
  }
  processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    return executeEager(prim, args as ConcreteArray[], params);
  }
}

installEvalTrace(EvalTrace);
