/**
 * @file Lowers an optimised jaxpr to an execution plan: a kernel list over numbered buffers, with
 * intermediates assigned to a reusable pool by liveness. A call fills in the inputs and fresh output
 * buffers (inputs moved to the backend's device) and runs the plan: a straight-line plan is one
 * dispatch. Control flow splits the plan
 * into segments: runs of kernels (one native call each) and host steps (cond, scan, while) that read
 * a predicate or index back and run nested plans, compiled once and cached per nested jaxpr.
 */

import { ShapedArray } from '../core/aval';
import { ConcreteArray } from '../core/concrete';
import { TypedArray } from '../core/dtype';
import { Atom, ClosedJaxpr, Literal, subJaxprs, Var } from '../ir/jaxpr';
import { Backend, Executable } from '../backend/backend';
import { backendFor, moveTo } from '../backend/devices';
import { primitiveDef } from '../primitives';
import { HostRun } from '../primitives/types';
import { cse } from './cse';
import { dceClosed } from './dce';
import { fuse, FusionOptions } from './fusion';
import { mslListing } from './msl';
import { simplify } from './simplify';
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
  /** For a host step (control flow): the kernels of each nested plan, by the param holding it. */
  readonly nested?: { name: string; kernels: KernelInfo[] }[];
}

/** A host step as listed by `lower().kernels`: its nested plans' kernels appear under it. */
function hostInfo(prim: string, name: string, inputs: number, outputs: number, params: object): KernelInfo {
  let nested: { name: string; kernels: KernelInfo[] }[] | undefined;
  return {
    name,
    ops: [prim],
    inputs,
    outputs,
    msl: `// ${name}: ${prim} runs on the host, launching the kernels of its nested plans`,
    get nested() {
      return (nested ??= subJaxprs(params).map(({ name: n, closed }) => ({ name: n, kernels: planOf(closed).kernels })));
    },
  };
}

/** CSE, simplification and DCE of a closed jaxpr (what jit runs before building a plan). */
export function optimize(closed: ClosedJaxpr): ClosedJaxpr {
  return dceClosed(new ClosedJaxpr(simplify(cse(closed.jaxpr)), closed.consts));
}

const plans = new WeakMap<ClosedJaxpr, Plan>();
/**
 * The plan of a nested jaxpr (a branch or loop body), optimised and compiled once. Host steps read
 * predicates and carries on the CPU, so nested plans run on the CPU path.
 */
export function planOf(closed: ClosedJaxpr): Plan {
  let plan = plans.get(closed);
  if (!plan) plans.set(closed, (plan = Plan.build(optimize(closed), backendFor('cpu'))));
  return plan;
}

/** A host step of a plan, over value ids (before slots are assigned) or slots (after). */
interface HostStep {
  kind: 'host';
  run: HostRun;
  ins: number[];
  outs: number[];
}
type Step = Kernel | HostStep;
type Segment = { kind: 'kernels'; exe: Executable } | HostStep;

const stepArgs = (s: Step): { reads: number[]; writes: number[] } => (s.kind === 'host' ? { reads: s.ins, writes: s.outs } : kernelArgs(s));

function kernelInfo(kernel: Kernel, name: string, ops: string[]): KernelInfo {
  const { reads, writes } = kernelArgs(kernel);
  let msl: string | undefined;
  return {
    name,
    ops,
    inputs: new Set(reads).size,
    outputs: new Set(writes).size,
    get msl() {
      return (msl ??= mslListing(kernel, name));
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
  /** For `exec`: the output whose caller buffer fills each fresh slot. */
  private readonly execSlots: { slot: number; output: number }[] = [];

  private constructor(
    private readonly backend: Backend,
    private readonly segments: Segment[],
    /** One buffer per slot; input and output slots are filled per call. */
    private readonly bufs: TypedArray[],
    private readonly inputSlots: number[],
    private readonly outputs: { slot: number; aval: ShapedArray; fresh: boolean }[],
    readonly kernels: KernelInfo[],
  ) {
    outputs.forEach((o, i) => {
      if (!o.fresh || this.outSlots.some((s) => s.slot === o.slot)) return;
      this.outSlots.push(o);
      this.execSlots.push({ slot: o.slot, output: i });
    });
  }

  private runSegments(): void {
    for (const seg of this.segments) {
      if (seg.kind === 'kernels') this.backend.dispatch(seg.exe, this.bufs);
      else seg.run(seg.ins.map((s) => this.bufs[s]), seg.outs.map((s) => this.bufs[s]));
    }
  }

  run(inputs: ConcreteArray[]): ConcreteArray[] {
    const { bufs, backend } = this;
    let committed = false;
    for (let i = 0; i < inputs.length; i++) {
      bufs[this.inputSlots[i]] = moveTo(inputs[i], backend.device).buffer;
      committed ||= inputs[i].committed;
    }
    for (const o of this.outSlots) bufs[o.slot] = backend.allocateOutput(o.aval.dtype, o.aval.size);
    try {
      this.runSegments();
      return this.outputs.map((o) => new ConcreteArray(o.aval, bufs[o.slot], backend.device, committed));
    } finally {
      // Drop references to caller data so the plan does not keep it alive.
      for (const s of this.inputSlots) bufs[s] = EMPTY;
      for (const o of this.outSlots) bufs[o.slot] = EMPTY;
    }
  }

  /**
   * Runs the plan writing each output into the caller's buffer `outs[i]` (exactly sized; none may be
   * one of `ins`). Nested plans run this way, so loops reuse their carry buffers.
   */
  exec(ins: TypedArray[], outs: TypedArray[]): void {
    const bufs = this.bufs;
    for (let i = 0; i < ins.length; i++) bufs[this.inputSlots[i]] = ins[i];
    for (const { slot, output } of this.execSlots) bufs[slot] = outs[output];
    try {
      this.runSegments();
      // Outputs that are inputs, constants or repeats of another output are copied.
      for (let i = 0; i < outs.length; i++) {
        const src = bufs[this.outputs[i].slot];
        if (src !== outs[i]) outs[i].set(src.subarray(0, this.outputs[i].aval.size));
      }
    } finally {
      for (const s of this.inputSlots) bufs[s] = EMPTY;
      for (const { slot } of this.execSlots) bufs[slot] = EMPTY;
    }
  }

  static build(closed: ClosedJaxpr, backend: Backend, fusion: FusionOptions = {}): Plan {
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
    const kernels: Step[] = [];
    const info: KernelInfo[] = [];
    const defineOuts = (vars: Var[]): number[] =>
      vars.map((v) => {
        const id = newValue(v.aval, { kind: 'computed' });
        ids.set(v, id);
        return id;
      });
    for (const step of fuse(jaxpr, fusion)) {
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
      if (lowering.host) {
        kernels.push({ kind: 'host', run: lowering.host, ins: inIds, outs: outIds });
        info.push(hostInfo(eqn.prim, `${eqn.prim}_${info.length}`, new Set(inIds).size, outIds.length, eqn.params));
        continue;
      }
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
      const { reads, writes } = stepArgs(k);
      for (const a of [...reads, ...writes]) lastUse.set(rootOf(a), i);
    });
    const free = new Map<string, number[]>();
    const poolKey = (a: ShapedArray): string => `${a.dtype}:${a.size}`;
    const releaseAt = new Map<number, number[]>();
    for (const [r, i] of lastUse) releaseAt.set(i, [...(releaseAt.get(i) ?? []), r]);
    kernels.forEach((k, i) => {
      for (const a of stepArgs(k).writes) {
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
    // Runs of kernels become one executable each; host steps sit between them.
    const slot = (id: number): number => slotOf.get(rootOf(id)) as number;
    const segments: Segment[] = [];
    let run: Kernel[] = [];
    const flush = (): void => {
      if (run.length > 0) segments.push({ kind: 'kernels', exe: backend.compile(run) });
      run = [];
    };
    for (const k of kernels) {
      if (k.kind !== 'host') {
        run.push(remapKernel(k, slot));
        continue;
      }
      flush();
      segments.push({ ...k, ins: k.ins.map(slot), outs: k.outs.map(slot) });
    }
    flush();
    if (segments.length === 0) segments.push({ kind: 'kernels', exe: backend.compile([]) });
    return new Plan(backend, segments, fixed, inputSlots, outputs, info);
  }
}

const EMPTY = new Float32Array(0);
