/**
 * @file The pieces every MSL generator shares: the scalar ops' operand forms, register and buffer
 * types, the buffers a kernel binds (`mslBindings`) and its signature, index arithmetic, literals,
 * and the emission of an elementwise program (loads, SSA instructions, stores) at given indices.
 * Generated kernels call the `mg_<op>` functions of shaders/ops.h, whose names are the ABI's op names.
 */

import { DType, DTYPES, SHORT_NAME } from '../core/dtype';
import { contiguousStrides } from '../core/shape';
import { ElementwiseKernel, epilogueOf, Instr, Kernel, ReduceKernel, ScalarOp, View } from './kernel';

type Form = 'copy' | 'const' | 'convert' | 'unary' | 'binary' | 'compare' | 'select';
const F: DType[] = ['float32'];
const FIU: DType[] = ['float32', 'int32', 'uint32'];
const IUB: DType[] = ['int32', 'uint32', 'bool'];
const IU: DType[] = ['int32', 'uint32'];
const ALL: DType[] = [...DTYPES];

/** Operand form and register kinds of each scalar op (native/ABI.md), exhaustive over `ScalarOp`. */
const OP_INFO: { [O in ScalarOp]: { form: Form; kinds: DType[] } } = {
  copy: { form: 'copy', kinds: ALL },
  const: { form: 'const', kinds: ALL },
  convert: { form: 'convert', kinds: ALL },
  neg: { form: 'unary', kinds: FIU },
  exp: { form: 'unary', kinds: F },
  log: { form: 'unary', kinds: F },
  log1p: { form: 'unary', kinds: F },
  expm1: { form: 'unary', kinds: F },
  sin: { form: 'unary', kinds: F },
  cos: { form: 'unary', kinds: F },
  tanh: { form: 'unary', kinds: F },
  sqrt: { form: 'unary', kinds: F },
  abs: { form: 'unary', kinds: FIU },
  sign: { form: 'unary', kinds: FIU },
  erf: { form: 'unary', kinds: F },
  floor: { form: 'unary', kinds: F },
  ceil: { form: 'unary', kinds: F },
  add: { form: 'binary', kinds: FIU },
  sub: { form: 'binary', kinds: FIU },
  mul: { form: 'binary', kinds: FIU },
  div: { form: 'binary', kinds: FIU },
  pow: { form: 'binary', kinds: FIU },
  max: { form: 'binary', kinds: ALL },
  min: { form: 'binary', kinds: ALL },
  lt: { form: 'compare', kinds: ALL },
  le: { form: 'compare', kinds: ALL },
  gt: { form: 'compare', kinds: ALL },
  ge: { form: 'compare', kinds: ALL },
  eq: { form: 'compare', kinds: ALL },
  ne: { form: 'compare', kinds: ALL },
  and: { form: 'binary', kinds: IUB },
  or: { form: 'binary', kinds: IUB },
  not: { form: 'unary', kinds: IUB },
  select: { form: 'select', kinds: ALL },
  erf_inv: { form: 'unary', kinds: F },
  xor: { form: 'binary', kinds: IUB },
  shift_left: { form: 'binary', kinds: IU },
  shift_right_logical: { form: 'binary', kinds: IU },
  shift_right_arithmetic: { form: 'binary', kinds: IU },
  // A convert-form op: `b` is the source kind, which must be one of `kinds` too.
  bitcast_convert_type: { form: 'convert', kinds: FIU },
};

// ---------------------------------------------------------------------------------------------
// Types, buffers and signatures

/** Entries of Metal's buffer argument table: a kernel takes at most this many buffers. */
export const MSL_MAX_BUFFERS = 31;

/** MSL type of a register of each kind, and of an element in a buffer (bool is one byte). */
export const REG_TYPE: Record<DType, string> = { float32: 'float', int32: 'int', uint32: 'uint', bool: 'bool' };
export const BUF_TYPE: Record<DType, string> = { float32: 'float', int32: 'int', uint32: 'uint', bool: 'uchar' };

/** One buffer parameter of a generated kernel: `[[buffer(i)]]` is bound to the plan's buffer `arg`. */
export interface MslBinding {
  arg: number;
  dtype: DType;
  writes: boolean;
}

/**
 * The buffers a generated kernel takes, in `[[buffer(i)]]` order: reads, then writes; an epilogue's
 * inputs (except the result it reads) follow the kernel's own reads, its outputs the kernel's writes.
 */
export function mslBindings(kernel: Kernel): MslBinding[] {
  const own = ownBindings(kernel);
  const e = epilogueOf(kernel);
  if (!e) return own;
  const epi = ownBindings(e.kernel).filter((_, i) => i !== e.src);
  return [...own.filter((b) => !b.writes), ...epi.filter((b) => !b.writes), ...own.filter((b) => b.writes), ...epi.filter((b) => b.writes)];
}

/** The buffers of the kernel itself, without its epilogue's. */
export function ownBindings(kernel: Kernel): MslBinding[] {
  switch (kernel.kind) {
    case 'elementwise':
      return [
        ...kernel.inputs.map((i) => ({ arg: i.view.arg, dtype: i.dtype, writes: false })),
        ...kernel.outputs.map((o) => ({ arg: o.view.arg, dtype: o.dtype, writes: true })),
        ...(kernel.reduce ? [{ arg: kernel.reduce.output.arg, dtype: kernel.reduce.dtype, writes: true }] : []),
      ];
    case 'reduce':
      return [{ arg: kernel.input.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.output.arg, dtype: kernel.dtype, writes: true }];
    case 'argreduce':
      return [{ arg: kernel.input.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.output.arg, dtype: 'int32', writes: true }];
    case 'matmul':
      return [{ arg: kernel.a.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.b.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.c.arg, dtype: kernel.dtype, writes: true }];
    case 'gather':
      return [{ arg: kernel.x.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.indices.arg, dtype: 'int32', writes: false }, { arg: kernel.output.arg, dtype: kernel.dtype, writes: true }];
    case 'scatter':
      return [{ arg: kernel.updates.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.indices.arg, dtype: 'int32', writes: false }, { arg: kernel.output.arg, dtype: kernel.dtype, writes: true }];
    case 'sort':
      return [{ arg: kernel.input.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.output.arg, dtype: kernel.dtype, writes: true }, { arg: kernel.indices.arg, dtype: 'int32', writes: true }];
    case 'scan':
      return [{ arg: kernel.input.arg, dtype: kernel.dtype, writes: false }, { arg: kernel.output.arg, dtype: kernel.dtype, writes: true }];
    case 'alias':
      return [];
  }
}

/** The C++ declaration of each buffer parameter, named `in<i>` (reads) and `out<i>` (writes) in binding order. */
export function bufferParams(kernel: Kernel): { id: string; decl: string }[] {
  const all = mslBindings(kernel);
  const nin = all.filter((b) => !b.writes).length;
  return all.map((b, i) => {
    const id = b.writes ? `out${i - nin}` : `in${i}`;
    return { id, decl: `device ${b.writes ? '' : 'const '}${BUF_TYPE[b.dtype]}* ${id}` };
  });
}

/** The kernel's head: its buffers, then `extra` parameters (threadgroup memory, thread positions). */
export function signature(name: string, kernel: Kernel, extra: string[] = ['uint gid [[thread_position_in_grid]]']): string {
  const params = bufferParams(kernel).map((p, i) => `    ${p.decl} [[buffer(${i})]],`);
  return [`kernel void ${name}(`, ...params, ...extra.map((p, i) => `    ${p}${i === extra.length - 1 ? ') {' : ','}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Indices and literals

/** `offset + i0 * s0 + ...` over the index variables `vars` (stride-0 dims drop out). */
export function indexExpr(offset: number, strides: readonly number[], vars: readonly string[]): string {
  const terms: string[] = [];
  strides.forEach((s, d) => {
    if (s !== 0) terms.push(s === 1 ? vars[d] : `${vars[d]} * ${s}`);
  });
  if (offset !== 0 || terms.length === 0) terms.unshift(String(offset));
  return terms.join(' + ');
}

/** Declares `const int <vars[d]>` (indented by `pad`) for the row-major decomposition of the uint `of` over `dims`. */
export function decompose(dims: readonly number[], vars: readonly string[], of = 'gid', pad = '  '): string[] {
  const lines: string[] = [];
  let inner = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    const q = inner === 1 ? of : `${of} / ${inner}u`;
    const e = d === 0 ? q : inner === 1 ? `${of} % ${dims[d]}u` : `(${q}) % ${dims[d]}u`;
    lines.unshift(`${pad}const int ${vars[d]} = int(${e});`);
    inner *= dims[d];
  }
  return lines;
}

export const indexVars = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, d) => `${prefix}${d}`);

/** Loads element `idx` of buffer `buf` as a register value of kind `dtype`. */
export const load = (buf: string, idx: string, dtype: DType): string => (dtype === 'bool' ? `${buf}[${idx}] != 0` : `${buf}[${idx}]`);
export const store = (value: string, dtype: DType): string => (dtype === 'bool' ? `uchar(${value})` : value);

function floatLiteral(x: number): string {
  const f = Math.fround(x);
  if (Number.isNaN(f)) return 'NAN';
  if (f === Infinity || f === -Infinity) return f > 0 ? 'INFINITY' : '-INFINITY';
  if (Object.is(f, -0)) return '-0.0f';
  for (let p = 1; ; p++) {
    const s = f.toPrecision(p);
    if (p >= 9 || Math.fround(Number(s)) === f) return `${/[.e]/.test(s) ? s : `${s}.0`}f`;
  }
}

/** A const operand converted to kind `k` as the ABI does (saturating, NaN -> 0; to bool is != 0). */
export function mslLiteral(x: number, k: DType): string {
  switch (k) {
    case 'float32':
      return floatLiteral(x);
    case 'int32': {
      const v = Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(x)));
      return v === -2147483648 ? '(-2147483647 - 1)' : String(v);
    }
    case 'uint32':
      return `${!(x > -1) ? 0 : Math.min(4294967295, Math.trunc(x))}u`;
    case 'bool':
      return x !== 0 ? 'true' : 'false';
  }
}

// ---------------------------------------------------------------------------------------------
// Elementwise programs

/** Drops size-1 dims and merges dims that every view walks contiguously (as native/cpu/layout). */
function collapse(shape: readonly number[], views: readonly View[]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = views.map(() => []);
  shape.forEach((n, d) => {
    if (n === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && views.every((v, i) => strides[i][last] === v.strides[d] * n)) {
      dims[last] *= n;
      views.forEach((v, i) => (strides[i][last] = v.strides[d]));
      return;
    }
    dims.push(n);
    views.forEach((v, i) => strides[i].push(v.strides[d]));
  });
  return { dims, strides };
}

function checkInstr(k: ElementwiseKernel, ins: Instr, at: number, typeOf: (r: number) => DType): void {
  const info = OP_INFO[ins.op];
  const where = `generateMsl: instruction ${at} (${ins.op} on ${ins.kind})`;
  if (!info) throw new Error(`generateMsl: instruction ${at} has unknown op ${JSON.stringify(ins.op)}`);
  if (!info.kinds.includes(ins.kind)) throw new Error(`${where}: the op is defined on ${info.kinds.join(', ')} only`);
  if (ins.dst < k.inputs.length || ins.dst >= k.nregs) throw new Error(`${where}: dst ${ins.dst} must be in [${k.inputs.length}, ${k.nregs})`);
  const expect = (r: number, kind: DType, operand: string): void => {
    if (typeOf(r) !== kind) throw new Error(`${where}: operand ${operand} (r${r}) must be ${kind}, it holds ${typeOf(r)}`);
  };
  if (info.form === 'const') {
    if (!(ins.a >= 0 && ins.a < k.consts.length)) throw new Error(`${where}: const index ${ins.a} is out of range (${k.consts.length} consts)`);
  } else if (info.form === 'convert') {
    if (!(ins.b >= 0 && ins.b < DTYPES.length && info.kinds.includes(DTYPES[ins.b]))) throw new Error(`${where}: source dtype code ${ins.b} is invalid`);
    expect(ins.a, DTYPES[ins.b], 'a');
  } else if (info.form === 'select') {
    expect(ins.a, 'bool', 'a');
    expect(ins.b, ins.kind, 'b');
    expect(ins.c, ins.kind, 'c');
  } else {
    expect(ins.a, ins.kind, 'a');
    if (info.form === 'binary' || info.form === 'compare') expect(ins.b, ins.kind, 'b');
  }
}

/** The right-hand side of one instruction over the current names of its operand registers. */
function instrExpr(k: ElementwiseKernel, ins: Instr, name: (r: number) => string): string {
  switch (OP_INFO[ins.op].form) {
    case 'copy':
      return `mg_copy(${name(ins.a)})`;
    case 'const':
      return mslLiteral(k.consts[ins.a], ins.kind);
    case 'convert':
      return `mg_${ins.op}_${SHORT_NAME[ins.kind]}(${name(ins.a)})`;
    case 'unary':
      return `mg_${ins.op}(${name(ins.a)})`;
    case 'binary':
    case 'compare':
      return `mg_${ins.op}(${name(ins.a)}, ${name(ins.b)})`;
    case 'select':
      return `mg_select(${name(ins.a)}, ${name(ins.b)}, ${name(ins.c)})`;
  }
}

/** The views of an elementwise kernel (inputs, then outputs), checked against its rank. */
export function programViews(k: ElementwiseKernel): View[] {
  const views = [...k.inputs.map((i) => i.view), ...k.outputs.map((o) => o.view)];
  for (const v of views) {
    if (v.strides.length !== k.shape.length) throw new Error(`generateMsl: a view of arg ${v.arg} has ${v.strides.length} strides for a rank-${k.shape.length} shape`);
  }
  return views;
}

/**
 * How an elementwise program addresses its views at element `flat` (an unsigned expression, the
 * row-major index into its shape): `index(v)` is view v's element. When every view is contiguous
 * (the whole shape in row-major order, or one broadcast element) that is `flat` itself plus the
 * view's offset; otherwise `lines` declare the coordinates `<prefix>0`, ... of the collapsed dims.
 */
export function programIndex(k: ElementwiseKernel, flat: string, prefix: string, pad: string): { contiguous: boolean; dims: number[]; lines: string[]; index: (v: number) => string } {
  const views = programViews(k);
  const { dims, strides } = collapse(k.shape, views);
  const full = contiguousStrides(dims);
  const broadcast = (v: number): boolean => strides[v].every((x) => x === 0);
  if (strides.every((s, v) => broadcast(v) || s.every((x, d) => x === full[d]))) {
    return { contiguous: true, dims, lines: [], index: (v) => (broadcast(v) ? String(views[v].offset) : views[v].offset === 0 ? flat : `${views[v].offset} + ${flat}`) };
  }
  const vars = indexVars(dims.length, prefix);
  return { contiguous: false, dims, lines: decompose(dims, vars, flat, pad), index: (v) => indexExpr(views[v].offset, strides[v], vars) };
}

/** How a program names its registers (`<prefix><reg>`), gets its inputs and names its output buffers. */
interface ProgramIo {
  prefix: string;
  /** The value of input i, or null to load it from `in<i>`. */
  input: (i: number) => string | null;
  output: (o: number) => string;
}
const DEFAULT_IO: ProgramIo = { prefix: 'r', input: () => null, output: (o) => `out${o}` };

/**
 * Emits the loads, instructions and (through `store`) output stores of an elementwise program at
 * the element `index(view)` addresses. Registers are SSA values `r<reg>`; a register written twice
 * gets `r<reg>_<n>`.
 */
export function emitProgram(k: ElementwiseKernel, lines: string[], index: (view: number) => string, pad: string, io: ProgramIo = DEFAULT_IO) {
  const types = new Map<number, DType>();
  const names = new Map<number, string>();
  const writes = new Map<number, number>();
  const nameOf = (r: number): string => {
    const n = names.get(r);
    if (n === undefined) throw new Error(`generateMsl: register r${r} is read before it is written`);
    return n;
  };
  const typeOf = (r: number): DType => {
    if (!types.has(r)) nameOf(r);
    return types.get(r) as DType;
  };
  const define = (r: number, t: DType, rhs: string): void => {
    const count = writes.get(r) ?? 0;
    writes.set(r, count + 1);
    const id = count === 0 ? `${io.prefix}${r}` : `${io.prefix}${r}_${count}`;
    types.set(r, t);
    names.set(r, id);
    lines.push(`${pad}const ${REG_TYPE[t]} ${id} = ${rhs};`);
  };
  k.inputs.forEach((inp, i) => define(i, inp.dtype, io.input(i) ?? load(`in${i}`, index(i), inp.dtype)));
  k.instrs.forEach((ins, at) => {
    checkInstr(k, ins, at, typeOf);
    const t = OP_INFO[ins.op].form === 'compare' ? 'bool' : ins.kind;
    define(ins.dst, t, instrExpr(k, ins, nameOf));
  });
  return {
    nameOf,
    typeOf,
    store(o: number): void {
      const out = k.outputs[o];
      if (typeOf(out.reg) !== out.dtype) throw new Error(`generateMsl: output ${o} is ${out.dtype} but stores r${out.reg}, which holds ${typeOf(out.reg)}`);
      lines.push(`${pad}${io.output(o)}[${index(k.inputs.length + o)}] = ${store(nameOf(out.reg), out.dtype)};`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Folds of reductions (and scans)

/** The scalar op that folds each reduction, and its identity (the accumulator's start). */
export const REDUCE_SCALAR_OP = { sum: 'add', prod: 'mul', max: 'max', min: 'min' } as const;

export function identity(op: ReduceKernel['op'], t: DType): string {
  switch (op) {
    case 'sum':
      return mslLiteral(0, t);
    case 'prod':
      return mslLiteral(1, t);
    case 'max':
      return { float32: '-INFINITY', int32: '(-2147483647 - 1)', uint32: '0u', bool: 'false' }[t];
    case 'min':
      return { float32: 'INFINITY', int32: '2147483647', uint32: '4294967295u', bool: 'true' }[t];
  }
}

