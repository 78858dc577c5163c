/**
 * @file jit: traces a function once per input signature into a jaxpr, optimises it (DCE, CSE), lowers
 * it to a plan and caches the plan. A cache hit only flattens the arguments and runs the plan.
 * Under another transformation (or inside a traced function) jit inlines its function, which is
 * what staging it as a sub-computation would compute.
 */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { Tracer, isTopLevel, Value } from '../core/trace';
import { flatten, TreeDef, unflatten } from '../core/tree';
import { FusionOptions } from '../compiler/fusion';
import { KernelInfo, optimize, Plan } from '../compiler/plan';
import { ClosedJaxpr } from '../ir/jaxpr';
import { backendFor, placement } from '../backend/devices';
import { Device, NDArray } from '../core/array';
import { traceToJaxpr } from '../ir/stage';
import { checkFunction, flattenResult, leafToValue } from './common';

export interface JitOptions {
  staticArgnums?: number | number[];
  /** Fusion settings of the compiled plan (e.g. `{ epilogues: false }` to compare unfused results). */
  fusion?: FusionOptions;
}

/** What `jit(f).lower(...args)` returns: the optimised IR and the kernels its plan launches. */
export class Lowered {
  constructor(
    readonly jaxpr: ClosedJaxpr,
    readonly kernels: KernelInfo[],
  ) {}
  /** The IR, then one line per kernel; a control-flow host step lists its nested plans' kernels under it. */
  asText(): string {
    const lines = (ks: KernelInfo[], indent: string): string[] =>
      ks.flatMap((k) => {
        if (!k.nested) return [`${indent}${k.name}: ops=[${k.ops.join(', ')}] inputs=${k.inputs} outputs=${k.outputs} (msl: kernel void ${k.name})`];
        const head = `${indent}${k.name}: ops=[${k.ops.join(', ')}] inputs=${k.inputs} outputs=${k.outputs} (on the host, running nested plans)`;
        return [head, ...k.nested.flatMap((n) => [`${indent}  ${n.name}: kernels (${n.kernels.length}):`, ...lines(n.kernels, `${indent}    `)])];
      });
    return `${this.jaxpr.toString()}\nkernels (${this.kernels.length}):\n${lines(this.kernels, '  ').join('\n')}`;
  }
  toString(): string {
    return this.asText();
  }
}

interface Compiled {
  closed: ClosedJaxpr;
  plan: Plan;
  outDef: TreeDef;
}

const functionIds = new WeakMap<object, number>();
let nextFunctionId = 1;
function staticKey(fn: string, x: unknown): string {
  if (x === null || x === undefined || typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return `${typeof x}:${String(x)}`;
  if (typeof x === 'function' || typeof x === 'object') {
    if (typeof x === 'object' && !(x instanceof Tracer)) {
      try {
        return `json:${JSON.stringify(x)}`;
      } catch {
        // fall through to identity
      }
    }
    if (x instanceof Tracer) throw new TypeError(`${fn}: a static argument must not be a traced array`);
    let id = functionIds.get(x as object);
    if (id === undefined) functionIds.set(x as object, (id = nextFunctionId++));
    return `id:${id}`;
  }
  return String(x);
}

export type Jitted<F extends (...args: any[]) => any> = ((...args: Parameters<F>) => ReturnType<F>) & {
  lower(...args: Parameters<F>): Lowered;
};

export function jit<F extends (...args: any[]) => any>(f: F, options: JitOptions = {}): Jitted<F> {
  checkFunction('jit', f);
  const raw = options.staticArgnums ?? [];
  const staticArgnums = typeof raw === 'number' ? [raw] : raw;
  if (!globalThis.Array.isArray(staticArgnums) || staticArgnums.some((a) => typeof a !== 'number' || !Number.isInteger(a))) {
    throw new TypeError(`jit: argument \`staticArgnums\` must be an integer or an array of integers, received ${JSON.stringify(raw)}`);
  }
  const fusion = options.fusion ?? {};
  if (typeof fusion !== 'object' || fusion === null || Object.keys(fusion).some((k) => k !== 'epilogues') || !['boolean', 'undefined'].includes(typeof fusion.epilogues)) {
    throw new TypeError(`jit: option \`fusion\` must be an object {epilogues?: boolean}, received ${JSON.stringify(options.fusion)}`);
  }
  const cache = new Map<string, Compiled>();

  const noStatics = new Set<number>();
  /** Tree structure of a call with n array arguments. */
  const flatDefs: TreeDef[] = [];
  const prepare = (args: unknown[]) => {
    const statics = staticArgnums.length === 0 ? noStatics : new Set(staticArgnums.map((a) => (a < 0 ? a + args.length : a)));
    for (const s of statics) if (s < 0 || s >= args.length) throw new RangeError(`jit: staticArgnums ${s} is out of range for a call with ${args.length} argument(s)`);
    const dynamic = statics.size === 0 ? args : args.filter((_, i) => !statics.has(i));
    let values: Value[];
    let def: TreeDef;
    if (statics.size === 0 && args.every((a) => a instanceof NDArray)) {
      // The common call: arrays only, no pytrees. The tree structure depends only on the count.
      values = args as Value[];
      def = flatDefs[args.length] ??= flatten(args, 'jit', 'args')[1];
    } else {
      const [leaves, d] = flatten(dynamic, 'jit', statics.size ? 'non-static args' : 'args');
      values = leaves.map((l, i) => leafToValue('jit', `args leaf ${i}`, l));
      def = d;
    }
    const device = placement(values);
    let key = `${device}|${def}|`;
    for (const v of values) key += `${v.aval.toString()},`;
    if (statics.size > 0) key += `|${[...statics].sort().map((i) => staticKey('jit', args[i])).join(',')}`;
    const rebuild = (xs: Value[]): unknown[] => {
      const dyn = unflatten<unknown[]>(def, xs);
      let j = 0;
      return args.map((a, i) => (statics.has(i) ? a : dyn[j++]));
    };
    return { values, def, key, rebuild, device };
  };

  const compile = (values: Value[], rebuild: (xs: Value[]) => unknown[], device: Device): Compiled => {
    const store: { out?: TreeDef } = {};
    const inAvals = values.map((v) => v.aval as ShapedArray);
    const traced = traceToJaxpr((...xs) => flattenResult('jit', f(...rebuild(xs)), store), inAvals, 'jit');
    const closed = optimize(traced);
    return { closed, plan: Plan.build(closed, backendFor(device), fusion), outDef: store.out as TreeDef };
  };

  const lookup = (args: unknown[]): { compiled: Compiled; values: Value[] } => {
    const { values, key, rebuild, device } = prepare(args);
    let compiled = cache.get(key);
    if (!compiled) {
      compiled = compile(values, rebuild, device);
      cache.set(key, compiled);
    }
    return { compiled, values };
  };

  const jitted = ((...args: unknown[]) => {
    if (!isTopLevel()) return f(...args);
    const { compiled, values } = lookup(args);
    const outs = compiled.plan.run(values as ConcreteArray[]);
    return unflatten(compiled.outDef, outs);
  }) as unknown as Jitted<F>;
  jitted.lower = (...args: Parameters<F>) => {
    const { compiled } = lookup(args);
    return new Lowered(compiled.closed, compiled.plan.kernels);
  };
  return jitted;
}
