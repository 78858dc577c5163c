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
import { ElementwiseKernel, ElementwiseReduce, Epilogue, Instr, Kernel, MatmulKernel, ReduceKernel, remapKernel, SOURCE_KIND_OPS, View } from './kernel';

/** Most buffers one fused kernel may read (keeps the native argument list and register file small). */
export const MAX_KERNEL_INPUTS = 16;
/** Most buffers one kernel may bind in all (Metal's limit of buffer arguments per kernel). */
export const MAX_KERNEL_BUFFERS = 31;

/** A step of the lowered program: one equation lowered on its own, or a fused group. */
export type Step = { kind: 'eqn'; eqn: Eqn } | { kind: 'fused'; group: FusedGroup };

export interface FusionOptions {
  /**
   * Whether elementwise work on a reduction's or a matmul's result joins that kernel as its
   * epilogue (default true; false keeps it a kernel of its own, e.g. to compare results).
   */
  epilogues?: boolean;
}

export interface FusedGroup {
  eqns: Eqn[];
  /** Atoms read from outside the group, in kernel-input order. */
  inputs: Atom[];
  /** Values stored for use outside the group (a fused reduction's result last). */
  outputs: Var[];
  /**
   * The kernel, with args numbered [inputs..., outputs...]: an elementwise program (perhaps with a
   * reduction), or a reduction or matmul carrying an epilogue.
   */
  kernel: Kernel;
}

/** A fused group whose kernel is an elementwise program. */
type ElementwiseGroup = FusedGroup & { kernel: ElementwiseKernel };

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
 * The matmul an equation lowers to, if it is that single kernel writing a contiguous C from element 0
 * (so C's flat index is the result's, and an epilogue can run on its finished blocks).
 */
function matmulHead(eqn: Eqn): MatmulKernel | null {
  if (eqn.outs.length !== 1) return null;
  const lowering = primitiveDef(eqn.prim).lower(eqn.inputs.map((a) => a.aval), [eqn.outs[0].aval], eqn.params as never);
  if (lowering.temps.length > 0 || lowering.kernels.length !== 1) return null;
  const k = lowering.kernels[0];
  if (k.kind !== 'matmul' || k.c.arg !== 2 || !isIdentityView(k.c, [k.batch, k.m, k.n])) return null;
  return k;
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

  /**
   * @param head the step just before this group, when the group may become its epilogue: the group
   *   then reads the head's result only element for element, and none of its other outputs.
   */
  constructor(
    readonly shape: readonly number[],
    readonly head?: Head,
  ) {}

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
      if (this.head && a instanceof Var && this.head.outputs.includes(a) && (a !== this.head.result || !isIdentityView(view, this.shape))) return false;
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

  /** Whether the group reads `a` from memory. */
  reads(a: Atom): boolean {
    return this.inputs.some((x) => x.atom === a);
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
  finish(outputs: Var[], tail?: ReduceTail): ElementwiseGroup {
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
  const consumers = new Map<Var, number[]>();
  eqns.forEach((e, i) => {
    e.outs.forEach((v) => producer.set(v, i));
    for (const a of e.inputs) {
      if (!(a instanceof Var)) continue;
      const list = consumers.get(a);
      if (list) list.push(i);
      else consumers.set(a, [i]);
    }
  });
  const delayed = new Set<number>(eqns.flatMap((_, i) => (kernels[i] ? [i] : [])));
  const emitted = new Set<number>();
  const order: number[] = [];
  const push = (i: number): void => {
    order.push(i);
    emitted.add(i);
  };
  const emit = (i: number): void => {
    if (!delayed.delete(i)) return;
    for (const a of eqns[i].inputs) if (a instanceof Var && producer.has(a)) emit(producer.get(a) as number);
    push(i);
  };
  // Whether every input of an equation has been emitted (or is not computed here).
  const ready = (i: number): boolean =>
    eqns[i].inputs.every((a) => !(a instanceof Var) || !producer.has(a) || emitted.has(producer.get(a) as number));
  // Whether equation j computes a scalar op reading `v` element for element (not a layout change
  // such as a transpose, which fuses better into its own consumer as a strided load).
  const elementwiseOn = (j: number, v: Var): boolean =>
    primitiveDef(eqns[j].prim).scalarOp !== undefined && eqns[j].outs.every((o) => shapesEqual(o.aval.shape, v.aval.shape));
  // After a step that can take an epilogue (a matmul or a reduction), its delayed elementwise
  // consumers (and theirs) whose inputs are all emitted already are emitted at once, so they can
  // become its epilogue: an SGD update `w - lr * g` joins the GEMM that computes g instead of
  // reading g back. Consumers still waiting for other delayed equations (a transpose that fuses into
  // them as a strided load) stay where they were.
  const pullConsumers = (i: number): void => {
    const work = [...eqns[i].outs];
    while (work.length > 0) {
      const v = work.shift() as Var;
      for (const j of consumers.get(v) ?? []) {
        if (!delayed.has(j) || !elementwiseOn(j, v) || !ready(j)) continue;
        emit(j);
        work.push(...eqns[j].outs);
      }
    }
  };
  eqns.forEach((e, i) => {
    if (kernels[i]) return;
    for (const a of e.inputs) if (a instanceof Var && producer.has(a)) emit(producer.get(a) as number);
    push(i);
    if (eqnHead(e)) pullConsumers(i);
  });
  for (const i of [...delayed].sort((a, b) => a - b)) emit(i);
  return order;
}

/**
 * A step that can take an epilogue: a reduction (alone, or with its prologue) or a matmul, with its
 * kernel's args numbered [inputs..., outputs...] and its result the last output.
 */
interface Head {
  eqns: Eqn[];
  inputs: Atom[];
  outputs: Var[];
  kernel: ElementwiseKernel | ReduceKernel | MatmulKernel;
  result: Var;
}

/** The head an equation lowered on its own makes, if any. */
function eqnHead(eqn: Eqn): Head | null {
  const k: ReduceKernel | MatmulKernel | null = reduceTail(eqn)?.kernel ?? matmulHead(eqn);
  if (!k) return null;
  return { eqns: [eqn], inputs: eqn.inputs, outputs: [eqn.outs[0]], kernel: k, result: eqn.outs[0] };
}

const groupHead = (g: ElementwiseGroup): Head | null => (g.kernel.reduce ? { ...g, result: g.outputs[g.outputs.length - 1] } : null);

/**
 * `head` with the elementwise group `epi` (built after it, over its result's shape) as its
 * epilogue, storing `outputs` of the group; null when the group does not read the result or the
 * kernel would bind too many buffers. The result is stored on its own only when `keep` (used
 * elsewhere) or when no output of the group has its dtype; otherwise it is written where such an
 * output goes and the epilogue overwrites it in place.
 */
function attachEpilogue(head: Head, epi: GroupBuilder, outputs: Var[], keep: boolean): FusedGroup | null {
  const { result } = head;
  const alias = keep ? -1 : outputs.findIndex((v) => v.aval.dtype === result.aval.dtype);
  const stored = keep || alias < 0;
  const headKept = head.outputs.filter((v) => v !== result);
  if (!epi.reads(result)) return null;
  if (head.inputs.length + epi.inputs.length - 1 + headKept.length + (stored ? 1 : 0) + outputs.length > MAX_KERNEL_BUFFERS) return null;
  const fin = epi.finish(outputs);
  const src = fin.inputs.indexOf(result);
  const inputs = [...head.inputs, ...fin.inputs.filter((_, i) => i !== src)];
  const allOutputs = [...headKept, ...(stored ? [result] : []), ...fin.outputs];
  const nin = inputs.length;
  const resultArg = nin + headKept.length + (stored ? 0 : alias);
  const hin = head.inputs.length;
  const headArg = (arg: number): number => {
    if (arg < hin) return arg;
    const v = head.outputs[arg - hin];
    return v === result ? resultArg : nin + headKept.indexOf(v);
  };
  const ein = fin.inputs.length;
  const firstEpiOutput = nin + headKept.length + (stored ? 1 : 0);
  const epiArg = (arg: number): number => {
    if (arg === src) return resultArg;
    if (arg < ein) return hin + (arg < src ? arg : arg - 1);
    return firstEpiOutput + arg - ein;
  };
  const epilogue: Epilogue = { kernel: remapKernel(fin.kernel, epiArg) as ElementwiseKernel, src };
  const k = remapKernel(head.kernel, headArg) as Head['kernel'];
  let kernel: Kernel;
  if (k.kind === 'elementwise') kernel = { ...k, reduce: { ...(k.reduce as ElementwiseReduce), epilogue } };
  else kernel = { ...k, epilogue };
  return { eqns: [...head.eqns, ...fin.eqns], inputs, outputs: allOutputs, kernel };
}

/** Splits a jaxpr's equations into steps, fusing runs of elementwise equations. */
export function fuse(jaxpr: Jaxpr, options: FusionOptions = {}): Step[] {
  const steps: Step[] = [];
  const uses = new Map<Var, number>();
  const outsOfJaxpr = new Set(jaxpr.outs.filter((o): o is Var => o instanceof Var));
  let group: GroupBuilder | null = null;
  /** The last step pushed, when it can take an epilogue. */
  let head: Head | null = null;
  const push = (step: Step, h: Head | null): void => {
    steps.push(step);
    head = options.epilogues === false ? null : h;
  };
  const pushEqn = (eqn: Eqn): void => push({ kind: 'eqn', eqn }, eqnHead(eqn));
  /** Values of `eqns` (computed by `g`) needed after them: outputs of the jaxpr or read elsewhere. */
  const neededOutside = (eqns: Eqn[], produces: (v: Var) => boolean, candidates: Var[]): Var[] => {
    const internalUses = new Map<Var, number>();
    for (const e of eqns) for (const a of e.inputs) if (a instanceof Var && produces(a)) internalUses.set(a, (internalUses.get(a) ?? 0) + 1);
    return candidates.filter((v) => outsOfJaxpr.has(v) || (uses.get(v) ?? 0) > (internalUses.get(v) ?? 0));
  };
  /** Makes a reshape of the head's result part of the head, when nothing else reads the result. */
  const absorbReshape = (h: Head, eqn: Eqn): boolean => {
    const { result } = h;
    if (eqn.inputs.length !== 1 || eqn.inputs[0] !== result || eqn.outs.length !== 1 || outsOfJaxpr.has(result) || uses.get(result) !== 1) return false;
    const lowering = primitiveDef(eqn.prim).lower([result.aval], [eqn.outs[0].aval], eqn.params as never);
    const k = lowering.kernels[0];
    if (lowering.temps.length > 0 || lowering.kernels.length !== 1 || k.kind !== 'alias' || k.input !== 0 || k.output !== 1) return false;
    const reshaped = eqn.outs[0];
    const next: Head = { ...h, eqns: [...h.eqns, eqn], outputs: h.outputs.map((v) => (v === result ? reshaped : v)), result: reshaped };
    steps[steps.length - 1] = { kind: 'fused', group: { eqns: next.eqns, inputs: next.inputs, outputs: next.outputs, kernel: next.kernel } };
    head = next;
    return true;
  };
  /** Closes the open group, with `tail` reducing one of its values when given. */
  const closeGroup = (tail?: ReduceTail): void => {
    if (!group) {
      if (tail) pushEqn(tail.eqn);
      return;
    }
    const g = group;
    group = null;
    const unfused = (): void => {
      for (const eqn of g.eqns) pushEqn(eqn);
      if (tail) pushEqn(tail.eqn);
    };
    const outputs = neededOutside(tail ? [...g.eqns, tail.eqn] : g.eqns, (v) => g.produces(v), g.eqns.map((e) => e.outs[0]));
    // A group right after a reduction or matmul that reads its result becomes that kernel's epilogue.
    if (g.head && !tail && g.head === head) {
      const { result } = g.head;
      const keep = neededOutside(g.eqns, (v) => v === result, [result]).length > 0;
      const merged = attachEpilogue(g.head, g, outputs, keep);
      if (merged) {
        steps[steps.length - 1] = { kind: 'fused', group: merged };
        head = null;
        return;
      }
    }
    if (g.eqns.length === 1 && !tail) return unfused();
    // Too many stored values for one kernel: leave this run unfused (rare: most values stay internal).
    if (g.inputs.length + outputs.length + (tail ? 1 : 0) > MAX_KERNEL_BUFFERS) return unfused();
    const fin = g.finish(outputs, tail);
    push({ kind: 'fused', group: fin }, groupHead(fin));
  };
  for (const e of jaxpr.eqns) for (const a of e.inputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  const kernels = jaxpr.eqns.map(fusibleKernel);
  for (const i of scheduleForFusion(jaxpr.eqns, kernels)) {
    const eqn = jaxpr.eqns[i];
    const kernel = kernels[i];
    if (!kernel) {
      // A reshape of a head's result (e.g. keepdims) moves no data: the head writes the reshaped
      // value, so elementwise work on it can still become the head's epilogue.
      if (!group && head && absorbReshape(head, eqn)) continue;
      // A reduction of a value the open group computes joins the group: the group's program becomes
      // the reduction's prologue, so the reduced operand never goes to memory.
      const tail = group ? reduceTail(eqn) : null;
      if (tail && (group as GroupBuilder).canReduce(tail)) {
        closeGroup(tail);
        continue;
      }
      closeGroup();
      pushEqn(eqn);
      continue;
    }
    if (group && (group as GroupBuilder).tryAdd(eqn, kernel)) continue;
    closeGroup();
    const h = head as Head | null;
    group = new GroupBuilder(kernel.shape, h && shapesEqual(h.result.aval.shape, kernel.shape) ? h : undefined);
    if (!group.tryAdd(eqn, kernel)) {
      // The first equation reads the head's result other than element for element.
      group = new GroupBuilder(kernel.shape);
      group.tryAdd(eqn, kernel);
    }
  }
  closeGroup();
  return steps;
}
