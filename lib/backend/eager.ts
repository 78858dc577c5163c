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

/** The last op each (device, primitive, params) ran, by its operands' abstract values (identity). */
const recent = new Map<string, { avals: ShapedArray[]; op: EagerOp }>();

function eagerOp<P extends Prim>(backend: Backend, prim: P, args: ConcreteArray[], params: Params[P]): EagerOp {
  const pk = paramsKey(params);
  if (pk === undefined) return compileOp(backend, prim, args.map((a) => a.aval), params);
  const head = `${backend.device}|${prim}|${pk}|`;
  // Chains of one op (y = y + b) repeat the same aval objects: no key string to build.
  const last = recent.get(head);
  if (last && last.avals.length === args.length && args.every((a, i) => a.aval === last.avals[i])) return last.op;
  let key = head;
  for (const a of args) key += a.aval.toString();
  let op = cache.get(key);
  if (op === undefined) {
    op = compileOp(backend, prim, args.map((a) => a.aval), params);
    if (cache.size >= MAX_CACHED) {
      cache.clear();
      recent.clear();
    }
    cache.set(key, op);
  }
  recent.set(head, { avals: args.map((a) => a.aval), op });
  return op;
}

export function executeEager<P extends Prim>(prim: P, operands: ConcreteArray[], params: Params[P]): ConcreteArray[] {
  const device = placement(operands);
  const backend = backendFor(device);
  // Operands on another device are copied first (rare: only with Metal); this is the hot path of
  // every eager op, so it avoids intermediate arrays.
  let args = operands;
  let committed = false;
  for (let i = 0; i < operands.length; i++) {
    if (operands[i].device !== device) {
      args = operands.map((a) => moveTo(a, device));
      break;
    }
    committed ||= operands[i].committed;
  }
  if (args !== operands) committed = args.some((a) => a.committed);
  const { outAvals, temps, aliases, exe, host } = eagerOp(backend, prim, args, params);
  if (host) {
    // Control flow: runs nested plans (compiled once per nested jaxpr).
    const outs = outAvals.map((a) => backend.allocateOutput(a.dtype, a.size));
    host(args.map((a) => a.buffer.subarray(0, a.size)), outs);
    return outAvals.map((a, i) => new ConcreteArray(a, outs[i], device, committed));
  }
  const n = args.length;
  const bufs: TypedArray[] = new Array(n + outAvals.length + temps.length);
  for (let i = 0; i < n; i++) bufs[i] = args[i].buffer;
  const results: ConcreteArray[] = new Array(outAvals.length);
  for (let i = 0; i < outAvals.length; i++) {
    const alias = aliases[i];
    const a = outAvals[i];
    bufs[n + i] = alias === undefined ? backend.allocateOutput(a.dtype, a.size) : bufs[alias];
  }
  for (let i = 0; i < temps.length; i++) bufs[n + outAvals.length + i] = backend.allocateOutput(temps[i].dtype, temps[i].size);
  if (exe.launches > 0) backend.dispatch(exe, bufs);
  for (let i = 0; i < outAvals.length; i++) results[i] = new ConcreteArray(outAvals[i], bufs[n + i], device, committed);
  return results;
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
