/** @file Vectorising map: a trace whose tracers carry a batched value and the axis it is mapped over. */

import { ShapedArray } from '../core/aval';
import { fullRaise, MainTrace, Trace, Tracer, Value, bind, withMainTrace } from '../core/trace';
import { TreeDef, unflatten } from '../core/tree';
import * as lax from '../lax';
import { primitiveDef } from '../primitives';
import { BDim, Params, Prim } from '../primitives/types';
import { callFlat, checkFunction, flattenArgs } from './common';

class BatchTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly val: Value,
    readonly bdim: BDim,
  ) {
    super(trace);
  }
  get aval(): ShapedArray {
    const a = this.val.aval;
    if (this.bdim === null) return a;
    return new ShapedArray(a.shape.filter((_, i) => i !== this.bdim), a.dtype, a.weakType);
  }
  override fullLower(): Value {
    return this.bdim === null ? this.val : this;
  }
}

class BatchTrace extends Trace {
  pure(x: Value): Value {
    return new BatchTracer(this, x, null);
  }
  lift(x: Value): Value {
    return new BatchTracer(this, x, null);
  }
  processPrimitive<P extends Prim>(prim: P, args: Value[], params: Params[P]): Value[] {
    const ts = args as BatchTracer[];
    const vals = ts.map((t) => t.val);
    const dims = ts.map((t) => t.bdim);
    if (dims.every((d) => d === null)) return bind(prim, vals, params).map((v) => new BatchTracer(this, v, null));
    const [outs, outDims] = primitiveDef(prim).vmap(vals, dims, params);
    return outs.map((o, i) => new BatchTracer(this, o, outDims[i]));
  }
}

/** Moves (or, for an unbatched value, broadcasts) the batch axis of `x` to `to`. */
function moveBatchAxis(size: number, from: BDim, to: number, x: Value): Value {
  if (from === null) {
    const shape = [...x.aval.shape];
    shape.splice(to, 0, size);
    return lax.broadcastInDim(x, shape, [...Array(x.ndim).keys()].map((i) => (i < to ? i : i + 1)));
  }
  return lax.moveAxis(x, from, to);
}

/** vmap of a flat function; `outAxes` is given the batch axis each output came out with (null: unbatched). */
export function vmapFlat(f: (...xs: Value[]) => Value[], size: number, args: Value[], inDims: BDim[], outAxes: (outDims: BDim[]) => BDim[]): Value[] {
  return withMainTrace(BatchTrace, size, 'vmap', (main: MainTrace) => {
    const trace = new BatchTrace(main);
    const ins = args.map((a, i) => new BatchTracer(trace, a, inDims[i]));
    const outs = f(...ins).map((o) => fullRaise(trace, o) as BatchTracer);
    const axes = outAxes(outs.map((o) => o.bdim));
    return outs.map((o, i) => {
      const raw = axes[i];
      const rank = o.aval.ndim + 1;
      if (raw !== null && (!Number.isInteger(raw) || raw < -rank || raw >= rank)) {
        throw new RangeError(`vmap: outAxes ${raw} is out of range for output leaf ${i} of rank ${rank} (with the mapped axis)`);
      }
      const axis = raw === null || raw >= 0 ? raw : raw + rank;
      if (axis === null) {
        if (o.bdim !== null) throw new Error(`vmap: outAxes is null for output leaf ${i}, but that output depends on the mapped inputs`);
        return o.val;
      }
      return moveBatchAxis(size, o.bdim, axis, o.val);
    });
  });
}

type AxisSpec = number | null | undefined | AxisSpec[] | { [k: string]: AxisSpec };

/** Expands an axis spec (a number/null, or a tree prefix of `def`) to one entry per leaf. */
function broadcastSpec(fn: string, arg: string, spec: unknown, def: TreeDef): BDim[] {
  if (spec === null || typeof spec === 'number') return new Array(def.numLeaves).fill(spec);
  if (def.kind === 'array' && globalThis.Array.isArray(spec)) {
    if (spec.length !== def.children.length) throw new Error(`${fn}: \`${arg}\` has ${spec.length} entries but the value has ${def.children.length}`);
    return def.children.flatMap((c, i) => broadcastSpec(fn, arg, spec[i], c));
  }
  if (def.kind === 'object' && typeof spec === 'object' && spec !== null && !globalThis.Array.isArray(spec)) {
    const s = spec as Record<string, unknown>;
    // As in JAX, an object prefix names exactly the value's keys (a misspelt key must not silently unmap).
    const keys = Object.keys(s).sort();
    if (keys.length !== def.keys.length || keys.some((k, i) => k !== def.keys[i])) {
      throw new Error(`${fn}: \`${arg}\` has keys [${keys.join(', ')}] but the value has keys [${def.keys.join(', ')}]`);
    }
    return def.children.flatMap((c, i) => broadcastSpec(fn, arg, s[def.keys[i]], c));
  }
  if (def.numLeaves === 0) return [];
  throw new TypeError(`${fn}: \`${arg}\` must be a number, null, or a tree prefix of the arguments' structure ${def}, received ${JSON.stringify(spec)}`);
}

export interface VmapOptions {
  inAxes?: AxisSpec;
  outAxes?: AxisSpec;
}

/** `vmap(f, {inAxes, outAxes})`: maps `f` over an axis of its inputs (JAX semantics). */
export function vmap<F extends (...args: any[]) => any>(f: F, options: VmapOptions = {}): (...args: Parameters<F>) => ReturnType<F> {
  checkFunction('vmap', f);
  const inAxesSpec = options.inAxes === undefined ? 0 : options.inAxes;
  const outAxesSpec = options.outAxes === undefined ? 0 : options.outAxes;
  return ((...args: unknown[]) => {
    const [leaves, def] = flattenArgs('vmap', args);
    if (leaves.length === 0) throw new TypeError(`vmap: the arguments ${def} contain no arrays to map over`);
    const dims = broadcastSpec('vmap', 'inAxes', inAxesSpec, def).map((d, i) => {
      if (d === null) return null;
      if (!Number.isInteger(d)) throw new TypeError(`vmap: inAxes entries must be integers or null, received ${d}`);
      const nd = leaves[i].ndim;
      if (d < -nd || d >= nd) throw new RangeError(`vmap: inAxes ${d} is out of range for argument leaf ${i} of shape [${leaves[i].aval.shape.join(', ')}]`);
      return d < 0 ? d + nd : d;
    });
    const sizes = leaves.map((l, i) => (dims[i] === null ? null : l.aval.shape[dims[i] as number]));
    const mapped = sizes.filter((s): s is number => s !== null);
    if (mapped.length === 0) throw new Error('vmap: at least one argument must be mapped (inAxes is null for every argument)');
    if (mapped.some((s) => s !== mapped[0])) {
      const desc = leaves.map((l, i) => (dims[i] === null ? null : `leaf ${i} shape [${l.aval.shape.join(', ')}] axis ${dims[i]} → ${sizes[i]}`)).filter(Boolean);
      throw new Error(`vmap: mapped arguments have different sizes along the mapped axis: ${desc.join('; ')}`);
    }
    const store: { out?: TreeDef } = {};
    const outs = vmapFlat(
      (...xs) => callFlat('vmap', f, def, xs, store),
      mapped[0],
      leaves,
      dims,
      () => {
        const outDef = store.out as TreeDef;
        return broadcastSpec('vmap', 'outAxes', outAxesSpec, outDef);
      },
    );
    return unflatten(store.out as TreeDef, outs);
  }) as (...args: Parameters<F>) => ReturnType<F>;
}

