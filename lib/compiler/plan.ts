/**
 * @file Lowers an optimised jaxpr to an execution plan: one kernel list over numbered buffers, with
 * intermediates assigned to a reusable pool by liveness, for one backend. A call then fills in the
 * inputs (moved to the backend's device) and fresh output buffers and runs the whole plan in one
 * dispatch.
 */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { TypedArray } from '../core/dtype';
import { Atom, ClosedJaxpr, Literal, Var } from '../ir/jaxpr';
import { Backend, Executable } from '../backend/backend';
import { moveTo } from '../backend/devices';
import { primitiveDef } from '../primitives';
import { fuse } from './fusion';
import { generateMsl } from './msl';
import { Kernel, kernelArgs, remapKernel } from './kernel';

/** A kernel of the plan as shown by `lower().kernels`. */
export interface KernelInfo {
  name: string;
  /** The primitives computed by this kernel (several when fused). */
  ops: string[];
  inputs: number;
  outputs: number;
  /** The generated Metal source of this kernel (on every platform). */
  readonly msl: string;
}

function kernelInfo(kernel: Kernel, name: string, ops: string[]): KernelInfo {
  const { reads, writes } = kernelArgs(kernel);
  let msl: string | undefined;
  return {
    name,
    ops,
    inputs: new Set(reads).size,
    outputs: new Set(writes).size,
    get msl() {
      return (msl ??= generateMsl(kernel, name));
    },
  };
}

type Source = { kind: 'input'; index: number } | { kind: 'const'; buffer: TypedArray } | { kind: 'computed' };

interface ValueInfo {
  aval: ShapedArray;
  source: Source;
}

export class Plan {
  /** Slots that get a fresh buffer per call (once each, even when several outputs share one). */
  private readonly outSlots: { slot: number; aval: ShapedArray }[] = [];

  private constructor(
    private readonly backend: Backend,
    private readonly exe: Executable,
    /** One buffer per slot; input and output slots are filled per call. */
    private readonly bufs: TypedArray[],
    private readonly inputSlots: number[],
    private readonly outputs: { slot: number; aval: ShapedArray; fresh: boolean }[],
    readonly kernels: KernelInfo[],
  ) {
    for (const o of outputs) if (o.fresh && !this.outSlots.some((s) => s.slot === o.slot)) this.outSlots.push(o);
  }

  run(inputs: ConcreteArray[]): ConcreteArray[] {
    const { bufs, backend } = this;
    let committed = false;
    for (let i = 0; i < inputs.length; i++) {
      bufs[this.inputSlots[i]] = moveTo(inputs[i], backend.device).buffer;
      committed ||= inputs[i].committed;
    }
    for (const o of this.outSlots) bufs[o.slot] = backend.allocate(o.aval.dtype, o.aval.size);
    backend.dispatch(this.exe, bufs);
    const outs = this.outputs.map((o) => new ConcreteArray(o.aval, bufs[o.slot], backend.device, committed));
    // Drop references to caller data so the plan does not keep it alive.
    for (const s of this.inputSlots) bufs[s] = EMPTY;
    for (const o of this.outSlots) bufs[o.slot] = EMPTY;
    return outs;
  }

  static build(closed: ClosedJaxpr, backend: Backend): Plan {
    const { jaxpr, consts } = closed;
    const values: ValueInfo[] = [];
    const root: number[] = [];
    const newValue = (aval: ShapedArray, source: Source): number => {
      values.push({ aval, source });
      root.push(values.length - 1);
      return values.length - 1;
    };
    const ids = new Map<Var, number>();
    jaxpr.inBinders.forEach((v, i) => ids.set(v, newValue(v.aval, { kind: 'input', index: i })));
    jaxpr.constvars.forEach((v, i) => {
      const c = consts[i];
      if (!(c instanceof ConcreteArray)) throw new Error('jit: internal error: a constant of the staged function is not a concrete array');
      ids.set(v, newValue(v.aval, { kind: 'const', buffer: moveTo(c, backend.device).buffer }));
    });
    const literals = new Map<string, number>();
    const idOf = (a: Atom): number => {
      if (!(a instanceof Literal)) return ids.get(a) as number;
      const key = a.key;
      let id = literals.get(key);
      if (id === undefined) literals.set(key, (id = newValue(a.aval, { kind: 'const', buffer: moveTo(a.value, backend.device).buffer })));
      return id;
    };

    // Lower every equation, naming kernel operands by value id.
    const kernels: Kernel[] = [];
    const info: KernelInfo[] = [];
    const defineOuts = (vars: Var[]): number[] =>
      vars.map((v) => {
        const id = newValue(v.aval, { kind: 'computed' });
        ids.set(v, id);
        return id;
      });
    for (const step of fuse(jaxpr)) {
      if (step.kind === 'fused') {
        const { group } = step;
        const local = [...group.inputs.map(idOf), ...defineOuts(group.outputs)];
        kernels.push(remapKernel(group.kernel, (arg) => local[arg]));
        info.push(kernelInfo(group.kernel, `fused_${info.length}`, group.eqns.map((e) => e.prim)));
        continue;
      }
      const { eqn } = step;
      const inIds = eqn.inputs.map(idOf);
      const outIds = defineOuts(eqn.outs);
      const def = primitiveDef(eqn.prim);
      const lowering = def.lower(eqn.inputs.map((a) => a.aval), eqn.outs.map((v) => v.aval), eqn.params as never);
      const tempIds = lowering.temps.map((a) => newValue(a, { kind: 'computed' }));
      const local = [...inIds, ...outIds, ...tempIds];
      for (const k of lowering.kernels) {
        if (k.kind === 'alias') {
          root[local[k.output]] = root[local[k.input]];
          continue;
        }
        kernels.push(remapKernel(k, (arg) => local[arg]));
        info.push(kernelInfo(k, `${eqn.prim}_${info.length}`, [eqn.prim]));
      }
    }
    const rootOf = (id: number): number => {
      while (root[id] !== id) id = root[id];
      return id;
    };

    // Buffer slots: inputs, constants, pooled intermediates, then per-call outputs.
    const slotOf = new Map<number, number>();
    const fixed: TypedArray[] = [];
    const addSlot = (buf: TypedArray): number => fixed.push(buf) - 1;
    const inputSlots = jaxpr.inBinders.map((v) => {
      const s = addSlot(EMPTY);
      slotOf.set(ids.get(v) as number, s);
      return s;
    });
    values.forEach((v, id) => {
      if (v.source.kind === 'const') slotOf.set(id, addSlot(v.source.buffer));
    });
    const outputRoots = new Set(jaxpr.outs.map((o) => rootOf(idOf(o))));

    // Liveness of computed roots over the kernel sequence, then first-fit reuse by (dtype, size).
    const lastUse = new Map<number, number>();
    kernels.forEach((k, i) => {
      const { reads, writes } = kernelArgs(k);
      for (const a of [...reads, ...writes]) lastUse.set(rootOf(a), i);
    });
    const free = new Map<string, number[]>();
    const poolKey = (a: ShapedArray): string => `${a.dtype}:${a.size}`;
    const releaseAt = new Map<number, number[]>();
    for (const [r, i] of lastUse) releaseAt.set(i, [...(releaseAt.get(i) ?? []), r]);
    kernels.forEach((k, i) => {
      for (const a of kernelArgs(k).writes) {
        const r = rootOf(a);
        if (slotOf.has(r) || values[r].source.kind !== 'computed' || outputRoots.has(r)) continue;
        const key = poolKey(values[r].aval);
        const reuse = free.get(key)?.pop();
        slotOf.set(r, reuse ?? addSlot(backend.allocate(values[r].aval.dtype, values[r].aval.size)));
      }
      for (const r of releaseAt.get(i) ?? []) {
        if (values[r].source.kind !== 'computed' || outputRoots.has(r)) continue;
        const key = poolKey(values[r].aval);
        if (!free.has(key)) free.set(key, []);
        free.get(key)!.push(slotOf.get(r) as number);
      }
    });
    const outputs = jaxpr.outs.map((o) => {
      const r = rootOf(idOf(o));
      const fresh = values[r].source.kind === 'computed';
      if (!slotOf.has(r)) slotOf.set(r, addSlot(fresh ? EMPTY : (values[r].source as { buffer: TypedArray }).buffer));
      return { slot: slotOf.get(r) as number, aval: o.aval, fresh };
    });
    const exe = backend.compile(kernels.map((k) => remapKernel(k, (id) => slotOf.get(rootOf(id)) as number)));
    return new Plan(backend, exe, fixed, inputSlots, outputs, info);
  }
}

const EMPTY = new Float32Array(0);
