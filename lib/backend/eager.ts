/**
 * @file Eager evaluation: the bottom of the trace stack. Each primitive is lowered to kernels and run
 * at once on the device its operands select (lib/backend/devices.ts). The lowering of a (device,
 * primitive, params, input avals) signature is compiled once and cached, so a repeated eager op costs
 * its buffer allocations and one native call.
 */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { TypedArray } from '../core/dtype';
import { installEvalTrace, Trace, Value } from '../core/trace';
import { primitiveDef } from '../primitives';
import { HostRun, Params, Prim } from '../primitives/types';
import { Backend, Executable } from './backend';
import { backendFor, moveTo, placement } from './devices';

/** A compiled eager op: buffers are [inputs, outputs, temps]; `aliases[o]` is the input output o shares. */
interface EagerOp {
  outAvals: ShapedArray[];
  temps: ShapedArray[];
  aliases: (number | undefined)[];
  exe: Executable;
  /** Control flow runs on the host instead of as kernels. */
  host?: HostRun;
}

const MAX_CACHED = 4096;
const cache = new Map<string, EagerOp>();

/**
 * A cache key for params made of numbers, strings, booleans, null and arrays of them ('' for none);
 * undefined for anything else (nested jaxprs of control flow), which is not cached.
 */
function paramsKey(params: object): string | undefined {
  let empty = true;
  for (const k in params) {
    empty = false;
    const v = (params as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object' && !(Array.isArray(v) && v.every((e) => e === null || typeof e !== 'object'))) return undefined;
  }
  return empty ? '' : JSON.stringify(params);
}

function compileOp<P extends Prim>(backend: Backend, prim: P, inAvals: ShapedArray[], params: Params[P]): EagerOp {
  const def = primitiveDef(prim);
  const outAvals = def.abstractEval(inAvals, params);
  const { kernels, temps, host } = def.lower(inAvals, outAvals, params);
  const aliases: (number | undefined)[] = outAvals.map(() => undefined);
  for (const k of kernels) if (k.kind === 'alias') aliases[k.output - inAvals.length] = k.input;
  return { outAvals, temps, aliases, exe: backend.compile(kernels), host };
}

function eagerOp<P extends Prim>(backend: Backend, prim: P, args: ConcreteArray[], params: Params[P]): EagerOp {
  const pk = paramsKey(params);
  if (pk === undefined) return compileOp(backend, prim, args.map((a) => a.aval), params);
  let key = `${backend.device}|${prim}|${pk}|`;
  for (const a of args) key += a.aval.toString();
  let op = cache.get(key);
  if (op === undefined) {
    op = compileOp(backend, prim, args.map((a) => a.aval), params);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, op);
  }
  return op;
}

export function executeEager<P extends Prim>(prim: P, operands: ConcreteArray[], params: Params[P]): ConcreteArray[] {
  const device = placement(operands);
  const backend = backendFor(device);
  const args = operands.map((a) => moveTo(a, device));
  const committed = args.some((a) => a.committed);
  const { outAvals, temps, aliases, exe, host } = eagerOp(backend, prim, args, params);
  if (host) {
    // Control flow: runs nested plans (compiled once per nested jaxpr).
    const outs = outAvals.map((a) => backend.allocate(a.dtype, a.size));
    host(args.map((a) => a.buffer.subarray(0, a.size)), outs);
    return outAvals.map((a, i) => new ConcreteArray(a, outs[i], device, committed));
  }
  const bufs: TypedArray[] = args.map((a) => a.buffer);
  for (let i = 0; i < outAvals.length; ++i) {
    const alias = aliases[i];
    bufs.push(alias === undefined ? backend.allocate(outAvals[i].dtype, outAvals[i].size) : bufs[alias]);
  }
  for (const t of temps) bufs.push(backend.allocate(t.dtype, t.size));
  if (exe.launches > 0) backend.dispatch(exe, bufs);
  const n = args.length;
  return outAvals.map((a, i) => new ConcreteArray(a, bufs[n + i], device, committed));
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
