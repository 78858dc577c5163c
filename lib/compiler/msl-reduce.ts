/**
 * @file MSL generation of reductions, plain (`ReduceKernel`) and fused into an elementwise program
 * (`ElementwiseKernel.reduce`). `kernelReductionLayout` (msl-launch.ts) decides from the shapes how
 * many threads cooperate on each output; each thread folds its share of the reduced extent, the
 * lanes of an output combine their partials (SIMD-group functions, or a tree in threadgroup memory),
 * and the one thread left holding the final value stores it and runs the kernel's epilogue on it.
 * Pass 1 of a two-pass reduction (`mslPasses`) is the threadgroup form over interleaved slices of
 * the extent, storing one partial per threadgroup; pass 2 is a plain reduction of the partials.
 */

import { DType } from '../core/dtype';
import { ElementwiseKernel, ElementwiseReduce, ReduceKernel } from './kernel';
import { decompose, emitProgram, identity, indexExpr, indexVars, load, programViews, REDUCE_SCALAR_OP, REG_TYPE, signature, store } from './msl-emit';
import { resultStore } from './msl-epilogue';
import { accKind, COLUMN_LANES, GROUP_SIZE, kernelReductionLayout, MslOptions, MslStage, reductionLaunch, ReductionLayout, SIMD_WIDTH, usesSimd } from './msl-launch';

export function reduce(k: ReduceKernel, name: string, options: MslOptions, stage?: MslStage): string {
  if (k.dtype === 'bool' && (k.op === 'sum' || k.op === 'prod')) throw new Error(`generateMsl: reduce ${k.op} is not defined on bool`);
  return reduction(
    {
      name,
      kernel: k,
      what: stage?.pass === 2 ? `pass 2 of 2: reduce_${k.op} of the [${k.shape.join(', ')}] partials of pass 1` : `reduce_${k.op} of [${k.shape.join(', ')}] over axes [${k.axes.join(', ')}]`,
      op: k.op,
      dtype: k.dtype,
      offsets: [k.input.offset],
      output: { name: 'out0', offset: k.output.offset },
      element: (_lines, index) => load('in0', index(0), k.dtype),
    },
    options,
    stage,
  );
}

/**
 * An elementwise program with a fused reduction: the program runs once at every element of the
 * shape (storing its outputs there), by whichever thread folds that element into its output.
 */
export function elementwiseReduce(k: ElementwiseKernel, r: ElementwiseReduce, name: string, options: MslOptions, stage?: MslStage): string {
  if (r.dtype === 'bool' && (r.op === 'sum' || r.op === 'prod')) throw new Error(`generateMsl: reduce ${r.op} is not defined on bool`);
  return reduction(
    {
      name,
      kernel: k,
      what: `elementwise over [${k.shape.join(', ')}] (${k.instrs.length} instruction${k.instrs.length === 1 ? '' : 's'}) fused into reduce_${r.op} over axes [${r.axes.join(', ')}]`,
      op: r.op,
      dtype: r.dtype,
      offsets: programViews(k).map((v) => v.offset),
      // The reduction's output is bound after the program's outputs.
      output: { name: `out${k.outputs.length}`, offset: r.output.offset },
      element: (lines, index, pad) => {
        const program = emitProgram(k, lines, index, pad);
        k.outputs.forEach((_, o) => program.store(o));
        if (program.typeOf(r.reg) !== r.dtype) throw new Error(`generateMsl: the reduction is ${r.dtype} but reads r${r.reg}, which holds ${program.typeOf(r.reg)}`);
        return program.nameOf(r.reg);
      },
    },
    options,
    stage,
  );
}

/** One reduction kernel to generate: plain (`element` loads the input) or fused (runs the program). */
interface ReductionSource {
  name: string;
  kernel: ReduceKernel | ElementwiseKernel;
  what: string;
  op: ReduceKernel['op'];
  dtype: DType;
  /** Element offset of each view the layout's strides walk. */
  offsets: number[];
  output: { name: string; offset: number };
  /** Emits the work at one element (view v at `index(v)`) and returns the value it contributes. */
  element(lines: string[], index: (v: number) => string, pad: string): string;
}

/** Bools accumulate as uint 0/1 (`accKind`): max is or, min is and. */
const accIdentity = (op: ReduceKernel['op'], t: DType): string => (t === 'bool' ? (op === 'min' ? '1u' : '0u') : identity(op, t));

/**
 * `stage` pass 1 (of a two-pass reduction, `mslPasses`): `split` threadgroups per output fold
 * interleaved slices of its extent, and each stores its partial at [group] of the output, without
 * the epilogue (pass 2, a plain reduction of the partials, runs it).
 */
function reduction(src: ReductionSource, options: MslOptions, stage?: MslStage): string {
  const { op, dtype, name } = src;
  const split = stage?.pass === 1 ? stage.split : 0;
  const one = kernelReductionLayout(src.kernel);
  const l: ReductionLayout = split ? { ...one, lanes: GROUP_SIZE } : one;
  const simd = usesSimd(l, options);
  const T = REG_TYPE[accKind(dtype)];
  const combined = simd ? 'combined by SIMD-group functions' : 'combined by a tree in threadgroup memory';
  const strategy = split
    ? `pass 1 of 2: ${split} threadgroups (${GROUP_SIZE} threads) per output fold interleaved slices of its extent into ${split} partials, ${combined}`
    : l.lanes === 1
      ? 'one thread per output'
      : l.lanes === COLUMN_LANES
        ? `columns: ${SIMD_WIDTH} neighbouring outputs per threadgroup, each folded by ${COLUMN_LANES} threads (one per SIMD-group), combined in threadgroup memory`
        : `${l.lanes === SIMD_WIDTH ? 'one SIMD-group' : `one threadgroup (${GROUP_SIZE} threads)`} per output, ${combined}`;
  const params =
    l.lanes === 1
      ? ['uint gid [[thread_position_in_grid]]']
      : [
          ...(reductionLaunch(l, options).threadgroupMemory.length > 0 ? [`threadgroup ${T}* partial [[threadgroup(0)]]`] : []),
          'uint group [[threadgroup_position_in_grid]]',
          ...(simd && l.lanes === SIMD_WIDTH ? [] : ['uint tid [[thread_position_in_threadgroup]]']),
          ...(simd ? ['uint sg [[simdgroup_index_in_threadgroup]]', 'uint lane [[thread_index_in_simdgroup]]'] : []),
        ];
  const lines = [`// ${name}: ${src.what}, ${strategy}`, signature(name, src.kernel, params)];
  if (l.outputs === 0) return [...lines, '  // nothing to compute', '}', ''].join('\n');
  const nviews = src.offsets.length;
  const oVars = indexVars(l.kept.dims.length, 'o');
  const jVars = indexVars(l.red.dims.length, 'j');
  const base = (v: number): string => (nviews === 1 ? 'base' : `base${v}`);
  const index = (v: number): string => {
    const at = indexExpr(0, l.red.strides[v], jVars);
    return at === '0' ? base(v) : `${base(v)} + ${at}`;
  };
  const value = (pad: string): string => {
    const x = src.element(lines, index, pad);
    return dtype === 'bool' ? `uint(${x})` : x;
  };
  // The final value x of output o: its store, then the epilogue (unpadded statements); in pass 1
  // the threadgroup's partial.
  const result = (o: string, x: string): string[] => {
    if (split) return [`${src.output.name}[group] = ${store(x, dtype)};`];
    const at = src.output.offset === 0 ? o : `${src.output.offset} + ${o}`;
    return resultStore(src.kernel, dtype === 'bool' ? `bool(${x})` : x, o, `${src.output.name}[${at}] = ${store(x, dtype)};`, '');
  };
  const fold = (pad: string, x: string): string => `${pad}acc = mg_${REDUCE_SCALAR_OP[op]}(acc, ${x});`;
  const bases = (): string[] => src.offsets.map((offset, v) => `  const int ${base(v)} = ${indexExpr(offset, l.kept.strides[v], oVars)};`);

  if (l.lanes === 1) {
    lines.push(`  if (gid >= ${l.outputs}u) return;`, ...decompose(l.kept.dims, oVars), ...bases(), `  ${T} acc = ${accIdentity(op, dtype)};`);
    if (l.extent > 0) {
      l.red.dims.forEach((n, d) => lines.push(`${'  '.repeat(d + 1)}for (int ${jVars[d]} = 0; ${jVars[d]} < ${n}; ++${jVars[d]}) {`));
      const pad = '  '.repeat(l.red.dims.length + 1);
      lines.push(fold(pad, value(pad)));
      for (let d = l.red.dims.length - 1; d >= 0; d--) lines.push(`${'  '.repeat(d + 1)}}`);
    }
    lines.push(...guarded('', result('gid', 'acc'), '  '), '}', '');
    return lines.join('\n');
  }

  // Several threads per output: each folds every `lanes`-th element of its output's extent.
  const perGroup = GROUP_SIZE / l.lanes;
  const column = l.lanes === COLUMN_LANES;
  const first = l.lanes === GROUP_SIZE ? 'tid' : column ? 'slice' : 'lane';
  if (split) lines.push(`  const uint o = group / ${split}u;`, `  const uint part = group % ${split}u;`);
  else if (l.lanes === GROUP_SIZE) lines.push('  const uint o = group;');
  else if (column) lines.push(`  const uint o = group * ${perGroup}u + tid % ${perGroup}u;`, `  const uint slice = tid / ${perGroup}u;`);
  else if (simd) lines.push(`  const uint o = group * ${perGroup}u + sg;`, `  if (o >= ${l.outputs}u) return;  // the whole SIMD-group: no barrier follows`);
  else lines.push(`  const uint o = group * ${perGroup}u + tid / ${SIMD_WIDTH}u;`, `  const uint lane = tid % ${SIMD_WIDTH}u;`);
  // Forms with barriers keep threads past the last output alive for them, folding nothing.
  const extent = l.lanes !== GROUP_SIZE && !simd && l.outputs % perGroup !== 0 ? 'extent' : `${l.extent}u`;
  if (extent === 'extent') lines.push(`  const uint extent = o < ${l.outputs}u ? ${l.extent}u : 0u;`);
  lines.push(...decompose(l.kept.dims, oVars, 'o'), ...bases(), `  ${T} acc = ${accIdentity(op, dtype)};`);
  const start = split ? `part * ${GROUP_SIZE}u + tid` : first;
  lines.push(`  for (uint j = ${start}; j < ${extent}; j += ${split ? split * GROUP_SIZE : l.lanes}u) {`, ...decompose(l.red.dims, jVars, 'j', '    '));
  lines.push(fold('    ', value('    ')), '  }');
  const guard = extent === 'extent' ? `o < ${l.outputs}u` : '';
  const partials = { op, kind: accKind(dtype), combine: `mg_${REDUCE_SCALAR_OP[op]}`, identity: accIdentity(op, dtype) };
  lines.push(...combineLines(l, partials, simd, first, guard, (x) => result('o', x)), '}', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The combining stage

/** How the partials of a reduction combine: `combine` is the `mg_<op>` function, `identity` its unit. */
interface Fold {
  op: ReduceKernel['op'];
  /** The accumulator's kind (`accKind` of the reduction's dtype). */
  kind: DType;
  combine: string;
  identity: string;
}

/** `x` combined over the lanes of a SIMD-group; lane 0 holds the result (every lane, for builtins). */
function simdCombine(op: ReduceKernel['op'], t: DType, x: string, pad: string): string {
  // Metal leaves NaN handling of simd_max/simd_min on floats open: fold those with mg_max/mg_min.
  if (t === 'float32' && (op === 'max' || op === 'min')) return `${pad}for (ushort d = ${SIMD_WIDTH / 2}; d > 0; d /= 2) ${x} = mg_${op}(${x}, simd_shuffle_down(${x}, d));`;
  const fn = { sum: 'simd_sum', prod: 'simd_product', max: 'simd_max', min: 'simd_min' }[op];
  return `${pad}${x} = ${fn}(${x});`;
}

/** The statements `body` at indentation `pad`, run only if `cond` holds ('' for always). */
function guarded(cond: string, body: string[], pad: string): string[] {
  if (!cond) return body.map((s) => `${pad}${s}`);
  if (body.length === 1) return [`${pad}if (${cond}) ${body[0]}`];
  return [`${pad}if (${cond}) {`, ...body.map((s) => `${pad}  ${s}`), `${pad}}`];
}

/**
 * After each thread's fold: the lanes of an output combine their partials and the one holding the
 * final value x runs `result(x)` (its store and epilogue statements), if `guard` (a condition, ''
 * for none) holds. `first` names the thread's index among its output's lanes; the kernel names its
 * partials `partial` and its positions `tid`, `sg`, `lane` (and `slice` in the column form).
 */
function combineLines(l: ReductionLayout, fold: Fold, simd: boolean, first: string, guard: string, result: (x: string) => string[]): string[] {
  const { op, kind: t, combine } = fold;
  const perGroup = GROUP_SIZE / l.lanes;
  if (l.lanes === COLUMN_LANES) {
    return [
      '  partial[tid] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (slice == 0) {',
      `    for (uint s = 1; s < ${COLUMN_LANES}u; ++s) acc = ${combine}(acc, partial[s * ${perGroup}u + tid]);`,
      ...guarded(guard, result('acc'), '    '),
      '  }',
    ];
  }
  if (simd && l.lanes === SIMD_WIDTH) return [simdCombine(op, t, 'acc', '  '), ...guarded('lane == 0', result('acc'), '  ')];
  if (simd) {
    // Each SIMD-group combines its lanes, then the first SIMD-group combines the groups' partials.
    return [
      simdCombine(op, t, 'acc', '  '),
      '  if (lane == 0) partial[sg] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (sg == 0) {',
      `    acc = lane < ${GROUP_SIZE / SIMD_WIDTH}u ? partial[lane] : ${fold.identity};`,
      simdCombine(op, t, 'acc', '    '),
      ...guarded('lane == 0', result('acc'), '    '),
      '  }',
    ];
  }
  // A tree over the lanes' partials, halving the active lanes at each barrier.
  return [
    '  partial[tid] = acc;',
    `  for (uint s = ${l.lanes / 2}u; s > 0; s /= 2) {`,
    '    threadgroup_barrier(mem_flags::mem_threadgroup);',
    `    if (${first} < s) partial[tid] = ${combine}(partial[tid], partial[tid + s]);`,
    '  }',
    ...guarded(`${first} == 0${guard ? ` && ${guard}` : ''}`, result('partial[tid]'), '  '),
  ];
}
