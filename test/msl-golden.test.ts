/**
 * @file Golden tests of the MSL generator: the exact source of representative kernels (a fused
 * strided elementwise kernel, reductions in each form, the matmul entry into the tiled shader, and
 * epilogues in each of them), the
 * binding and launch helpers, literals, and the validation errors for malformed kernels.
 */

import { jit, makeJaxpr, nn, numpy as np, NDArray } from 'metalgrad';
import { ShapedArray } from '../lib/core/aval';
import { DTYPES, SHORT_NAME } from '../lib/core/dtype';
import { fuse } from '../lib/compiler/fusion';
import { ElementwiseKernel, Kernel, ReduceKernel, SCALAR_OPS, SOURCE_KIND_OPS } from '../lib/compiler/kernel';
import { generateMsl, generateMslKernel, MSL_DEFAULTS, mslBindings, mslLaunch, mslLiteral, mslOpsHeader, mslPasses } from '../lib/compiler/msl';
import { primitiveDef } from '../lib/primitives';

const A = (shape: number[]): ShapedArray => new ShapedArray(shape, 'float32');
const source = (lines: string[]): string => `${lines.join('\n')}\n`;

/** The one fused kernel of `f` applied to `args`. */
function fusedKernel(f: (...xs: NDArray[]) => NDArray, ...args: NDArray[]): Kernel {
  const steps = fuse(makeJaxpr(f)(...args).jaxpr);
  expect(steps).toHaveLength(1);
  if (steps[0].kind !== 'fused') throw new Error('expected one fused kernel');
  return steps[0].group.kernel;
}

function broadcastAddKernel(): Kernel {
  const steps = fuse(makeJaxpr((x: NDArray, y: NDArray) => np.add(x, y))(np.zeros([4, 3]), np.zeros([3])).jaxpr);
  expect(steps).toHaveLength(1);
  if (steps[0].kind !== 'fused') throw new Error('expected broadcast_in_dim and add to fuse');
  return steps[0].group.kernel;
}

const reduceKernel = (): Kernel => primitiveDef('reduce_sum').lower([A([6, 7, 5])], [A([6, 5])], { axes: [1] }).kernels[0];
const longRowsKernel = (): Kernel => primitiveDef('reduce_max').lower([A([4, 3000])], [A([4])], { axes: [1] }).kernels[0];
const mediumRowsKernel = (): Kernel => primitiveDef('reduce_sum').lower([A([100, 50])], [A([100])], { axes: [1] }).kernels[0];
const matmulKernel = (): Kernel =>
  primitiveDef('dot_general').lower([A([2, 3, 4]), A([2, 4, 5])], [A([2, 3, 5])], { lhsContract: [2], rhsContract: [1], lhsBatch: [0], rhsBatch: [0] }).kernels[0];

describe('generated source', () => {
  test('a fused broadcast add takes the strided path', () => {
    expect(generateMslKernel(broadcastAddKernel(), 'broadcast_add')).toBe(source([
      '// broadcast_add: elementwise over [4, 3] (12 elements, strided over [4, 3]), 2 instructions',
      'kernel void broadcast_add(',
      '    device const float* in0 [[buffer(0)]],',
      '    device const float* in1 [[buffer(1)]],',
      '    device float* out0 [[buffer(2)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 12u) return;',
      '  const int i0 = int(gid / 3u);',
      '  const int i1 = int(gid % 3u);',
      '  const float r0 = in0[i1];',
      '  const float r1 = in1[i0 * 3 + i1];',
      '  const float r2 = mg_copy(r0);',
      '  const float r3 = mg_add(r1, r2);',
      '  out0[i0 * 3 + i1] = r3;',
      '}',
    ]));
  });

  test('a short reduction loops over the reduced axes, one thread per output', () => {
    expect(generateMslKernel(reduceKernel(), 'sum_axis1')).toBe(source([
      '// sum_axis1: reduce_sum of [6, 7, 5] over axes [1], one thread per output',
      'kernel void sum_axis1(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 30u) return;',
      '  const int o0 = int(gid / 5u);',
      '  const int o1 = int(gid % 5u);',
      '  const int base = o0 * 35 + o1;',
      '  float acc = 0.0f;',
      '  for (int j0 = 0; j0 < 7; ++j0) {',
      '    acc = mg_add(acc, in0[base + j0 * 5]);',
      '  }',
      '  out0[gid] = acc;',
      '}',
    ]));
  });

  test('a reduction with an epilogue runs it on the accumulator, writing over the result it replaces', () => {
    const k = fusedKernel((x) => np.mean(x, { axis: 1 }), np.zeros([4, 6]));
    // The sum is written where the mean goes (bound twice), so only the mean is stored.
    expect(mslBindings(k)).toEqual([{ arg: 0, dtype: 'float32', writes: false }, { arg: 1, dtype: 'float32', writes: true }, { arg: 1, dtype: 'float32', writes: true }]);
    expect(generateMslKernel(k, 'mean_rows')).toBe(source([
      '// mean_rows: reduce_sum of [4, 6] over axes [1], one thread per output',
      'kernel void mean_rows(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    device float* out1 [[buffer(2)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 4u) return;',
      '  const int o0 = int(gid);',
      '  const int base = o0 * 6;',
      '  float acc = 0.0f;',
      '  for (int j0 = 0; j0 < 6; ++j0) {',
      '    acc = mg_add(acc, in0[base + j0]);',
      '  }',
      '  // epilogue: 2 instructions on the result',
      '  const float e0 = acc;',
      '  const float e1 = 6.0f;',
      '  const float e2 = mg_div(e0, e1);',
      '  out1[gid] = e2;',
      '}',
    ]));
  });

  test('cooperative reductions run the epilogue once per output, in the thread holding the combined value', () => {
    const meanRows = fusedKernel((x) => np.mean(x, { axis: 1 }), np.zeros([4, 3000]));
    const epilogue = (pad: string, value: string, n: string): string[] =>
      [`// epilogue: 2 instructions on the result`, `const float e0 = ${value};`, `const float e1 = ${n};`, 'const float e2 = mg_div(e0, e1);', 'out1[o] = e2;'].map((l) => pad + l);
    /** The source ends with `lines`. */
    const expectTail = (src: string, lines: string[]): void => expect(src.split('\n').slice(-lines.length - 1).join('\n')).toBe(source(lines));
    // SIMD-group functions: lane 0 of the first SIMD-group, after the second combine.
    expectTail(generateMslKernel(meanRows, 'mean_rows'), [
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (sg == 0) {',
      '    acc = lane < 8u ? partial[lane] : 0.0f;',
      '    acc = simd_sum(acc);',
      '    if (lane == 0) {',
      ...epilogue('      ', 'acc', '3e+3f'),
      '    }',
      '  }',
      '}',
    ]);
    // The tree: thread 0 reads the combined partial.
    expectTail(generateMslKernel(meanRows, 'mean_rows', { simdgroup: false }), [
      '  if (tid == 0) {',
      ...epilogue('    ', 'partial[tid]', '3e+3f'),
      '  }',
      '}',
    ]);
    // A SIMD-group per output, the baseline form: lane 0 of each output that exists.
    const meanMedium = fusedKernel((x) => np.mean(x, { axis: 1 }), np.zeros([100, 50]));
    expectTail(generateMslKernel(meanMedium, 'mean_medium', { simdgroup: false }), [
      '  if (lane == 0 && o < 100u) {',
      ...epilogue('    ', 'partial[tid]', '5e+1f'),
      '  }',
      '}',
    ]);
    // Columns: the first slice of each column, for the columns that exist.
    const meanColumns = fusedKernel((x) => np.mean(x, { axis: 0 }), np.zeros([1000, 100]));
    expectTail(generateMslKernel(meanColumns, 'mean_columns'), [
      '  if (slice == 0) {',
      '    for (uint s = 1; s < 8u; ++s) acc = mg_add(acc, partial[s * 32u + tid]);',
      '    if (o < 100u) {',
      ...epilogue('      ', 'acc', '1e+3f'),
      '    }',
      '  }',
      '}',
    ]);
  });

  test('a matmul with an epilogue runs it in the store hook, on each element of C', () => {
    // relu(x @ w + b): C is not stored on its own; the epilogue writes over it (out0 and out1 are one buffer).
    const dense = fusedKernel((x, w, b) => nn.relu(np.add(np.matmul(x, w), b)), np.zeros([5, 7]), np.zeros([7, 3]), np.zeros([3]));
    expect(mslBindings(dense).map((b) => [b.arg, b.writes])).toEqual([[0, false], [1, false], [2, false], [3, true], [3, true]]);
    expect(generateMslKernel(dense, 'dense')).toBe(source([
      '// dense: matmul [1] x [5, 7] @ [7, 3] by the hand-written tiled shader shaders/matmul.metal (64x64 tiles of C, 256 threads each)',
      '// The store hook: element C[p, i, j] is acc, which the epilogue then runs on.',
      'struct dense_store {',
      '  device const float* in2;',
      '  device float* out0;',
      '  device float* out1;',
      '  void operator()(int p, int i, int j, float acc) const {',
      '    const uint flat = uint((p * 5 + i) * 3 + j);',
      '    // epilogue: 5 instructions on the result',
      '    const int ei0 = int(flat / 3u);',
      '    const int ei1 = int(flat % 3u);',
      '    const float e0 = in2[ei1];',
      '    const float e1 = acc;',
      '    const float e2 = mg_copy(e0);',
      '    const float e3 = mg_add(e1, e2);',
      '    const float e2_1 = 0.0f;',
      '    const bool e4 = mg_le(e3, e2_1);',
      '    const float e5 = mg_select(e4, e2_1, e3);',
      '    out1[ei0 * 3 + ei1] = e5;',
      '  }',
      '};',
      'kernel void dense(',
      '    device const float* in0 [[buffer(0)]],',
      '    device const float* in1 [[buffer(1)]],',
      '    device const float* in2 [[buffer(2)]],',
      '    device float* out0 [[buffer(3)]],',
      '    device float* out1 [[buffer(4)]],',
      '    threadgroup float* a_tile [[threadgroup(0)]],',
      '    threadgroup float* b_tile [[threadgroup(1)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint tid [[thread_position_in_threadgroup]]) {',
      '  const MgMatmul shape = {1, 5, 3, 7, 0, 0, 7, 1, 0, 0, 3, 1};',
      '  mg_matmul(in0, in1, shape, a_tile, b_tile, group, tid, dense_store{in2, out0, out1});',
      '}',
    ]));
  });

  test('a long reduction: a threadgroup per output, SIMD-group functions, then partials in threadgroup memory', () => {
    // Float max folds with mg_max over simd_shuffle_down: simd_max leaves NaN handling open.
    expect(generateMslKernel(longRowsKernel(), 'max_rows')).toBe(source([
      '// max_rows: reduce_max of [4, 3000] over axes [1], one threadgroup (256 threads) per output, combined by SIMD-group functions',
      'kernel void max_rows(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    threadgroup float* partial [[threadgroup(0)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint tid [[thread_position_in_threadgroup]],',
      '    uint sg [[simdgroup_index_in_threadgroup]],',
      '    uint lane [[thread_index_in_simdgroup]]) {',
      '  const uint o = group;',
      '  const int o0 = int(o);',
      '  const int base = o0 * 3000;',
      '  float acc = -INFINITY;',
      '  for (uint j = tid; j < 3000u; j += 256u) {',
      '    const int j0 = int(j);',
      '    acc = mg_max(acc, in0[base + j0]);',
      '  }',
      '  for (ushort d = 16; d > 0; d /= 2) acc = mg_max(acc, simd_shuffle_down(acc, d));',
      '  if (lane == 0) partial[sg] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (sg == 0) {',
      '    acc = lane < 8u ? partial[lane] : -INFINITY;',
      '    for (ushort d = 16; d > 0; d /= 2) acc = mg_max(acc, simd_shuffle_down(acc, d));',
      '    if (lane == 0) out0[o] = acc;',
      '  }',
      '}',
    ]));
    expect(mslLaunch(longRowsKernel())).toEqual({ groups: 4, groupSize: 256, simdWidth: 32, threadgroupMemory: [32] });
  });

  test('without SIMD-group functions the lanes combine by a tree in threadgroup memory', () => {
    const src = generateMslKernel(longRowsKernel(), 'max_rows', { simdgroup: false });
    expect(src.split('\n').slice(-10).join('\n')).toBe(source([
      '    acc = mg_max(acc, in0[base + j0]);',
      '  }',
      '  partial[tid] = acc;',
      '  for (uint s = 128u; s > 0; s /= 2) {',
      '    threadgroup_barrier(mem_flags::mem_threadgroup);',
      '    if (tid < s) partial[tid] = mg_max(partial[tid], partial[tid + s]);',
      '  }',
      '  if (tid == 0) out0[o] = partial[tid];',
      '}',
    ]));
    expect(src).not.toMatch(/simd_|sg \[\[|lane \[\[/);
    expect(mslLaunch(longRowsKernel(), { simdgroup: false })).toEqual({ groups: 4, groupSize: 256, simdWidth: 0, threadgroupMemory: [1024] });
  });

  test('a medium reduction: a SIMD-group per output, eight outputs per threadgroup', () => {
    expect(generateMslKernel(mediumRowsKernel(), 'sum_rows')).toBe(source([
      '// sum_rows: reduce_sum of [100, 50] over axes [1], one SIMD-group per output, combined by SIMD-group functions',
      'kernel void sum_rows(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint sg [[simdgroup_index_in_threadgroup]],',
      '    uint lane [[thread_index_in_simdgroup]]) {',
      '  const uint o = group * 8u + sg;',
      '  if (o >= 100u) return;  // the whole SIMD-group: no barrier follows',
      '  const int o0 = int(o);',
      '  const int base = o0 * 50;',
      '  float acc = 0.0f;',
      '  for (uint j = lane; j < 50u; j += 32u) {',
      '    const int j0 = int(j);',
      '    acc = mg_add(acc, in0[base + j0]);',
      '  }',
      '  acc = simd_sum(acc);',
      '  if (lane == 0) out0[o] = acc;',
      '}',
    ]));
    expect(mslLaunch(mediumRowsKernel())).toEqual({ groups: 13, groupSize: 256, simdWidth: 32, threadgroupMemory: [] });
    // The baseline form keeps the SIMD-groups past the last output for the barriers, doing nothing.
    const tree = generateMslKernel(mediumRowsKernel(), 'sum_rows', { simdgroup: false });
    expect(tree).toContain('  const uint extent = o < 100u ? 50u : 0u;\n');
    expect(tree).toContain('  if (lane == 0 && o < 100u) out0[o] = partial[tid];\n');
  });

  test('the strategy follows the shapes', () => {
    const lanes = (shape: number[], axes: number[]) => /(columns|one threadgroup|one SIMD-group|one thread)/.exec(generateMslKernel(primitiveDef('reduce_sum').lower([A(shape)], [A(shape.filter((_, d) => !axes.includes(d)))], { axes }).kernels[0], 'k'))?.[1].replace('one ', '');
    // Column reductions: SIMD-groups read 32 neighbouring outputs; with very many outputs, a thread each.
    expect(lanes([2000, 1024], [0])).toBe('columns');
    expect(lanes([50, 4, 40], [0])).toBe('columns');
    expect(lanes([40, 9000], [0])).toBe('thread');
    expect(lanes([2000, 8], [0])).toBe('threadgroup');
    expect(lanes([64, 1024], [1])).toBe('threadgroup');
    expect(lanes([1024, 100], [1])).toBe('SIMD-group');
    expect(lanes([1024, 31], [1])).toBe('thread');
    expect(lanes([40, 30, 50], [0, 2])).toBe('threadgroup');
  });

  test('the column form: neighbouring threads take neighbouring outputs, partials meet in threadgroup memory', () => {
    const k = primitiveDef('reduce_sum').lower([A([1000, 100])], [A([100])], { axes: [0] }).kernels[0];
    expect(generateMslKernel(k, 'cols')).toBe(source([
      '// cols: reduce_sum of [1000, 100] over axes [0], columns: 32 neighbouring outputs per threadgroup, each folded by 8 threads (one per SIMD-group), combined in threadgroup memory',
      'kernel void cols(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    threadgroup float* partial [[threadgroup(0)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint tid [[thread_position_in_threadgroup]]) {',
      '  const uint o = group * 32u + tid % 32u;',
      '  const uint slice = tid / 32u;',
      '  const uint extent = o < 100u ? 1000u : 0u;',
      '  const int o0 = int(o);',
      '  const int base = o0;',
      '  float acc = 0.0f;',
      '  for (uint j = slice; j < extent; j += 8u) {',
      '    const int j0 = int(j);',
      '    acc = mg_add(acc, in0[base + j0 * 100]);',
      '  }',
      '  partial[tid] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (slice == 0) {',
      '    for (uint s = 1; s < 8u; ++s) acc = mg_add(acc, partial[s * 32u + tid]);',
      '    if (o < 100u) out0[o] = acc;',
      '  }',
      '}',
    ]));
    expect(generateMslKernel(k, 'cols', { simdgroup: false })).toBe(generateMslKernel(k, 'cols'));
    expect(mslLaunch(k)).toEqual({ groups: 4, groupSize: 256, simdWidth: 0, threadgroupMemory: [1024] });
  });

  test('a matmul calls the hand-written tiled shader, which the source embeds', () => {
    // The shader hands each element of C to the generated store hook, which knows where C lives.
    expect(generateMslKernel(matmulKernel(), 'matmul_batched')).toBe(source([
      '// matmul_batched: matmul [2] x [3, 4] @ [4, 5] by the hand-written tiled shader shaders/matmul.metal (64x64 tiles of C, 256 threads each)',
      '// The store hook: element C[p, i, j] is acc.',
      'struct matmul_batched_store {',
      '  device float* out0;',
      '  void operator()(int p, int i, int j, float acc) const {',
      '    out0[p * 15 + i * 5 + j] = acc;',
      '  }',
      '};',
      'kernel void matmul_batched(',
      '    device const float* in0 [[buffer(0)]],',
      '    device const float* in1 [[buffer(1)]],',
      '    device float* out0 [[buffer(2)]],',
      '    threadgroup float* a_tile [[threadgroup(0)]],',
      '    threadgroup float* b_tile [[threadgroup(1)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint tid [[thread_position_in_threadgroup]]) {',
      '  const MgMatmul shape = {2, 3, 5, 4, 0, 12, 4, 1, 0, 20, 5, 1};',
      '  mg_matmul(in0, in1, shape, a_tile, b_tile, group, tid, matmul_batched_store{out0});',
      '}',
    ]));
    const src = generateMsl(matmulKernel(), 'matmul_batched');
    expect(src).toContain('inline void mg_matmul(device const T* a, device const T* b, const MgMatmul s');
    expect(src.indexOf('#define MG_MATMUL_METAL')).toBeLessThan(src.indexOf('kernel void matmul_batched('));
    expect(mslLaunch(matmulKernel())).toEqual({ groups: 2, groupSize: 256, simdWidth: 0, threadgroupMemory: [4096, 4096] });
    // lower().kernels names the shader of a matmul, and its msl is what the Metal backend compiles.
    const [k] = jit((a: NDArray, b: NDArray) => np.matmul(a, b)).lower(np.zeros([3, 4]), np.zeros([4, 5])).kernels;
    expect(k.msl).toMatch(/^\/\/ \w+: matmul \[1\] x \[3, 4\] @ \[4, 5\] by the hand-written tiled shader shaders\/matmul\.metal/m);
    expect(k.msl).toContain('inline void mg_matmul(');
  });

  test('a contiguous kernel indexes by thread id; constants and bool buffers are spelled out', () => {
    const k: ElementwiseKernel = {
      kind: 'elementwise',
      shape: [2, 5],
      inputs: [{ dtype: 'int32', view: { arg: 0, offset: 10, strides: [5, 1] } }, { dtype: 'bool', view: { arg: 1, offset: 0, strides: [0, 0] } }],
      outputs: [{ dtype: 'bool', view: { arg: 2, offset: 0, strides: [5, 1] }, reg: 4 }, { dtype: 'int32', view: { arg: 3, offset: 0, strides: [5, 1] }, reg: 5 }],
      nregs: 6,
      instrs: [
        { op: 'const', kind: 'int32', dst: 2, a: 0, b: -1, c: -1 },
        { op: 'div', kind: 'int32', dst: 3, a: 0, b: 2, c: -1 },
        { op: 'lt', kind: 'int32', dst: 4, a: 3, b: 2, c: -1 },
        { op: 'select', kind: 'int32', dst: 5, a: 1, b: 3, c: 0 },
      ],
      consts: [-2147483648],
    };
    expect(generateMslKernel(k, 'mixed')).toBe(source([
      '// mixed: elementwise over [2, 5] (10 elements, contiguous), 4 instructions',
      'kernel void mixed(',
      '    device const int* in0 [[buffer(0)]],',
      '    device const uchar* in1 [[buffer(1)]],',
      '    device uchar* out0 [[buffer(2)]],',
      '    device int* out1 [[buffer(3)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 10u) return;',
      '  const int r0 = in0[10 + gid];',
      '  const bool r1 = in1[0] != 0;',
      '  const int r2 = (-2147483647 - 1);',
      '  const int r3 = mg_div(r0, r2);',
      '  const bool r4 = mg_lt(r3, r2);',
      '  const int r5 = mg_select(r1, r3, r0);',
      '  out0[gid] = uchar(r4);',
      '  out1[gid] = r5;',
      '}',
    ]));
    expect(mslBindings(k)).toEqual([
      { arg: 0, dtype: 'int32', writes: false },
      { arg: 1, dtype: 'bool', writes: false },
      { arg: 2, dtype: 'bool', writes: true },
      { arg: 3, dtype: 'int32', writes: true },
    ]);
    expect(mslLaunch(k)).toEqual({ groups: 1, groupSize: 256, simdWidth: 0, threadgroupMemory: [] });
  });

  test('generateMsl embeds shaders/ops.h once, before the kernel', () => {
    const src = generateMsl(reduceKernel(), 'sum_axis1');
    expect(src.startsWith(mslOpsHeader())).toBe(true);
    expect(src.endsWith(generateMslKernel(reduceKernel(), 'sum_axis1'))).toBe(true);
    expect(src.match(/#include <metal_stdlib>/g)).toHaveLength(1);
  });

  test('shaders/ops.h defines mg_<op> for every scalar op of the ABI (the name is the contract)', () => {
    // Convert-form ops have one function per destination kind (bitcasts have no bool kind).
    const kinds = (op: string) => DTYPES.filter((d) => op === 'convert' || d !== 'bool');
    const names = SCALAR_OPS.filter((op) => op !== 'const').flatMap((op) => (SOURCE_KIND_OPS.has(op) ? kinds(op).map((d) => `mg_${op}_${SHORT_NAME[d]}`) : [`mg_${op}`]));
    const header = mslOpsHeader();
    const missing = names.filter((n) => !new RegExp(`(inline \\w+ |MG_COMPARE\\()${n}\\b`).test(header));
    expect(missing).toEqual([]);
  });

  test('bindings and launches of reductions and matmul', () => {
    expect(mslBindings(reduceKernel()).map((b) => b.arg)).toEqual([0, 1]);
    expect(mslLaunch(reduceKernel())).toEqual({ groups: 1, groupSize: 256, simdWidth: 0, threadgroupMemory: [] });
    expect(mslBindings(matmulKernel()).map((b) => [b.arg, b.writes])).toEqual([[0, false], [1, false], [2, true]]);
    const big = primitiveDef('dot_general').lower([A([130, 70]), A([70, 65])], [A([130, 65])], { lhsContract: [1], rhsContract: [0], lhsBatch: [], rhsBatch: [] }).kernels[0];
    expect(mslLaunch(big).groups).toBe(3 * 2);
  });

  test('a long reduction with few outputs: two passes, partials in a scratch buffer, the epilogue in pass 2', () => {
    const k = fusedKernel((x) => np.mean(np.square(x), { axis: 1 }), np.zeros([2, 9000]));
    const { passes, scratch } = mslPasses(k, MSL_DEFAULTS, 7);
    expect(scratch).toEqual({ arg: 7, dtype: 'float32', size: 4 });
    expect(passes.map((p) => p.launch)).toEqual([
      { groups: 4, groupSize: 256, simdWidth: 32, threadgroupMemory: [32] },
      { groups: 1, groupSize: 256, simdWidth: 0, threadgroupMemory: [] },
    ]);
    // Pass 1 runs the prologue and writes the partials; pass 2 reads them, and its epilogue overwrites the result in place.
    expect(passes.map((p) => mslBindings(p.kernel).map((b) => `${b.writes ? 'w' : 'r'}${b.arg}`))).toEqual([['r0', 'w7'], ['r7', 'w1', 'w1']]);
    expect(generateMslKernel(passes[0].kernel, 'sq_mean_pass1', MSL_DEFAULTS, passes[0].stage)).toBe(source([
      '// sq_mean_pass1: elementwise over [2, 9000] (1 instruction) fused into reduce_sum over axes [1], pass 1 of 2: 2 threadgroups (256 threads) per output fold interleaved slices of its extent into 2 partials, combined by SIMD-group functions',
      'kernel void sq_mean_pass1(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    threadgroup float* partial [[threadgroup(0)]],',
      '    uint group [[threadgroup_position_in_grid]],',
      '    uint tid [[thread_position_in_threadgroup]],',
      '    uint sg [[simdgroup_index_in_threadgroup]],',
      '    uint lane [[thread_index_in_simdgroup]]) {',
      '  const uint o = group / 2u;',
      '  const uint part = group % 2u;',
      '  const int o0 = int(o);',
      '  const int base = o0 * 9000;',
      '  float acc = 0.0f;',
      '  for (uint j = part * 256u + tid; j < 9000u; j += 512u) {',
      '    const int j0 = int(j);',
      '    const float r0 = in0[base + j0];',
      '    const float r1 = mg_mul(r0, r0);',
      '    acc = mg_add(acc, r1);',
      '  }',
      '  acc = simd_sum(acc);',
      '  if (lane == 0) partial[sg] = acc;',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  if (sg == 0) {',
      '    acc = lane < 8u ? partial[lane] : 0.0f;',
      '    acc = simd_sum(acc);',
      '    if (lane == 0) out0[group] = acc;',
      '  }',
      '}',
    ]));
    expect(generateMslKernel(passes[1].kernel, 'sq_mean_pass2', MSL_DEFAULTS, passes[1].stage)).toBe(source([
      '// sq_mean_pass2: pass 2 of 2: reduce_sum of the [2, 2] partials of pass 1, one thread per output',
      'kernel void sq_mean_pass2(',
      '    device const float* in0 [[buffer(0)]],',
      '    device float* out0 [[buffer(1)]],',
      '    device float* out1 [[buffer(2)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 2u) return;',
      '  const int o0 = int(gid);',
      '  const int base = o0 * 2;',
      '  float acc = 0.0f;',
      '  for (int j0 = 0; j0 < 2; ++j0) {',
      '    acc = mg_add(acc, in0[base + j0]);',
      '  }',
      '  // epilogue: 2 instructions on the result',
      '  const float e0 = acc;',
      '  const float e1 = 9e+3f;',
      '  const float e2 = mg_div(e0, e1);',
      '  out1[gid] = e2;',
      '}',
    ]));
    // lower() lists the IR kernel once, with both passes' functions after the ops header.
    const [info] = jit((x: NDArray) => np.mean(np.square(x), { axis: 1 })).lower(np.zeros([2, 9000])).kernels;
    expect(info.msl).toBe(`${mslOpsHeader()}\n${generateMslKernel(passes[0].kernel, `${info.name}_pass1`, MSL_DEFAULTS, passes[0].stage)}\n${generateMslKernel(passes[1].kernel, `${info.name}_pass2`, MSL_DEFAULTS, passes[1].stage)}`);
  });

  test('the two-pass split: at least 4096 elements per pass-1 threadgroup, about 1024 threadgroups, at most 64 outputs', () => {
    const split = (shape: number[], axes: number[]) => mslPasses(primitiveDef('reduce_sum').lower([A(shape)], [A(shape.filter((_, d) => !axes.includes(d)))], { axes }).kernels[0], MSL_DEFAULTS, 9).passes.map((p) => p.launch.groups);
    expect(split([1 << 24], [0])).toEqual([1024, 1]);
    expect(split([8191], [0])).toEqual([1]);
    expect(split([8192], [0])).toEqual([2, 1]);
    expect(split([3, 1 << 20], [1])).toEqual([3 * 256, 3]);
    expect(split([64, 8192], [1])).toEqual([128, 1]);
    expect(split([65, 8192], [1])).toEqual([65]);
    // Columns: few outputs over a long extent split too (one pass would be one threadgroup).
    expect(split([100000, 32], [0])).toEqual([32 * 24, 1]);
  });
});

describe('literals', () => {
  test.each([
    [0.1, 'float32', '0.1f'],
    [2, 'float32', '2.0f'],
    [-0, 'float32', '-0.0f'],
    [NaN, 'float32', 'NAN'],
    [-Infinity, 'float32', '-INFINITY'],
    [1e-45, 'float32', '1e-45f'],
    [3.4028235e38, 'float32', '3.4028235e+38f'],
    [1 / 3, 'float32', '0.33333334f'],
    [-2147483648, 'int32', '(-2147483647 - 1)'],
    [3e9, 'int32', '2147483647'],
    [-7.9, 'int32', '-7'],
    [NaN, 'int32', '0'],
    [-3, 'uint32', '0u'],
    [5e9, 'uint32', '4294967295u'],
    [0.5, 'bool', 'true'],
    [0, 'bool', 'false'],
  ] as const)('%p as %s is %s', (x, dtype, text) => {
    expect(mslLiteral(x, dtype)).toBe(text);
  });
});

describe('validation', () => {
  const unary = (op: string, kind: string, inDtype = kind): ElementwiseKernel =>
    ({
      kind: 'elementwise',
      shape: [3],
      inputs: [{ dtype: inDtype, view: { arg: 0, offset: 0, strides: [1] } }],
      outputs: [{ dtype: kind, view: { arg: 1, offset: 0, strides: [1] }, reg: 1 }],
      nregs: 2,
      instrs: [{ op, kind, dst: 1, a: 0, b: -1, c: -1 }],
      consts: [],
    }) as ElementwiseKernel;

  test('an op on a kind the ABI does not define is rejected', () => {
    expect(() => generateMsl(unary('erf', 'int32'), 'k')).toThrow('generateMsl: instruction 0 (erf on int32): the op is defined on float32 only');
  });
  test('an operand register of the wrong kind is rejected', () => {
    expect(() => generateMsl(unary('neg', 'int32', 'float32'), 'k')).toThrow('operand a (r0) must be int32, it holds float32');
  });
  test('a kernel with more buffers than Metal can bind is rejected', () => {
    const k = unary('neg', 'int32');
    const many: ElementwiseKernel = { ...k, outputs: Array.from({ length: 31 }, (_, i) => ({ ...k.outputs[0], view: { ...k.outputs[0].view, arg: i + 1 } })) };
    expect(() => generateMsl(many, 'k')).toThrow('generateMsl: kernel k takes 32 buffers; Metal binds at most 31');
    expect(() => generateMsl({ ...many, outputs: many.outputs.slice(1) }, 'k')).not.toThrow();
  });
  test('an epilogue that does not read the result element for element is rejected', () => {
    // sum over axis 1 of [6, 7, 5] gives 30 elements; the epilogue negates them into arg 2.
    const sum = reduceKernel() as ReduceKernel;
    const neg = (shape: number[], dtype: string): ElementwiseKernel => ({ ...unary('neg', 'float32'), shape, inputs: [{ dtype, view: { arg: 1, offset: 0, strides: shape.map(() => 1) } }] }) as ElementwiseKernel;
    expect(() => generateMsl({ ...sum, epilogue: { kernel: neg([30], 'float32'), src: 0 } }, 'k')).not.toThrow();
    expect(() => generateMsl({ ...sum, epilogue: { kernel: neg([30], 'float32'), src: 1 } }, 'k')).toThrow("generateMsl: the epilogue's src must be one of its 1 inputs, received 1");
    expect(() => generateMsl({ ...sum, epilogue: { kernel: neg([29], 'float32'), src: 0 } }, 'k')).toThrow('generateMsl: the epilogue runs over 29 elements but the result has 30');
    expect(() => generateMsl({ ...sum, epilogue: { kernel: neg([30], 'int32'), src: 0 } }, 'k')).toThrow("generateMsl: the epilogue's src input is int32 but the result is float32");
  });
  test('a kernel name that is not an identifier, and alias kernels, are rejected', () => {
    expect(() => generateMsl(unary('neg', 'int32'), 'my kernel')).toThrow('the kernel name must be an identifier');
    expect(() => generateMsl({ kind: 'alias', input: 0, output: 1 }, 'k')).toThrow('an alias kernel moves no data');
  });
});
