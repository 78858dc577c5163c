/**
 * @file Metal Shading Language generation: one kernel function per kernel of a plan, specialised
 * for its shapes, strides and offsets (they are compile-time constants in the source). Buffers are
 * bound inputs first, then outputs (`mslBindings`). Every kernel is launched as a 1-D grid of
 * 256-thread threadgroups (`mslLaunch`, msl-launch.ts): most run one thread per output element;
 * reductions (msl-reduce.ts) let a SIMD-group or a whole threadgroup cooperate on each output when
 * the reduced extent is long (and split a long one with few outputs into two launches,
 * `mslPasses`), and matmul (msl-matmul.ts) runs the hand-written tiled shader of
 * shaders/matmul.metal. A reduction's or matmul's epilogue runs inside it (msl-epilogue.ts). This
 * file holds the entry points and the kernels of one thread per element: elementwise, argreduce and
 * indexing. Element indices are 32-bit ints: buffers are limited to 2^31 elements.
 */

import * as fs from 'fs';
import * as path from 'path';
import { sizeOf } from '../core/shape';
import { ArgReduceKernel, ElementwiseKernel, GatherKernel, Kernel, ScanKernel, ScatterKernel, SortKernel, View } from './kernel';
import { BUF_TYPE, decompose, emitProgram, indexExpr, indexVars, load, MSL_MAX_BUFFERS, mslBindings, mslLiteral, programIndex, REDUCE_SCALAR_OP, REG_TYPE, signature } from './msl-emit';
import { MSL_DEFAULTS, MslOptions, mslPasses, MslStage } from './msl-launch';
import { matmul } from './msl-matmul';
import { elementwiseReduce, reduce } from './msl-reduce';

export { MSL_MAX_BUFFERS, MslBinding, mslBindings, mslLiteral } from './msl-emit';
export { MSL_DEFAULTS, MslLaunch, mslLaunch, MslOptions, MslPass, MslPasses, mslPasses, MslStage } from './msl-launch';

const shaderSources = new Map<string, string>();

/** A file of shaders/, read once (generated sources embed them, so Metal needs no include path). */
function shaderSource(file: string): string {
  let text = shaderSources.get(file);
  if (text === undefined) {
    let dir = __dirname;
    while (!fs.existsSync(path.join(dir, 'shaders', file))) {
      const up = path.dirname(dir);
      if (up === dir) throw new Error(`generateMsl: cannot find shaders/${file} above ${__dirname}`);
      dir = up;
    }
    text = fs.readFileSync(path.join(dir, 'shaders', file), 'utf8');
    shaderSources.set(file, text);
  }
  return text;
}

/** shaders/ops.h, which every generated source embeds first. */
export function mslOpsHeader(): string {
  return shaderSource('ops.h');
}

/**
 * A self-contained MSL source for `newLibraryWithSource`: the ops header, the hand-written shader
 * the kernel calls (shaders/matmul.metal for a matmul), and the kernel function. `stage` names a
 * pass of a two-pass reduction (`mslPasses`); without it the kernel runs in one pass.
 */
export function generateMsl(kernel: Kernel, name: string, options: MslOptions = MSL_DEFAULTS, stage?: MslStage): string {
  const shaders = kernel.kind === 'matmul' ? ['ops.h', 'matmul.metal'] : ['ops.h'];
  return `${shaders.map(shaderSource).join('\n')}\n${generateMslKernel(kernel, name, options, stage)}`;
}

/**
 * What `lower().kernels` shows of a kernel: `generateMsl`'s source, or for a two-pass reduction both
 * passes' functions (`<name>_pass1`, `<name>_pass2`), each of which the device compiles on its own.
 */
export function mslListing(kernel: Kernel, name: string, options: MslOptions = MSL_DEFAULTS): string {
  const { passes } = mslPasses(kernel, options, -1);
  if (passes.length === 1) return generateMsl(kernel, name, options);
  return [mslOpsHeader(), ...passes.map((p, i) => generateMslKernel(p.kernel, `${name}_pass${i + 1}`, options, p.stage))].join('\n');
}

/** Only the kernel function of `generateMsl` (it needs the shaders before it). */
export function generateMslKernel(kernel: Kernel, name: string, options: MslOptions = MSL_DEFAULTS, stage?: MslStage): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`generateMsl: the kernel name must be an identifier, received ${JSON.stringify(name)}`);
  const nbufs = mslBindings(kernel).length;
  if (nbufs > MSL_MAX_BUFFERS) throw new Error(`generateMsl: kernel ${name} takes ${nbufs} buffers; Metal binds at most ${MSL_MAX_BUFFERS}`);
  switch (kernel.kind) {
    case 'elementwise':
      return kernel.reduce ? elementwiseReduce(kernel, kernel.reduce, name, options, stage) : elementwise(kernel, name);
    case 'reduce':
      return reduce(kernel, name, options, stage);
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

// ---------------------------------------------------------------------------------------------
// Elementwise

function elementwise(k: ElementwiseKernel, name: string): string {
  const numel = sizeOf(k.shape);
  const at = programIndex(k, 'gid', 'i', '  ');
  const layout = at.contiguous ? 'contiguous' : `strided over [${at.dims.join(', ')}]`;
  const lines = [`// ${name}: elementwise over [${k.shape.join(', ')}] (${numel} elements, ${layout}), ${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'}`, signature(name, k)];
  if (numel === 0 || k.outputs.length === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  lines.push(`  if (gid >= ${numel}u) return;`, ...at.lines);
  const program = emitProgram(k, lines, at.index, '  ');
  k.outputs.forEach((_, o) => program.store(o));
  lines.push('}', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Argreduce: one thread per output element scans its line.

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
