/**
 * @file Metal Shading Language generation: one kernel function per kernel of a plan, specialised
 * for its shapes, strides and offsets (they are compile-time constants in the source). Scalar ops
 * call the `mg_<op>` functions of shaders/ops.h, whose names are the ABI's op names. Buffers are
 * bound inputs first, then outputs (`mslBindings`); one thread per output element (`mslThreads`).
 * Element indices are 32-bit ints: buffers are limited to 2^31 elements.
 */

import * as fs from 'fs';
import * as path from 'path';
import { DType, DTYPES, SHORT_NAME } from '../core/dtype';
import { contiguousStrides, sizeOf } from '../core/shape';
import { ArgReduceKernel, ElementwiseKernel, ElementwiseReduce, Epilogue, epilogueOf, GatherKernel, Instr, Kernel, MatmulKernel, ReduceKernel, ScalarOp, ScanKernel, ScatterKernel, SortKernel, View } from './kernel';

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

/** Entries of Metal's buffer argument table: a kernel takes at most this many buffers. */
export const MSL_MAX_BUFFERS = 31;

/** MSL type of a register of each kind, and of an element in a buffer (bool is one byte). */
const REG_TYPE: Record<DType, string> = { float32: 'float', int32: 'int', uint32: 'uint', bool: 'bool' };
const BUF_TYPE: Record<DType, string> = { float32: 'float', int32: 'int', uint32: 'uint', bool: 'uchar' };

/** One buffer parameter of a generated kernel: `[[buffer(i)]]` is bound to the plan's buffer `arg`. */
export interface MslBinding {
  arg: number;
  dtype: DType;
  writes: boolean;
}

let header: string | undefined;

/** shaders/ops.h, read once (generated sources embed it, so Metal needs no include path). */
export function mslOpsHeader(): string {
  if (header === undefined) {
    let dir = __dirname;
    while (!fs.existsSync(path.join(dir, 'shaders', 'ops.h'))) {
      const up = path.dirname(dir);
      if (up === dir) throw new Error(`generateMsl: cannot find shaders/ops.h above ${__dirname}`);
      dir = up;
    }
    header = fs.readFileSync(path.join(dir, 'shaders', 'ops.h'), 'utf8');
  }
  return header;
}

/** A self-contained MSL source (ops header + kernel) for `newLibraryWithSource`. */
export function generateMsl(kernel: Kernel, name: string): string {
  return `${mslOpsHeader()}\n${generateMslKernel(kernel, name)}`;
}

/** Only the kernel function of `generateMsl` (it needs shaders/ops.h before it). */
export function generateMslKernel(kernel: Kernel, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`generateMsl: the kernel name must be an identifier, received ${JSON.stringify(name)}`);
  const nbufs = mslBindings(kernel).length;
  if (nbufs > MSL_MAX_BUFFERS) throw new Error(`generateMsl: kernel ${name} takes ${nbufs} buffers; Metal binds at most ${MSL_MAX_BUFFERS}`);
  switch (kernel.kind) {
    case 'elementwise':
      return kernel.reduce ? elementwiseReduce(kernel, kernel.reduce, name) : elementwise(kernel, name);
    case 'reduce':
      return reduce(kernel, name);
    case 'argreduce':
      return argreduce(kernel, name);
    case 'matmul':
      return matmul(kernel, name);
    case 'gather':
      return gather(kernel, name);
    case 'scatter':
      return scatter(kernel, name);
    case 'sort':
      return sort(kernel, name);
    case 'scan':
      return scan(kernel, name);
    case 'alias':
      throw new Error('generateMsl: an alias kernel moves no data and has no MSL (the plan shares the buffer)');
  }
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

function ownBindings(kernel: Kernel): MslBinding[] {
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

/** Threads to dispatch (one per output element); 0 means nothing to dispatch. */
export function mslThreads(kernel: Kernel): number {
  switch (kernel.kind) {
    case 'elementwise':
      if (kernel.reduce) return sizeOf(kernel.shape.filter((_, d) => !kernel.reduce?.axes.includes(d)));
      return kernel.outputs.length === 0 ? 0 : sizeOf(kernel.shape);
    case 'reduce':
      return sizeOf(kernel.shape.filter((_, d) => !kernel.axes.includes(d)));
    case 'argreduce':
      return sizeOf(kernel.shape.filter((_, d) => d !== kernel.axis));
    case 'matmul':
      return kernel.batch * kernel.m * kernel.n;
    case 'gather':
      return kernel.dims.nb * kernel.dims.np * kernel.dims.ns * kernel.dims.nq;
    case 'scatter':
      return kernel.dims.nb * kernel.dims.np * kernel.dims.nq;
    case 'sort':
      return kernel.rows;
    case 'scan':
      return kernel.outer * kernel.inner;
    case 'alias':
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

function signature(name: string, kernel: Kernel): string {
  const params = mslBindings(kernel).map((b, i, all) => {
    const nin = all.filter((x) => !x.writes).length;
    const id = b.writes ? `out${i - nin}` : `in${i}`;
    return `    device ${b.writes ? '' : 'const '}${BUF_TYPE[b.dtype]}* ${id} [[buffer(${i})]],`;
  });
  return [`kernel void ${name}(`, ...params, '    uint gid [[thread_position_in_grid]]) {'].join('\n');
}

/** `offset + i0 * s0 + ...` over the index variables `vars` (stride-0 dims drop out). */
function indexExpr(offset: number, strides: readonly number[], vars: readonly string[]): string {
  const terms: string[] = [];
  strides.forEach((s, d) => {
    if (s !== 0) terms.push(s === 1 ? vars[d] : `${vars[d]} * ${s}`);
  });
  if (offset !== 0 || terms.length === 0) terms.unshift(String(offset));
  return terms.join(' + ');
}

/** Declares `const int <vars[d]>` for the row-major decomposition of `gid` (an unsigned index) over `dims`. */
function decompose(dims: readonly number[], vars: readonly string[], gid = 'gid', pad = '  '): string[] {
  const lines: string[] = [];
  let inner = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    const q = inner === 1 ? gid : `${gid} / ${inner}u`;
    const e = d === 0 ? q : inner === 1 ? `${gid} % ${dims[d]}u` : `(${q}) % ${dims[d]}u`;
    lines.unshift(`${pad}const int ${vars[d]} = int(${e});`);
    inner *= dims[d];
  }
  return lines;
}

const indexVars = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, d) => `${prefix}${d}`);

/** Loads element `idx` of buffer `buf` as a register value of kind `dtype`. */
const load = (buf: string, idx: string, dtype: DType): string => (dtype === 'bool' ? `${buf}[${idx}] != 0` : `${buf}[${idx}]`);
const store = (value: string, dtype: DType): string => (dtype === 'bool' ? `uchar(${value})` : value);

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
// Elementwise

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
function programViews(k: ElementwiseKernel): View[] {
  const views = [...k.inputs.map((i) => i.view), ...k.outputs.map((o) => o.view)];
  for (const v of views) {
    if (v.strides.length !== k.shape.length) throw new Error(`generateMsl: a view of arg ${v.arg} has ${v.strides.length} strides for a rank-${k.shape.length} shape`);
  }
  return views;
}

function elementwise(k: ElementwiseKernel, name: string): string {
  const numel = sizeOf(k.shape);
  const views = programViews(k);
  const { dims, strides } = collapse(k.shape, views);
  // Contiguous: each view is the whole shape in row-major order, or one broadcast element.
  const full = contiguousStrides(dims);
  const contiguous = strides.every((s) => s.every((x) => x === 0) || s.every((x, d) => x === full[d]));
  const lines: string[] = [];
  const layout = contiguous ? 'contiguous' : `strided over [${dims.join(', ')}]`;
  lines.push(`// ${name}: elementwise over [${k.shape.join(', ')}] (${numel} elements, ${layout}), ${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'}`);
  lines.push(signature(name, k));
  if (numel === 0 || k.outputs.length === 0) {
    lines.push('  // nothing to compute', '}', '');
    return lines.join('\n');
  }
  lines.push(`  if (gid >= ${numel}u) return;`);
  let index: (view: number) => string;
  if (contiguous) {
    index = (i) => {
      const v = views[i];
      const broadcast = strides[i].every((x) => x === 0);
      return broadcast ? String(v.offset) : v.offset === 0 ? 'gid' : `${v.offset} + gid`;
    };
  } else {
    const vars = indexVars(dims.length, 'i');
    lines.push(...decompose(dims, vars));
    index = (i) => indexExpr(views[i].offset, strides[i], vars);
  }

  const program = emitProgram(k, lines, index, '  ');
  k.outputs.forEach((out, o) => program.store(o));
  lines.push('}', '');
  return lines.join('\n');
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
function emitProgram(k: ElementwiseKernel, lines: string[], index: (view: number) => string, pad: string, io: ProgramIo = DEFAULT_IO) {
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
// Epilogues

/**
 * The lines that store one element of a reduction's or matmul's result and run the kernel's
 * epilogue on it: `store` (the generator's own store statement of `value`), unless an epilogue
 * output overwrites that element anyway, then the epilogue at flat result index `flat` (an unsigned
 * expression). Its `src` input is `value` itself; its other inputs and its outputs are the buffers
 * after the kernel's own (`mslBindings`). Generators of reductions and matmuls call this in place
 * of their store.
 */
export function resultStore(kernel: Kernel, value: string, flat: string, store: string, pad = '  '): string[] {
  const e: Epilogue | undefined = epilogueOf(kernel);
  if (!e) return [`${pad}${store}`];
  checkEpilogue(kernel, e);
  const src = e.kernel.inputs[e.src].view;
  const overwritten = e.kernel.outputs.some((o) => o.view.arg === src.arg && o.view.offset === src.offset && o.view.strides.every((st, d) => st === src.strides[d]));
  return [...(overwritten ? [] : [`${pad}${store}`]), ...epilogueLines(e, ownBindings(kernel), value, flat, pad)];
}

/** An epilogue must read the kernel's result (one element per thread) as its input `src`. */
function checkEpilogue(kernel: Kernel, e: Epilogue): void {
  const k = e.kernel;
  const n = k.inputs.length;
  if (!(Number.isInteger(e.src) && e.src >= 0 && e.src < n)) throw new Error(`generateMsl: the epilogue's src must be one of its ${n} inputs, received ${e.src}`);
  if (k.reduce) throw new Error('generateMsl: an epilogue cannot have a reduction of its own');
  const count = mslThreads(kernel);
  if (sizeOf(k.shape) !== count) throw new Error(`generateMsl: the epilogue runs over ${sizeOf(k.shape)} elements but the result has ${count}`);
  const dtype = kernel.kind === 'elementwise' ? kernel.reduce?.dtype : kernel.kind === 'reduce' || kernel.kind === 'matmul' ? kernel.dtype : undefined;
  if (k.inputs[e.src].dtype !== dtype) throw new Error(`generateMsl: the epilogue's src input is ${k.inputs[e.src].dtype} but the result is ${dtype}`);
}

function epilogueLines(e: Epilogue, own: MslBinding[], value: string, flat: string, pad: string): string[] {
  const firstIn = own.filter((b) => !b.writes).length;
  const firstOut = own.length - firstIn;
  const k = e.kernel;
  const views = programViews(k);
  const { dims, strides } = collapse(k.shape, views);
  const full = contiguousStrides(dims);
  const lines: string[] = [`${pad}// epilogue: ${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'} on the result`];
  let index: (view: number) => string;
  if (strides.every((st) => st.every((x) => x === 0) || st.every((x, d) => x === full[d]))) {
    index = (i) => (strides[i].every((x) => x === 0) ? String(views[i].offset) : views[i].offset === 0 ? `int(${flat})` : `${views[i].offset} + int(${flat})`);
  } else {
    const vars = indexVars(dims.length, 'ei');
    lines.push(...decompose(dims, vars, flat, pad));
    index = (i) => indexExpr(views[i].offset, strides[i], vars);
  }
  // Inputs other than src are bound after the kernel's own reads, in order.
  const program = emitProgram(k, lines, index, pad, {
    prefix: 'e',
    input: (i) => (i === e.src ? value : load(`in${firstIn + (i < e.src ? i : i - 1)}`, index(i), k.inputs[i].dtype)),
    output: (o) => `out${firstOut + o}`,
  });
  k.outputs.forEach((_, o) => program.store(o));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Reductions and matmul: one thread per output element (a correct baseline; threadgroup
// reductions and a tiled matmul replace these later).

const REDUCE_SCALAR_OP = { sum: 'add', prod: 'mul', max: 'max', min: 'min' } as const;

function identity(op: ReduceKernel['op'], t: DType): string {
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

/** The non-size-1 dims of `shape` split into kept (output order) and reduced ones. */
function splitDims(shape: readonly number[], input: View, reduced: (d: number) => boolean) {
  const kept = { dims: [] as number[], strides: [] as number[] };
  const red = { dims: [] as number[], strides: [] as number[] };
  shape.forEach((n, d) => {
    if (n === 1) return;
    const part = reduced(d) ? red : kept;
    part.dims.push(n);
    part.strides.push(input.strides[d]);
  });
  return { kept, red };
}

/** `const int base = ...` for the input element at reduced index 0 of this thread's output. */
function baseLines(kept: { dims: number[]; strides: number[] }, offset: number): string[] {
  const vars = indexVars(kept.dims.length, 'o');
  return [...decompose(kept.dims, vars), `  const int base = ${indexExpr(offset, kept.strides, vars)};`];
}

function reduce(k: ReduceKernel, name: string): string {
  if (k.dtype === 'bool' && (k.op === 'sum' || k.op === 'prod')) throw new Error(`generateMsl: reduce ${k.op} is not defined on bool`);
  const { kept, red } = splitDims(k.shape, k.input, (d) => k.axes.includes(d));
  const outCount = sizeOf(kept.dims);
  const t = REG_TYPE[k.dtype];
  const lines = [`// ${name}: reduce_${k.op} of [${k.shape.join(', ')}] over axes [${k.axes.join(', ')}], one thread per output element`, signature(name, k)];
  if (outCount === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  lines.push(`  if (gid >= ${outCount}u) return;`, ...baseLines(kept, k.input.offset));
  lines.push(`  ${t} acc = ${identity(k.op, k.dtype)};`);
  if (sizeOf(red.dims) > 0) {
    const vars = red.dims.map((_, d) => `j${d}`);
    red.dims.forEach((n, d) => lines.push(`${'  '.repeat(d + 1)}for (int ${vars[d]} = 0; ${vars[d]} < ${n}; ++${vars[d]}) {`));
    const at = indexExpr(0, red.strides, vars);
    const pad = '  '.repeat(red.dims.length + 1);
    lines.push(`${pad}acc = mg_${REDUCE_SCALAR_OP[k.op]}(acc, ${load('in0', at === '0' ? 'base' : `base + ${at}`, k.dtype)});`);
    for (let d = red.dims.length - 1; d >= 0; d--) lines.push(`${'  '.repeat(d + 1)}}`);
  }
  lines.push(...resultStore(k, 'acc', 'gid', `out0[${k.output.offset === 0 ? 'gid' : `${k.output.offset} + gid`}] = ${store('acc', k.dtype)};`), '}', '');
  return lines.join('\n');
}

/**
 * An elementwise program with a fused reduction: one thread per reduction output loops over the
 * reduced axes, running the program (and its element stores) at each index and folding register
 * `r.reg` into the accumulator.
 */
function elementwiseReduce(k: ElementwiseKernel, r: ElementwiseReduce, name: string): string {
  if (r.dtype === 'bool' && (r.op === 'sum' || r.op === 'prod')) throw new Error(`generateMsl: reduce ${r.op} is not defined on bool`);
  const views = programViews(k);
  const live = k.shape.map((_, d) => d).filter((d) => k.shape[d] !== 1);
  const keptDims = live.filter((d) => !r.axes.includes(d));
  const redDims = live.filter((d) => r.axes.includes(d));
  const outCount = sizeOf(keptDims.map((d) => k.shape[d]));
  const lines = [
    `// ${name}: elementwise over [${k.shape.join(', ')}] (${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'}) fused into reduce_${r.op} over axes [${r.axes.join(', ')}], one thread per output element`,
    signature(name, k),
  ];
  const outName = `out${k.outputs.length}`;
  if (outCount === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  const oVars = indexVars(keptDims.length, 'o');
  const jVars = redDims.map((_, i) => `j${i}`);
  lines.push(`  if (gid >= ${outCount}u) return;`, ...decompose(keptDims.map((d) => k.shape[d]), oVars));
  lines.push(`  ${REG_TYPE[r.dtype]} acc = ${identity(r.op, r.dtype)};`);
  const total = sizeOf(redDims.map((d) => k.shape[d]));
  if (total > 0) {
    redDims.forEach((d, i) => lines.push(`${'  '.repeat(i + 1)}for (int ${jVars[i]} = 0; ${jVars[i]} < ${k.shape[d]}; ++${jVars[i]}) {`));
    const pad = '  '.repeat(redDims.length + 1);
    const index = (i: number): string => indexExpr(views[i].offset, [...keptDims, ...redDims].map((d) => views[i].strides[d]), [...oVars, ...jVars]);
    const program = emitProgram(k, lines, index, pad);
    k.outputs.forEach((_, o) => program.store(o));
    if (program.typeOf(r.reg) !== r.dtype) throw new Error(`generateMsl: the reduction is ${r.dtype} but reads r${r.reg}, which holds ${program.typeOf(r.reg)}`);
    lines.push(`${pad}acc = mg_${REDUCE_SCALAR_OP[r.op]}(acc, ${program.nameOf(r.reg)});`);
    for (let i = redDims.length - 1; i >= 0; i--) lines.push(`${'  '.repeat(i + 1)}}`);
  }
  lines.push(...resultStore(k, 'acc', 'gid', `${outName}[${r.output.offset === 0 ? 'gid' : `${r.output.offset} + gid`}] = ${store('acc', r.dtype)};`), '}', '');
  return lines.join('\n');
}

function argreduce(k: ArgReduceKernel, name: string): string {
  const n = k.shape[k.axis];
  if (!(n > 0)) throw new Error(`generateMsl: ${k.op} over an empty axis ${k.axis} of [${k.shape.join(', ')}]`);
  const { kept } = splitDims(k.shape, k.input, (d) => d === k.axis);
  const outCount = sizeOf(kept.dims);
  const t = REG_TYPE[k.dtype];
  const stride = k.input.strides[k.axis];
  const at = (l: string): string => `base${stride === 0 ? '' : ` + ${stride === 1 ? l : `${l} * ${stride}`}`}`;
  const lines = [`// ${name}: ${k.op} of [${k.shape.join(', ')}] along axis ${k.axis}; ties pick the first index, the first NaN wins`, signature(name, k)];
  if (outCount === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  lines.push(`  if (gid >= ${outCount}u) return;`, ...baseLines(kept, k.input.offset));
  const float = k.dtype === 'float32';
  const better = k.op === 'argmax' ? 'mg_gt' : 'mg_lt';
  lines.push(`  ${t} best = ${load('in0', 'base', k.dtype)};`, '  int best_i = 0;');
  lines.push(`  for (int l = 1; l < ${n}${float ? ' && !mg_isnan(best)' : ''}; ++l) {`);
  lines.push(`    const ${t} v = ${load('in0', at('l'), k.dtype)};`);
  lines.push(`    if (${float ? 'mg_isnan(v) || ' : ''}${better}(v, best)) {`, '      best = v;', '      best_i = l;', '    }', '  }');
  lines.push(`  out0[${k.output.offset === 0 ? 'gid' : `${k.output.offset} + gid`}] = best_i;`, '}', '');
  return lines.join('\n');
}

/** The fallback GEMM: one thread per element of C, a plain dot product over k. */
function matmul(k: MatmulKernel, name: string): string {
  if (k.dtype !== 'float32' && k.dtype !== 'int32') throw new Error(`generateMsl: matmul is defined on float32 and int32, received ${k.dtype}`);
  const t = REG_TYPE[k.dtype];
  const count = k.batch * k.m * k.n;
  const lines = [
    `// ${name}: matmul fallback (one thread per output element), [${k.batch}] x [${k.m}, ${k.k}] @ [${k.k}, ${k.n}]`,
    signature(name, k),
  ];
  if (count === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  const [p, i, j] = ['p', 'i', 'j'];
  lines.push(`  if (gid >= ${count}u) return;`, ...decompose([k.batch, k.m, k.n], [p, i, j]));
  const [sa, sb, sc] = [k.a.strides, k.b.strides, k.c.strides];
  lines.push(`  const int a_row = ${indexExpr(k.a.offset, [sa[0], sa[1]], [p, i])};`);
  lines.push(`  const int b_col = ${indexExpr(k.b.offset, [sb[0], sb[2]], [p, j])};`);
  lines.push(`  ${t} acc = ${mslLiteral(0, k.dtype)};`);
  lines.push(`  for (int l = 0; l < ${k.k}; ++l) {`);
  lines.push(`    acc = mg_add(acc, mg_mul(in0[${indexExpr(0, [1, sa[2]], ['a_row', 'l'])}], in1[${indexExpr(0, [1, sb[1]], ['b_col', 'l'])}]));`);
  lines.push('  }', ...resultStore(k, 'acc', 'gid', `out0[${indexExpr(k.c.offset, [sc[0], sc[1], sc[2]], [p, i, j])}] = acc;`), '}', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Indexing: gather (one thread per output element), scatter (one thread per [b, p, q] line, which
// applies its updates in order, so no two threads write one element), sort (one thread per row,
// a stable insertion sort) and scan (one thread per line). Indices are clamped or skipped at run time.

const plus = (offset: number, expr: string): string => (offset === 0 ? expr : `${offset} + ${expr}`);
/** `v` clamped to [0, hi] (ternaries: the clamp builtin is not in every MSL stand-in). */
const clampExpr = (v: string, hi: number): string => `${v} < 0 ? 0 : (${v} > ${hi} ? ${hi} : ${v})`;

function gather(k: GatherKernel, name: string): string {
  const { nb, np, n, ns, nq } = k.dims;
  const count = nb * np * ns * nq;
  const lines = [`// ${name}: gather of [${nb}, ${np}, ${n}, ${nq}] at [${nb}, ${ns}] indices (clamped)`, signature(name, k)];
  if (count === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  if (n === 0) throw new Error(`generateMsl: gather from an empty axis into ${count} elements`);
  lines.push(`  if (gid >= ${count}u) return;`, ...decompose([nb, np, ns, nq], ['b', 'p', 's', 'q']));
  lines.push(`  const int raw = in1[${plus(k.indices.offset, `b * ${ns} + s`)}];`, `  const int i = ${clampExpr('raw', n - 1)};`);
  lines.push(`  out0[${plus(k.output.offset, 'int(gid)')}] = in0[${plus(k.x.offset, `((b * ${np} + p) * ${n} + i) * ${nq} + q`)}];`, '}', '');
  return lines.join('\n');
}

function scatter(k: ScatterKernel, name: string): string {
  const { nb, np, n, ns, nq } = k.dims;
  const count = nb * np * nq;
  const lines = [`// ${name}: scatter-${k.op} of [${nb}, ${np}, ${ns}, ${nq}] updates into [${nb}, ${np}, ${n}, ${nq}] (${k.mode} out-of-range indices)`, signature(name, k)];
  if (count === 0 || ns === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  if (n === 0 && k.mode === 'clip') throw new Error(`generateMsl: scatter with clip mode into an empty axis`);
  const bool = k.dtype === 'bool';
  const combine = (cur: string, u: string): string => {
    if (k.op === 'set') return u;
    if (bool) return `uchar((${cur} != 0) ${k.op === 'max' ? '||' : '&&'} (${u} != 0))`;
    return `mg_${k.op}(${cur}, ${u})`;
  };
  lines.push(`  if (gid >= ${count}u) return;`, ...decompose([nb, np, nq], ['b', 'p', 'q']));
  lines.push(`  for (int s = 0; s < ${ns}; ++s) {`, `    const int raw = in1[${plus(k.indices.offset, `b * ${ns} + s`)}];`);
  if (k.mode === 'drop') lines.push(`    if (raw < 0 || raw >= ${n}) continue;`, '    const int i = raw;');
  else lines.push(`    const int i = ${clampExpr('raw', n - 1)};`);
  lines.push(`    const int o = ${plus(k.output.offset, `((b * ${np} + p) * ${n} + i) * ${nq} + q`)};`);
  lines.push(`    out0[o] = ${combine('out0[o]', `in0[${plus(k.updates.offset, `((b * ${np} + p) * ${ns} + s) * ${nq} + q`)}]`)};`, '  }', '}', '');
  return lines.join('\n');
}

function sort(k: SortKernel, name: string): string {
  const { rows, n } = k;
  const t = BUF_TYPE[k.dtype];
  const lines = [`// ${name}: stable ${k.descending ? 'descending' : 'ascending'} sort of ${rows} rows of ${n} (NaN ${k.descending ? 'first' : 'last'}), with source positions`, signature(name, k)];
  if (rows === 0 || n === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  // before(a, b): a sorts strictly before b in ascending order (NaN is the largest float).
  const before = (a: string, b: string): string => {
    if (k.dtype === 'float32') return `(mg_isnan(${b}) ? !mg_isnan(${a}) : (!mg_isnan(${a}) && ${a} < ${b}))`;
    if (k.dtype === 'bool') return `((${a} != 0) < (${b} != 0))`;
    return `(${a} < ${b})`;
  };
  // Insertion keeps equal keys in order: shift only elements that must come after v.
  const after = k.descending ? before('prev', 'v') : before('v', 'prev');
  lines.push(`  if (gid >= ${rows}u) return;`);
  lines.push(`  const int src = ${plus(k.input.offset, `int(gid) * ${n}`)};`, `  const int dst = ${plus(k.output.offset, `int(gid) * ${n}`)};`, `  const int pos = ${plus(k.indices.offset, `int(gid) * ${n}`)};`);
  lines.push(`  for (int j = 0; j < ${n}; ++j) {`, `    const ${t} v = in0[src + j];`, '    int m = j;', '    while (m > 0) {', `      const ${t} prev = out0[dst + m - 1];`);
  lines.push(`      if (!${after}) break;`, '      out0[dst + m] = prev;', '      out1[pos + m] = out1[pos + m - 1];', '      --m;', '    }');
  lines.push('    out0[dst + m] = v;', '    out1[pos + m] = j;', '  }', '}', '');
  return lines.join('\n');
}

function scan(k: ScanKernel, name: string): string {
  const { outer, n, inner } = k;
  const t = BUF_TYPE[k.dtype];
  const lines = [`// ${name}: inclusive ${k.reverse ? 'reverse ' : ''}scan-${k.op} along the middle of [${outer}, ${n}, ${inner}], one thread per line`, signature(name, k)];
  if (outer * inner === 0 || n === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  if (k.dtype === 'bool' && (k.op === 'sum' || k.op === 'prod')) throw new Error(`generateMsl: scan ${k.op} is not defined on bool`);
  const combine = k.dtype === 'bool' ? `uchar((acc != 0) ${k.op === 'max' ? '||' : '&&'} (x != 0))` : `mg_${REDUCE_SCALAR_OP[k.op]}(acc, x)`;
  lines.push(`  if (gid >= ${outer * inner}u) return;`, ...decompose([outer, inner], ['o', 'i']));
  lines.push(`  ${t} acc = ${mslLiteral(0, k.dtype === 'bool' ? 'uint32' : k.dtype)};`);
  lines.push(`  for (int l = 0; l < ${n}; ++l) {`, `    const int at = o * ${n * inner} + ${k.reverse ? `(${n - 1} - l)` : 'l'} * ${inner} + i;`);
  lines.push(`    const ${t} x = in0[${plus(k.input.offset, 'at')}];`, `    acc = l == 0 ? x : ${combine};`, `    out0[${plus(k.output.offset, 'at')}] = acc;`, '  }', '}', '');
  return lines.join('\n');
}
