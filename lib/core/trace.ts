/**
 * @file The trace stack (autodidax design): every primitive application goes through `bind`, which
 * finds the innermost transformation among its arguments and lets that trace interpret it.
 */

import type { Params, Prim } from '../primitives/types';
import { Device, NDArray } from './array';
import { TypedArray } from './dtype';

/** A value flowing through `bind`: a concrete array or a tracer of some transformation. */
export type Value = NDArray;

/** One active transformation: its nesting level and the trace class that interprets it. */
export class MainTrace {
  constructor(
    readonly level: number,
    readonly traceType: TraceCtor,
    readonly globalData: unknown,
    readonly name: string,
  ) {}
}

export type TraceCtor = new (main: MainTrace) => Trace;

export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** Wraps a value from outside any transformation. */
  abstract pure(x: Value): Value;
  /** Wraps a tracer of a lower (outer) transformation. */
  abstract lift(x: Value): Value;
  abstract processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[];
}

/** Inside a transformation, an array is a tracer: it has an abstract value but (usually) no data. */
export abstract class Tracer extends NDArray {
  constructor(readonly _trace: Trace) {
    super();
  }
  /** The innermost concrete-or-tracer value this tracer stands for, when it adds nothing. */
  fullLower(): Value {
    return this;
  }
  get device(): Device {
    return 'cpu';
  }
  private concretization(what: string): Error {
    return new Error(
      `${what}: cannot read the value of a traced array ${this.aval.toString()} inside ${this._trace.main.name}. ` +
        'Under jit/grad/vmap arrays are abstract; use lax-style ops (np.where) instead of JS control flow on values, ' +
        'or mark the argument static with jit(f, {staticArgnums}).',
    );
  }
  data(): TypedArray {
    throw this.concretization('Array.data');
  }
  toArray(): never {
    throw this.concretization('Array.toArray');
  }
  item(): never {
    throw this.concretization('Array.item');
  }
  toString(): string {
    return `Traced<${this.aval.toString()}> (${this._trace.main.name})`;
  }
}

let evalTraceType: TraceCtor | undefined;
const stack: MainTrace[] = [];
let dynamic: MainTrace | undefined;
/** The one eager trace: it holds no state, so every eager bind shares it. */
let evalTrace: Trace | undefined;

/** Called once by the eager interpreter module to install the bottom of the stack. */
export function installEvalTrace(ctor: TraceCtor): void {
  evalTraceType = ctor;
  stack.length = 0;
  stack.push(new MainTrace(0, ctor, null, 'eager evaluation'));
  dynamic = stack[0];
  evalTrace = new ctor(stack[0]);
}

function bottom(): MainTrace {
  if (!evalTraceType) throw new Error('metalgrad: the eager interpreter is not installed (import from the package root)');
  return stack[0];
}

/** Runs `fn` with a new transformation pushed on the stack; pops it even if `fn` throws. */
export function withMainTrace<T>(traceType: TraceCtor, globalData: unknown, name: string, fn: (main: MainTrace) => T): T {
  bottom();
  const main = new MainTrace(stack.length, traceType, globalData, name);
  stack.push(main);
  try {
    return fn(main);
  } finally {
    stack.pop();
  }
}

/**
 * Runs `fn` with `main` as the dynamic trace: every bind, even of constants only, goes to it (at least).
 * Staging (jit, makeJaxpr) uses this so that no operation escapes into eager evaluation.
 */
export function withDynamicTrace<T>(main: MainTrace, fn: () => T): T {
  const prev = dynamic;
  dynamic = main;
  try {
    return fn();
  } finally {
    dynamic = prev;
  }
}

/** True when only eager evaluation is active (no transformation is being traced). */
export function isTopLevel(): boolean {
  return stack.length <= 1 && (dynamic === undefined || dynamic.level === 0);
}

function isLive(main: MainTrace): boolean {
  return stack[main.level] === main;
}

function findTopMain(args: readonly Value[]): MainTrace {
  let top = dynamic ?? bottom();
  for (const a of args) {
    if (a instanceof Tracer) {
      const m = a._trace.main;
      if (!isLive(m)) throw escapedTracer(a);
      if (m.level > top.level) top = m;
    }
  }
  return top;
}

function escapedTracer(t: Tracer): Error {
  return new Error(
    `metalgrad: a traced array ${t.aval.toString()} from ${t._trace.main.name} was used after that transformation ended ` +
      '(it escaped, e.g. by being stored in an outer variable). Return values from the function instead.',
  );
}

export function fullRaise(trace: Trace, x: Value): Value {
  if (!(x instanceof Tracer)) return trace.pure(x);
  const m = x._trace.main;
  if (m === trace.main) return x;
  if (!isLive(m)) throw escapedTracer(x);
  if (m.level < trace.main.level) return trace.lift(x);
  throw new Error(`metalgrad: cannot lift a tracer of ${m.name} (level ${m.level}) into ${trace.main.name} (level ${trace.main.level})`);
}

export function fullLower(x: Value): Value {
  return x instanceof Tracer ? x.fullLower() : x;
}

/** Applies primitive `prim` to `args`, interpreted by the innermost transformation involved. */
export function bind<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
  const main = findTopMain(args);
  // Eager evaluation (no transformation involved): the arguments are concrete, nothing to raise or lower.
  if (main.level === 0 && evalTrace !== undefined) return evalTrace.processPrimitive(prim, args, params);
  const trace = new main.traceType(main);
  const tracers = args.map((a) => fullRaise(trace, a));
  return trace.processPrimitive(prim, tracers, params).map(fullLower);
}

export function bind1<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value {
  return bind(prim, args, params)[0];
}
