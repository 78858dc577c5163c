/**
 * @file Golden tests of the MSL generator: the exact source of representative kernels (a fused
 * strided elementwise kernel, a reduction, the matmul fallback), the binding and grid helpers,
 * literals, and the validation errors for malformed kernels.
 */

import { makeJaxpr, numpy as np, NDArray } from 'metalgrad';
import { ShapedArray } from '../lib/core/aval';
import { DTYPES, SHORT_NAME } from '../lib/core/dtype';
import { fuse } from '../lib/compiler/fusion';
import { ElementwiseKernel, Kernel, ReduceKernel, SCALAR_OPS, SOURCE_KIND_OPS } from '../lib/compiler/kernel';
import { generateMsl, generateMslKernel, mslBindings, mslLiteral, mslOpsHeader, mslThreads } from '../lib/compiler/msl';
import { primitiveDef } from '../lib/primitives';

const A = (shape: number[]): ShapedArray => new ShapedArray(shape, 'float32');
const source = (lines: string[]): string => `${lines.join('\n')}\n`;

function broadcastAddKernel(): Kernel {
  const steps = fuse(makeJaxpr((x: NDArray, y: NDArray) => np.add(x, y))(np.zeros([4, 3]), np.zeros([3])).jaxpr);
  expect(steps).toHaveLength(1);
  if (steps[0].kind !== 'fused') throw new Error('expected broadcast_in_dim and add to fuse');
  return steps[0].group.kernel;
}

const reduceKernel = (): Kernel => primitiveDef('reduce_sum').lower([A([6, 7, 5])], [A([6, 5])], { axes: [1] }).kernels[0];
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

  test('a reduction loops over the reduced axes, one thread per output element', () => {
    expect(generateMslKernel(reduceKernel(), 'sum_axis1')).toBe(source([
      '// sum_axis1: reduce_sum of [6, 7, 5] over axes [1], one thread per output element',
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
    const steps = fuse(makeJaxpr((x: NDArray) => np.mean(x, { axis: 1 }))(np.zeros([4, 6])).jaxpr);
    expect(steps).toHaveLength(1);
    if (steps[0].kind !== 'fused') throw new Error('expected the mean to be one fused kernel');
    const k = steps[0].group.kernel;
    // The sum is written where the mean goes (bound twice), so only the mean is stored.
    expect(mslBindings(k)).toEqual([{ arg: 0, dtype: 'float32', writes: false }, { arg: 1, dtype: 'float32', writes: true }, { arg: 1, dtype: 'float32', writes: true }]);
    expect(generateMslKernel(k, 'mean_rows')).toBe(source([
      '// mean_rows: reduce_sum of [4, 6] over axes [1], one thread per output element',
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
      '  out1[int(gid)] = e2;',
      '}',
    ]));
  });

  test('the matmul fallback computes one element of C per thread', () => {
    expect(generateMslKernel(matmulKernel(), 'matmul_batched')).toBe(source([
      '// matmul_batched: matmul fallback (one thread per output element), [2] x [3, 4] @ [4, 5]',
      'kernel void matmul_batched(',
      '    device const float* in0 [[buffer(0)]],',
      '    device const float* in1 [[buffer(1)]],',
      '    device float* out0 [[buffer(2)]],',
      '    uint gid [[thread_position_in_grid]]) {',
      '  if (gid >= 30u) return;',
      '  const int p = int(gid / 15u);',
      '  const int i = int((gid / 5u) % 3u);',
      '  const int j = int(gid % 5u);',
      '  const int a_row = p * 12 + i * 4;',
      '  const int b_col = p * 20 + j;',
      '  float acc = 0.0f;',
      '  for (int l = 0; l < 4; ++l) {',
      '    acc = mg_add(acc, mg_mul(in0[a_row + l], in1[b_col + l * 5]));',
      '  }',
      '  out0[p * 15 + i * 5 + j] = acc;',
      '}',
    ]));
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
    expect(mslThreads(k)).toBe(10);
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

  test('bindings and grid sizes of reductions and matmul', () => {
    expect(mslBindings(reduceKernel()).map((b) => b.arg)).toEqual([0, 1]);
    expect(mslThreads(reduceKernel())).toBe(30);
    expect(mslBindings(matmulKernel()).map((b) => [b.arg, b.writes])).toEqual([[0, false], [1, false], [2, true]]);
    expect(mslThreads(matmulKernel())).toBe(30);
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
