/**
 * @file Elementwise fusion. Consecutive equations whose lowering is one elementwise kernel over the
 * same output shape are merged into one kernel: values produced and consumed inside the group stay
 * in registers, and only values needed outside it (later equations, the jaxpr's outputs) are stored.
 * Whether an equation fuses follows from its primitive's own lowering, not from a list of names.
 */

import { ShapedArray } from '../core/aval';
import { contiguousStrides, shapesEqual } from '../core/shape';
import { Atom, Eqn, Jaxpr, Literal, Var } from '../ir/jaxpr';
import { primitiveDef } from '../primitives';
import { ElementwiseKernel, ElementwiseReduce, Instr, ReduceKernel, SOURCE_KIND_OPS, View } from './kernel';

/** Most buffers one fused kernel may read (keeps the native argument list and register file small). */
export const MAX_KERNEL_INPUTS = 16;
/** Most buffers one kernel may bind in all (Metal's limit of buffer arguments per kernel). */
export const MAX_KERNEL_BUFFERS = 31;

/** A step of the lowered program: one equation lowered on its own, or a fused group. */
export type Step = { kind: 'eqn'; eqn: Eqn } | { kind: 'fused'; group: FusedGroup };

export interface FusedGroup {
  eqns: Eqn[];
  /** Atoms read from outside the group, in kernel-input order. */
  inputs: Atom[];
  /** Values stored for use outside the group (a fused reduction's result last). */
  outputs: Var[];
  /** The kernel, with args numbered [inputs..., outputs...]. */
  kernel: ElementwiseKernel;
}

/** A reduction that can take a group's value as its prologue. */
interface ReduceTail {
  eqn: Eqn;
  kernel: ReduceKernel;
}

/**
 * The reduction an equation lowers to, if it reads its operand as a whole contiguous array and
 * writes a contiguous result (so a group computing the operand can feed it registers instead).
 */
function reduceTail(eqn: Eqn): ReduceTail | null {
  if (eqn.outs.length !== 1 || eqn.inputs.length !== 1 || !(eqn.inputs[0] instanceof Var)) return null;
  const lowering = primitiveDef(eqn.prim).lower(eqn.inputs.map((a) => a.aval), [eqn.outs[0].aval], eqn.params as never);
  if (lowering.temps.length > 0 || lowering.kernels.length !== 1) return null;
  const k = lowering.kernels[0];
  if (k.kind !== 'reduce' || k.output.offset !== 0 || !isIdentityView(k.input, k.shape)) return null;
  return { eqn, kernel: k };
}

/**
 * The single elementwise kernel an equation lowers to, if it is fusible over `shape`. Control flow
 * lowers to a host step without kernels, so it is never fused: it is a boundary between groups.
 */
function fusibleKernel(eqn: Eqn): ElementwiseKernel | null {
  if (eqn.outs.length !== 1) return null;
  const lowering = primitiveDef(eqn.prim).lower(eqn.inputs.map((a) => a.aval), [eqn.outs[0].aval], eqn.params as never);
  if (lowering.temps.length > 0 || lowering.kernels.length !== 1) return null;
  const k = lowering.kernels[0];
  if (k.kind !== 'elementwise' || k.outputs.length !== 1) return null;
  const out = k.outputs[0].view;
  const full = contiguousStrides(eqn.outs[0].aval.shape);
  if (out.offset !== 0 || !out.strides.every((s, i) => s === full[i] || eqn.outs[0].aval.shape[i] <= 1)) return null;
  return k;
}

const isIdentityView = (v: View, shape: readonly number[]): boolean => {
  const full = contiguousStrides(shape);
  return v.offset === 0 && v.strides.every((s, i) => s === full[i] || shape[i] <= 1);
};

/** Builds one group's kernel from its members' single-op kernels. */
class GroupBuilder {
  readonly eqns: Eqn[] = [];
  readonly inputs: { atom: Atom; view: View; dtype: ShapedArray['dtype'] }[] = [];
  private readonly instrs: Instr[] = [];
  private readonly consts: number[] = [];
  /** Register holding each value computed in the group. */
  private readonly regOf = new Map<Var, number>();
  private readonly pending: { eqn: Eqn; kernel: ElementwiseKernel }[] = [];

  constructor(readonly shape: readonly number[]) {}

  produces(v: Var): boolean {
    return this.regOf.has(v);
  }

  /** Tries to add `eqn` (lowered to `kernel`); false when it cannot join this group. */
  tryAdd(eqn: Eqn, kernel: ElementwiseKernel): boolean {
    if (!shapesEqual(kernel.shape, this.shape)) return false;
    let newInputs = 0;
    for (let i = 0; i < eqn.inputs.length; i++) {
      const a = eqn.inputs[i];
      const view = kernel.inputs[i].view;
      if (a instanceof Var && this.regOf.has(a)) {
        if (!isIdentityView(view, this.shape)) return false;
      } else if (!(a instanceof Literal) && this.findInput(a, view) === undefined) newInputs++;
    }
    if (this.inputs.length + newInputs > MAX_KERNEL_INPUTS) return false;
    for (let i = 0; i < eqn.inputs.length; i++) {
      const a = eqn.inputs[i];
      const view = kernel.inputs[i].view;
      if ((a instanceof Var && this.regOf.has(a)) || a instanceof Literal || this.findInput(a, view) !== undefined) continue;
      this.inputs.push({ atom: a, view: { ...view, arg: this.inputs.length }, dtype: kernel.inputs[i].dtype });
    }
    this.pending.push({ eqn, kernel });
    this.eqns.push(eqn);
    // The register is assigned when the kernel is finished.
    this.regOf.set(eqn.outs[0], -1);
    return true;
  }

  private findInput(a: Atom, view: View): number | undefined {
    const i = this.inputs.findIndex((x) => x.atom === a && x.view.offset === view.offset && x.view.strides.every((s, j) => s === view.strides[j]));
    return i < 0 ? undefined : i;
  }

  /** Whether `tail` can reduce a value of this group (same shape, reading it as a whole). */
  canReduce(tail: ReduceTail): boolean {
    return this.produces(tail.eqn.inputs[0] as Var) && shapesEqual(tail.kernel.shape, this.shape);
  }

  /** Finishes the kernel, storing `outputs` (values used outside the group) and reducing for `tail`. */
  finish(outputs: Var[], tail?: ReduceTail): FusedGroup {
    const nin = this.inputs.length;
    let nextReg = nin;
    this.regOf.clear();
    // Scalar literals become `const` instructions instead of buffers.
    const literalReg = new Map<string, number>();
    const literal = (l: Literal): number => {
      const key = l.key;
      let reg = literalReg.get(key);
      if (reg === undefined) {
        reg = nextReg++;
        this.instrs.push({ op: 'const', kind: l.aval.dtype, dst: reg, a: this.consts.push(l.value.item()) - 1, b: -1, c: -1 });
        literalReg.set(key, reg);
      }
      return reg;
    };
    for (const { eqn, kernel } of this.pending) {
      const local = kernel.inputs.map((inp, i) => {
        const a = eqn.inputs[i];
        if (a instanceof Literal) return literal(a);
        if (this.regOf.has(a)) return this.regOf.get(a) as number;
        return this.findInput(a, inp.view) as number;
      });
      const base = this.consts.length;
      this.consts.push(...kernel.consts);
      // Map the single-op kernel's registers (inputs 0..n-1, then its own temporaries) to ours.
      const map = new Map<number, number>(local.map((r, i) => [i, r]));
      for (const ins of kernel.instrs) {
        const reg = (r: number): number => (r < 0 ? r : (map.get(r) as number));
        const dst = nextReg++;
        this.instrs.push({ ...ins, a: ins.op === 'const' ? ins.a + base : reg(ins.a), b: SOURCE_KIND_OPS.has(ins.op) ? ins.b : reg(ins.b), c: reg(ins.c), dst });
        map.set(ins.dst, dst);
      }
      this.regOf.set(eqn.outs[0], map.get(kernel.outputs[0].reg) as number);
    }
    const full = contiguousStrides(this.shape);
    const reduce: ElementwiseReduce | undefined = tail && {
      op: tail.kernel.op,
      dtype: tail.kernel.dtype,
      reg: this.regOf.get(tail.eqn.inputs[0] as Var) as number,
      axes: [...tail.kernel.axes],
      output: { arg: nin + outputs.length, offset: 0 },
    };
    const kernel: ElementwiseKernel = allocateRegisters({
      kind: 'elementwise',
      shape: [...this.shape],
      inputs: this.inputs.map((x) => ({ dtype: x.dtype, view: x.view })),
      outputs: outputs.map((v, i) => ({ dtype: v.aval.dtype, view: { arg: nin + i, offset: 0, strides: full }, reg: this.regOf.get(v) as number })),
      nregs: nextReg,
      instrs: this.instrs,
      consts: this.consts,
      ...(reduce ? { reduce } : {}),
    });
    if (!tail) return { eqns: this.eqns, inputs: this.inputs.map((x) => x.atom), outputs, kernel };
    return { eqns: [...this.eqns, tail.eqn], inputs: this.inputs.map((x) => x.atom), outputs: [...outputs, tail.eqn.outs[0]], kernel };
  }
}

/**
 * Renumbers the registers of a kernel whose instructions each define a fresh register so that a
 * register is reused once its value is dead: the CPU interpreter then keeps fewer tiles live (they
 * stay in L1) and generated MSL declares fewer temporaries. Input registers keep their numbers; an
 * instruction never writes a register it reads, and stored registers stay live to the end.
 */
export function allocateRegisters(k: ElementwiseKernel): ElementwiseKernel {
  const nin = k.inputs.length;
  const lastUse = new Map<number, number>();
  k.instrs.forEach((ins, i) => {
    if (ins.op === 'const') return;
    for (const r of [ins.a, SOURCE_KIND_OPS.has(ins.op) ? -1 : ins.b, ins.c]) if (r >= 0) lastUse.set(r, i);
  });
  for (const o of k.outputs) lastUse.set(o.reg, Infinity);
  if (k.reduce) lastUse.set(k.reduce.reg, Infinity);
  const renamed = new Map<number, number>();
  for (let r = 0; r < nin; r++) renamed.set(r, r);
  const free: number[] = [];
  let nregs = nin;
  const instrs = k.instrs.map((ins, i) => {
    const reg = (r: number): number => (r < 0 ? r : (renamed.get(r) as number));
    const out: Instr = { ...ins, a: ins.op === 'const' ? ins.a : reg(ins.a), b: SOURCE_KIND_OPS.has(ins.op) ? ins.b : reg(ins.b), c: reg(ins.c) };
    out.dst = free.length > 0 ? (free.pop() as number) : nregs++;
    // Operands whose last use is this instruction free their registers for later instructions.
    if (ins.op !== 'const') {
      for (const r of new Set([ins.a, SOURCE_KIND_OPS.has(ins.op) ? -1 : ins.b, ins.c])) {
        if (r >= nin && lastUse.get(r) === i) free.push(renamed.get(r) as number);
      }
    }
    renamed.set(ins.dst, out.dst);
    // A value nobody reads is dead at once.
    if (!lastUse.has(ins.dst)) free.push(out.dst);
    return out;
  });
  const out: ElementwiseKernel = { ...k, instrs, nregs, outputs: k.outputs.map((o) => ({ ...o, reg: renamed.get(o.reg) as number })) };
  if (k.reduce) out.reduce = { ...k.reduce, reg: renamed.get(k.reduce.reg) as number };
  return out;
}

/**
 * Reorders equations so that fusible ones sit next to each other: each fusible equation is delayed
 * until just before the first equation that needs it (or the end), so a transpose or broadcast
 * computed early joins the elementwise group of its consumer. Dependencies are kept (a delayed
 * equation is emitted after its own delayed inputs, in the original order).
 */
function scheduleForFusion(eqns: Eqn[], kernels: (ElementwiseKernel | null)[]): number[] {
  const producer = new Map<Var, number>();
  eqns.forEach((e, i) => e.outs.forEach((v) => producer.set(v, i)));
  const delayed = new Set<number>();
  const order: number[] = [];
  const emit = (i: number): void => {
    if (!delayed.delete(i)) return;
    for (const a of eqns[i].inputs) if (a instanceof Var && producer.has(a)) emit(producer.get(a) as number);
    order.push(i);
  };
  eqns.forEach((e, i) => {
    if (kernels[i]) {
      delayed.add(i);
      return;
    }
    for (const a of e.inputs) if (a instanceof Var && producer.has(a)) emit(producer.get(a) as number);
    order.push(i);
  });
  for (const i of [...delayed].sort((a, b) => a - b)) emit(i);
  return order;
}

/** Splits a jaxpr's equations into steps, fusing runs of elementwise equations. */
export function fuse(jaxpr: Jaxpr): Step[] {
  const steps: Step[] = [];
  const uses = new Map<Var, number>();
  const outsOfJaxpr = new Set(jaxpr.outs.filter((o): o is Var => o instanceof Var));
  let group: GroupBuilder | null = null;
  /** Closes the open group, with `tail` reducing one of its values when given. */
  const closeGroup = (tail?: ReduceTail): void => {
    if (!group) {
      if (tail) steps.push({ kind: 'eqn', eqn: tail.eqn });
      return;
    }
    const g = group;
    group = null;
    const unfused = (): void => {
      for (const eqn of g.eqns) steps.push({ kind: 'eqn', eqn });
      if (tail) steps.push({ kind: 'eqn', eqn: tail.eqn });
    };
    if (g.eqns.length === 1 && !tail) return unfused();
    const internalUses = new Map<Var, number>();
    for (const e of tail ? [...g.eqns, tail.eqn] : g.eqns) for (const a of e.inputs) if (a instanceof Var && g.produces(a)) internalUses.set(a, (internalUses.get(a) ?? 0) + 1);
    const outputs = g.eqns.map((e) => e.outs[0]).filter((v) => outsOfJaxpr.has(v) || (uses.get(v) ?? 0) > (internalUses.get(v) ?? 0));
    // Too many stored values for one kernel: leave this run unfused (rare: most values stay internal).
    if (g.inputs.length + outputs.length + (tail ? 1 : 0) > MAX_KERNEL_BUFFERS) return unfused();
    steps.push({ kind: 'fused', group: g.finish(outputs, tail) });
  };
  for (const e of jaxpr.eqns) for (const a of e.inputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  const kernels = jaxpr.eqns.map(fusibleKernel);
  for (const i of scheduleForFusion(jaxpr.eqns, kernels)) {
    const eqn = jaxpr.eqns[i];
    const kernel = kernels[i];
    if (!kernel) {
      // A reduction of a value the open group computes joins the group: the group's program becomes
      // the reduction's prologue, so the reduced operand never goes to memory.
      const tail = group ? reduceTail(eqn) : null;
      if (tail && (group as GroupBuilder).canReduce(tail)) {
        closeGroup(tail);
        continue;
      }
      closeGroup();
      steps.push({ kind: 'eqn', eqn });
      continue;
    }
    if (group && (group as GroupBuilder).tryAdd(eqn, kernel)) continue;
    closeGroup();
    group = new GroupBuilder(kernel.shape);
    group.tryAdd(eqn, kernel);
  }
  closeGroup();
  return steps;
}
