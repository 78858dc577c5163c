/**
 * @file Generated MSL vs the native CPU path. Kernels come from the real lowering (single
 * primitives through `primitiveDef(p).lower`, fused groups through `fuse` on jaxprs); all of them are
 * compiled once as C++ (test/msl/harness.ts) and run over random inputs with edge cases. Results must
 * match bit for bit, except ops we approximate (log1p, expm1, erf: ~2 ulp / 1e-6 relative) and float
 * sums taken in another order.
 */

import { lax, makeJaxpr, nn, numpy as np, NDArray, random } from 'metalgrad';
import { ShapedArray } from '../lib/core/aval';
import { DType, DTYPES } from '../lib/core/dtype';
import { epilogueOf, Kernel } from '../lib/compiler/kernel';
import { primitiveDef } from '../lib/primitives';
import { BINARY_PRIMS, BinaryPrim, COMPARE_PRIMS, UNARY_PRIMS, UnaryPrim } from '../lib/primitives/types';
import { Case, Compiled, compileCases, initialBuffers, jaxprCases, mismatch, primCase, runCpu, runMsl, TRANSCENDENTAL } from './msl/harness';
import { generateMslKernel, MSL_DEFAULTS, MslOptions, mslPasses } from '../lib/compiler/msl';

const A = (shape: number[], dtype: DType = 'float32'): ShapedArray => new ShapedArray(shape, dtype);
const NUMERIC: DType[] = ['float32', 'int32', 'uint32'];
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const U_MAX = 4294967295;

const cases: Case[] = [];
const add = (c: Case): void => {
  cases.push(c);
};

// Every elementwise primitive on every dtype it accepts.
/** The dtypes an elementwise primitive accepts, from its own shape rule. */
const accepts = (p: UnaryPrim | BinaryPrim, arity: number): DType[] =>
  DTYPES.filter((d) => {
    try {
      primitiveDef(p).abstractEval(Array.from({ length: arity }, () => A([1], d)), {});
      return true;
    } catch {
      return false;
    }
  });
for (const p of UNARY_PRIMS) for (const d of accepts(p, 1)) add(primCase(`${p}_${d}`, p, [A([97], d)], {}));
for (const p of BINARY_PRIMS) for (const d of accepts(p, 2)) add(primCase(`${p}_${d}`, p, [A([6, 17], d), A([6, 17], d)], {}));
for (const p of COMPARE_PRIMS) for (const d of DTYPES) add(primCase(`${p}_${d}`, p, [A([61], d), A([61], d)], {}));
for (const d of DTYPES) add(primCase(`select_${d}`, 'select', [A([45], 'bool'), A([45], d), A([45], d)], {}));
for (const from of DTYPES) for (const to of DTYPES) add(primCase(`convert_${from}_${to}`, 'convert', [A([80], from)], { dtype: to, weakType: false }));

// Edge cases pinned by fixed data (operands pair up element by element).
add(primCase('div_edges_int32', 'div', [A([8], 'int32'), A([8], 'int32')], {}, { 0: [7, -7, INT_MIN, INT_MIN, 0, -7, INT_MAX, 5], 1: [0, 2, -1, 1, 0, -2, -1, 3] }));
add(primCase('div_edges_uint32', 'div', [A([5], 'uint32'), A([5], 'uint32')], {}, { 0: [7, 0, U_MAX, 9, 1], 1: [0, 0, 2, 3, U_MAX] }));
add(primCase('pow_edges_int32', 'pow', [A([10], 'int32'), A([10], 'int32')], {}, { 0: [2, -1, -1, 1, 0, 3, -2, 2, 5, -3], 1: [-1, -3, -4, -7, 0, 31, 33, 0, 3, 5] }));
add(primCase('pow_edges_uint32', 'pow', [A([5], 'uint32'), A([5], 'uint32')], {}, { 0: [2, 3, 0, U_MAX, 7], 1: [31, 40, 0, 3, 1] }));
add(primCase('arith_wrap_int32', 'mul', [A([4], 'int32'), A([4], 'int32')], {}, { 0: [INT_MAX, INT_MIN, 65536, -1], 1: [2, -1, 65536, INT_MIN] }));
add(primCase('add_wrap_int32', 'add', [A([3], 'int32'), A([3], 'int32')], {}, { 0: [INT_MAX, INT_MIN, -1], 1: [1, -1, INT_MIN] }));
add(primCase('neg_abs_edges', 'abs', [A([3], 'int32')], {}, { 0: [INT_MIN, -5, 0] }));
add(primCase('max_nan', 'max', [A([6]), A([6])], {}, { 0: [NaN, 1, NaN, 0, -0, -Infinity], 1: [1, NaN, NaN, -0, 0, NaN] }));
add(primCase('min_nan', 'min', [A([6]), A([6])], {}, { 0: [NaN, 1, NaN, 0, -0, Infinity], 1: [1, NaN, NaN, -0, 0, NaN] }));
add(primCase('sign_edges', 'sign', [A([6])], {}, { 0: [NaN, -0, 0, -3, 1e-40, -Infinity] }));
const saturating = [NaN, Infinity, -Infinity, 2147483520, 2147483648, -2147483648, -2147483904, 4294967040, 4294967296, -0.5, -0.99, -1, 3.99, -3.99, 1e-45];
for (const to of ['int32', 'uint32', 'bool'] as DType[]) {
  add(primCase(`convert_edges_${to}`, 'convert', [A([saturating.length])], { dtype: to, weakType: false }, { 0: saturating }));
}
add(primCase('convert_bool_bytes', 'convert', [A([4], 'bool')], { dtype: 'float32', weakType: false }, { 0: [0, 1, 2, 255] }));

// Bitwise ops of random number generation: shift amounts past the width and negative ones, bitcasts.
const SHIFT_BY = [0, 1, 5, 31, 32, 33, 100, -1, -32];
for (const p of ['shift_left', 'shift_right_logical', 'shift_right_arithmetic'] as const) {
  add(primCase(`${p}_edges_int32`, p, [A([18], 'int32'), A([18], 'int32')], {}, { 0: [INT_MIN, -1, 7, INT_MAX, -5, 1, 12345, -12345, 3], 1: [...SHIFT_BY, ...SHIFT_BY.slice().reverse()] }));
  add(primCase(`${p}_edges_uint32`, p, [A([7], 'uint32'), A([7], 'uint32')], {}, { 0: [U_MAX, 0x80000000, 1, 0x7fffffff, 6, 2863311530, 0x40000000], 1: [0, 1, 31, 32, 33, 4000000000, 4] }));
}
for (const from of NUMERIC) for (const to of NUMERIC) add(primCase(`bitcast_${from}_${to}`, 'bitcast_convert_type', [A([40], from)], { dtype: to }));
add(primCase('bitcast_edges_f32', 'bitcast_convert_type', [A([6])], { dtype: 'uint32' }, { 0: [NaN, -0, Infinity, -Infinity, 1e-45, 1] }));
const erfInvGrid = [...Array.from({ length: 1999 }, (_, i) => -0.999 + i * 0.001), ...Array.from({ length: 40 }, (_, i) => 1 - 2 ** -(i % 24 + 1)).flatMap((x) => [x, -x])];
add({ ...primCase('erf_inv_grid', 'erf_inv', [A([erfInvGrid.length + 7])], {}, { 0: [...erfInvGrid, 1, -1, 1.5, -2, NaN, 0, -0] }), tol: TRANSCENDENTAL });

// Our own approximations on dense grids: small and large magnitudes, both signs.
const grid = [...Array.from({ length: 2001 }, (_, i) => -6 + i * 0.006), ...Array.from({ length: 60 }, (_, i) => 10 ** (-38 + i * 0.65)).flatMap((x) => [x, -x])];
const expm1Grid = [...grid, ...Array.from({ length: 200 }, (_, i) => -100 + i)];
const log1pGrid = [...grid.filter((x) => x > -1), -1, -1.5, 1e10, 3e38, Infinity, -Infinity, NaN];
add({ ...primCase('erf_grid', 'erf', [A([grid.length + 4])], {}, { 0: [...grid, NaN, Infinity, -Infinity, -0] }), tol: TRANSCENDENTAL });
add({ ...primCase('expm1_grid', 'expm1', [A([expm1Grid.length + 3])], {}, { 0: [...expm1Grid, NaN, Infinity, -Infinity] }), tol: TRANSCENDENTAL });
add({ ...primCase('log1p_grid', 'log1p', [A([log1pGrid.length])], {}, { 0: log1pGrid }), tol: TRANSCENDENTAL });

// Broadcast rank-0 operands (the contiguous path with a scalar view).
add(primCase('add_scalar_rhs', 'add', [A([4, 3]), A([])], {}));
add(primCase('select_scalar_branches', 'select', [A([5, 2], 'bool'), A([], 'int32'), A([5, 2], 'int32')], {}));

// Strided copies: transpose, broadcast, slice, pad, concatenate.
add(primCase('transpose_3d', 'transpose', [A([3, 4, 5])], { perm: [2, 0, 1] }));
add(primCase('broadcast_rows', 'broadcast_in_dim', [A([3], 'int32')], { shape: [4, 3], dims: [1] }));
add(primCase('broadcast_cols', 'broadcast_in_dim', [A([4, 1], 'bool')], { shape: [4, 6], dims: [0, 1] }));
add(primCase('slice_strided', 'slice', [A([10, 8])], { start: [1, 2], limit: [9, 8], strides: [2, 3] }));
add(primCase('pad_interior', 'pad', [A([3, 4], 'uint32')], { lo: [1, 0], hi: [2, 1], interior: [1, 2], value: 9 }));
add(primCase('concatenate_axis1', 'concatenate', [A([2, 3]), A([2, 4]), A([2, 1])], { axis: 1 }));

// Reductions over short extents (one thread per output element) and argmax/argmin.
add(primCase('sum_axis1', 'reduce_sum', [A([6, 7, 5])], { axes: [1] }));
add(primCase('sum_axes02', 'reduce_sum', [A([6, 7, 5])], { axes: [0, 2] }));
add(primCase('sum_all_int32', 'reduce_sum', [A([9, 11], 'int32')], { axes: [0, 1] }));
add(primCase('prod_uint32', 'reduce_prod', [A([4, 6], 'uint32')], { axes: [1] }));
add(primCase('prod_float', 'reduce_prod', [A([4, 6])], { axes: [0] }, { 0: [0.5, 1.5, -2, 1.25, 0.75, -1] }));
for (const d of DTYPES) {
  add(primCase(`reduce_max_${d}`, 'reduce_max', [A([5, 8], d)], { axes: [1] }));
  add(primCase(`reduce_min_${d}`, 'reduce_min', [A([5, 8], d)], { axes: [0] }));
}
add(primCase('sum_empty', 'reduce_sum', [A([4, 0])], { axes: [1] }));
add(primCase('max_empty_int32', 'reduce_max', [A([0, 3], 'int32')], { axes: [0] }));
add(primCase('min_empty_bool', 'reduce_min', [A([2, 0], 'bool')], { axes: [1] }));
for (const d of DTYPES) {
  add(primCase(`argmax_${d}`, 'argmax', [A([5, 9], d)], { axis: 1 }));
  add(primCase(`argmin_${d}`, 'argmin', [A([7, 4], d)], { axis: 0 }));
}
add(primCase('argmax_ties_nan', 'argmax', [A([4, 4])], { axis: 1 }, { 0: [1, 3, 3, 2, NaN, 5, NaN, 1, -Infinity, -Infinity, -Infinity, -Infinity, 2, 2, 9, NaN] }));
add(primCase('argmin_ties_int', 'argmin', [A([3, 3], 'int32')], { axis: 1 }, { 0: [4, 1, 1, INT_MIN, 0, INT_MIN, 7, 7, 7] }));

// dot_general: plain, batched, int32 (wrapping), and a contraction that needs a transposing copy.
const mm = (lc: number[], rc: number[], lb: number[] = [], rb: number[] = []) => ({ lhsContract: lc, rhsContract: rc, lhsBatch: lb, rhsBatch: rb });
// Float matmuls get finite inputs: the CPU GEMM fuses multiply-adds, so an overflowing product
// beside an infinity gives ±inf where separate rounding gives NaN.
const finite = (n: number): number[] => Array.from({ length: n }, (_, i) => ((i * 37) % 23) / 4 - 2.75);
add(primCase('matmul_f32', 'dot_general', [A([5, 7]), A([7, 3])], mm([1], [0]), { 0: finite(35), 1: finite(21).reverse() }));
add(primCase('matmul_batched', 'dot_general', [A([2, 3, 4]), A([2, 4, 5])], mm([2], [1], [0], [0]), { 0: finite(24), 1: finite(40).reverse() }));
add(primCase('matmul_int32', 'dot_general', [A([4, 6], 'int32'), A([6, 3], 'int32')], mm([1], [0])));
add(primCase('matmul_transposed', 'dot_general', [A([7, 5]), A([3, 7])], mm([0], [1]), { 0: finite(35), 1: finite(21).reverse() }));
add(primCase('matmul_empty_k', 'dot_general', [A([3, 0]), A([0, 2])], mm([1], [0])));

// A hand-built kernel: an input view at an offset, a broadcast bool, a const, two outputs.
add({
  name: 'offset_two_outputs',
  bufs: [A([20], 'int32'), A([], 'bool'), A([2, 5], 'bool'), A([2, 5], 'int32')],
  kernels: [{
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
    consts: [-3],
  }],
  inputs: [0, 1],
  tol: 'exact',
});

// Const operands of every kind, converted as the ABI says (saturating, NaN -> 0, to bool is != 0).
// Indexing: random int32 indices include negative and huge values, so clamping and dropping run.
add(primCase('rev_axes02', 'rev', [A([3, 4, 5])], { dims: [0, 2] }));
for (const d of DTYPES) add(primCase(`gather_${d}`, 'gather', [A([3, 7, 2], d), A([5], 'int32')], { axis: 1, batchDims: 0 }));
add(primCase('gather_batched', 'gather', [A([4, 6, 3]), A([4, 2, 5], 'int32')], { axis: 1, batchDims: 1 }));
add(primCase('gather_rows', 'gather', [A([9, 4], 'int32'), A([3, 2], 'int32')], { axis: 0, batchDims: 0 }, { 1: [0, 8, -1, 9, 4, 4] }));
for (const op of ['add', 'set', 'mul', 'min', 'max'] as const) {
  for (const mode of ['clip', 'drop'] as const) {
    add(primCase(`scatter_${op}_${mode}`, 'scatter', [A([3, 6, 2]), A([8], 'int32'), A([3, 8, 2])], { axis: 1, batchDims: 0, op, mode }));
  }
}
add(primCase('scatter_add_int32_batched', 'scatter', [A([4, 5], 'int32'), A([4, 6], 'int32'), A([4, 6], 'int32')], { axis: 1, batchDims: 1, op: 'add', mode: 'drop' }));
for (const op of ['set', 'min', 'max'] as const) add(primCase(`scatter_${op}_bool`, 'scatter', [A([7], 'bool'), A([9], 'int32'), A([9], 'bool')], { axis: 0, batchDims: 0, op, mode: 'clip' }));
for (const d of DTYPES) for (const descending of [false, true]) add(primCase(`sort_${d}_${descending ? 'desc' : 'asc'}`, 'sort', [A([6, 13], d)], { descending }));
add(primCase('sort_ties_nan', 'sort', [A([2, 8])], { descending: false }, { 0: [3, NaN, 1, 3, -0, 0, NaN, 1, 0, -0, 0, 2, 2, -Infinity, Infinity, NaN] }));
for (const p of ['cumsum', 'cumprod', 'cummax', 'cummin'] as const) {
  for (const reverse of [false, true]) add(primCase(`${p}_${reverse ? 'rev' : 'fwd'}`, p, [A([3, 9, 4])], { axis: 1, reverse }));
}
add(primCase('cumsum_int32', 'cumsum', [A([5, 6], 'int32')], { axis: 0, reverse: false }));
add(primCase('cummax_bool', 'cummax', [A([4, 5], 'bool')], { axis: 1, reverse: false }));
add(primCase('cummin_uint32', 'cummin', [A([20], 'uint32')], { axis: 0, reverse: true }));

const CONSTS: [DType, number][] = [
  ['float32', 0.1], ['float32', 1e-45], ['float32', NaN], ['float32', -0], ['float32', 1e39], ['float32', 16777217],
  ['int32', 3e9], ['int32', -2147483648.5], ['int32', -7.9], ['int32', NaN],
  ['uint32', -0.5], ['uint32', -1], ['uint32', 5e9], ['uint32', 4294967295.5], ['uint32', NaN],
  ['bool', NaN], ['bool', 0], ['bool', -0.25],
];
add({
  name: 'consts_all_kinds',
  bufs: CONSTS.map(([d]) => A([2], d)),
  kernels: [{
    kind: 'elementwise',
    shape: [2],
    inputs: [],
    outputs: CONSTS.map(([d], i) => ({ dtype: d, view: { arg: i, offset: 0, strides: [1] }, reg: i })),
    nregs: CONSTS.length,
    instrs: CONSTS.map(([d], i) => ({ op: 'const' as const, kind: d, dst: i, a: i, b: -1, c: -1 })),
    consts: CONSTS.map(([, x]) => x),
  }],
  inputs: [],
  tol: 'exact',
});

// Registers written twice (the ABI allows it; fusion happens to emit SSA).
add({
  name: 'register_rewritten',
  bufs: [A([7]), A([7], 'bool'), A([7])],
  kernels: [{
    kind: 'elementwise',
    shape: [7],
    inputs: [{ dtype: 'float32', view: { arg: 0, offset: 0, strides: [1] } }],
    outputs: [{ dtype: 'bool', view: { arg: 1, offset: 0, strides: [1] }, reg: 2 }, { dtype: 'float32', view: { arg: 2, offset: 0, strides: [1] }, reg: 1 }],
    nregs: 3,
    instrs: [
      { op: 'mul', kind: 'float32', dst: 1, a: 0, b: 0, c: -1 },
      { op: 'lt', kind: 'float32', dst: 2, a: 1, b: 0, c: -1 },
      { op: 'add', kind: 'float32', dst: 1, a: 1, b: 0, c: -1 },
      { op: 'convert', kind: 'float32', dst: 2, a: 2, b: 3, c: -1 },
      { op: 'lt', kind: 'float32', dst: 2, a: 2, b: 1, c: -1 },
    ],
    consts: [],
  }],
  inputs: [0],
  tol: 'exact',
});

/** Float matmul cases get finite inputs (see `finite` above). */
const withFiniteInputs = (cs: Case[]): Case[] =>
  cs.map((c) => ({ ...c, data: Object.fromEntries(c.inputs.filter((b) => c.bufs[b].dtype === 'float32').map((b) => [b, finite(c.bufs[b].size)])) }));

// Fused kernels from the real pipeline.
const x43 = np.zeros([4, 3]);
const fused = [
  ...jaxprCases('chain8', makeJaxpr((x: NDArray) => np.subtract(np.multiply(np.maximum(np.add(np.multiply(np.tanh(np.add(np.multiply(x, 1.5), 2)), 3), 0.5), 0), 0.7), 0.1))(np.zeros([7, 9]))),
  ...jaxprCases('softmax', makeJaxpr((x: NDArray) => nn.softmax(x))(np.zeros([5, 6]))),
  ...jaxprCases('log_softmax', makeJaxpr((x: NDArray) => nn.logSoftmax(x, { axis: 0 }))(np.zeros([5, 6]))),
  ...jaxprCases('gelu', makeJaxpr((x: NDArray) => nn.gelu(x, { approximate: false }))(np.zeros([33]))),
  ...jaxprCases('broadcast_add', makeJaxpr((x: NDArray, y: NDArray) => np.add(x, y))(x43, np.zeros([3]))),
  ...jaxprCases('broadcast_mul_t', makeJaxpr((x: NDArray, y: NDArray) => np.multiply(np.transpose(x), y))(x43, np.zeros([3, 1]))),
  ...jaxprCases('int_chain', makeJaxpr((x: NDArray, y: NDArray) => np.where(np.greater(np.divide(x, y), 2), np.astype(np.multiply(x, y), 'uint32'), np.astype(np.negative(x), 'uint32')))(np.zeros([4, 5], { dtype: 'int32' }), np.zeros([4, 5], { dtype: 'int32' }))),
  ...jaxprCases('random_normal', makeJaxpr((k: NDArray) => random.normal(k, [5, 7]))(random.key(0))),
  ...jaxprCases('random_truncated_normal', makeJaxpr((k: NDArray) => random.truncatedNormal(k, -0.5, 2, [33]))(random.key(0))),
  ...jaxprCases('float_to_int', makeJaxpr((x: NDArray) => np.add(np.astype(np.multiply(x, 1e9), 'int32'), np.astype(np.greater(x, 0), 'int32')))(np.zeros([50]))),
  ...jaxprCases('at_add', makeJaxpr((x: NDArray, v: NDArray) => np.multiply(x.at(':', [3, 0, 3]).add(v), 2))(x43, np.zeros([4, 3]))),
  ...jaxprCases('dynamic_update_slice', makeJaxpr((x: NDArray, u: NDArray) => lax.dynamicUpdateSlice(x, u, [1, 2]))(np.zeros([5, 6]), np.zeros([2, 3]))),
  ...jaxprCases('sort_take_along', makeJaxpr((x: NDArray) => np.takeAlongAxis(x, np.argsort(x, { axis: 0 }), 0))(np.zeros([6, 4]))),
  // Epilogues: elementwise work on a reduction's or matmul's result inside that kernel.
  ...jaxprCases('epi_mean', makeJaxpr((x: NDArray) => np.mean(x, { axis: 1 }))(np.zeros([7, 9]))),
  ...jaxprCases('epi_var', makeJaxpr((x: NDArray) => np.var(x, { axis: 0 }))(np.zeros([7, 9]))),
  ...jaxprCases('epi_logsumexp', makeJaxpr((x: NDArray) => nn.logsumexp(x, { axis: 1 }))(np.zeros([5, 6]))),
  ...jaxprCases('epi_sum_kept_bool', makeJaxpr((x: NDArray) => { const s = np.sum(x, { axis: 0 }); return [s, np.greater(np.sqrt(np.abs(s)), 1)]; })(np.zeros([4, 6]))),
  ...jaxprCases('epi_max_int', makeJaxpr((x: NDArray, y: NDArray) => np.multiply(np.max(x, { axis: 1 }), y))(np.zeros([4, 6], { dtype: 'int32' }), np.zeros([4], { dtype: 'int32' }))),
  ...withFiniteInputs(jaxprCases('epi_dense_relu', makeJaxpr((x: NDArray, w: NDArray, b: NDArray) => nn.relu(np.add(np.matmul(x, w), b)))(np.zeros([5, 7]), np.zeros([7, 3]), np.zeros([3])))),
  ...withFiniteInputs(jaxprCases('epi_dense_gelu', makeJaxpr((x: NDArray, w: NDArray, b: NDArray) => nn.gelu(np.add(np.matmul(x, w), b)))(np.zeros([5, 7]), np.zeros([7, 3]), np.zeros([3])))),
  ...withFiniteInputs(jaxprCases('epi_matmul_t_kept', makeJaxpr((x: NDArray, w: NDArray) => { const y = np.matmul(np.transpose(w), np.transpose(x)); return [y, np.tanh(y)]; })(np.zeros([5, 7]), np.zeros([7, 3])))),
  ...withFiniteInputs(jaxprCases('epi_bmm', makeJaxpr((x: NDArray, w: NDArray, b: NDArray) => nn.sigmoid(np.add(np.matmul(x, w), b)))(np.zeros([2, 3, 4]), np.zeros([2, 4, 5]), np.zeros([3, 1])))),
  ...jaxprCases('epi_matmul_int', makeJaxpr((x: NDArray, w: NDArray) => np.greater(np.matmul(x, w), 2))(np.zeros([4, 6], { dtype: 'int32' }), np.zeros([6, 3], { dtype: 'int32' }))),
];
for (const c of fused) add(c);

// Reductions that threads cooperate on (test/msl/threadgroup.h runs their threadgroups with real
// barrier and SIMD-group semantics), in both forms: SIMD-group functions, and the baseline that
// combines lanes through threadgroup memory only. Shape classes: long rows (a threadgroup per
// output), medium rows (a SIMD-group per output, with and without a partial last threadgroup),
// columns (a thread per output when there are many, else a threadgroup), several axes, strided
// and offset views, and one long reduction to a scalar.
const FORMS: [string, MslOptions][] = [['simd', { simdgroup: true }], ['tg', { simdgroup: false }]];
/**
 * Smooth float data around 1, so long sums do not cancel: their rounding error, relative to the sum
 * of magnitudes, then stays within REORDERED of the result.
 */
const smooth = (n: number, scale = 3): number[] => Array.from({ length: n }, (_, i) => 1 + Math.sin(i * 0.731 + 0.3) * scale);
/** Products of many of these stay finite and non-zero. */
const nearOne = Array.from({ length: 97 }, (_, i) => (i % 2 ? 1 : -1) * (1 + Math.sin(i) * 0.002));
const cooperative: Case[] = [];
const reduceCase = (name: string, prim: 'reduce_sum' | 'reduce_prod' | 'reduce_max' | 'reduce_min', shape: number[], axes: number[], dtype: DType = 'float32', data?: number[]) =>
  cooperative.push(primCase(name, prim, [A(shape, dtype)], { axes }, data ? { 0: data } : undefined));
reduceCase('rows_long_sum', 'reduce_sum', [3, 5000], [1], 'float32', smooth(1009));
reduceCase('rows_long_sum_int32', 'reduce_sum', [4, 3001], [1], 'int32');
reduceCase('rows_long_prod', 'reduce_prod', [2, 4099], [1], 'float32', nearOne);
reduceCase('rows_long_prod_uint32', 'reduce_prod', [2, 2500], [1], 'uint32');
for (const d of DTYPES) {
  reduceCase(`rows_long_max_${d}`, 'reduce_max', [3, 2900], [1], d);
  reduceCase(`rows_long_min_${d}`, 'reduce_min', [2, 1500], [1], d);
  reduceCase(`rows_medium_max_${d}`, 'reduce_max', [37, 100], [1], d);
  reduceCase(`rows_medium_min_${d}`, 'reduce_min', [64, 45], [1], d);
}
reduceCase('rows_medium_sum', 'reduce_sum', [301, 200], [1], 'float32', smooth(211));
reduceCase('rows_medium_sum_uint32', 'reduce_sum', [90, 257], [1], 'uint32');
reduceCase('rows_medium_prod_int32', 'reduce_prod', [40, 77], [1], 'int32');
reduceCase('rows_few_sum', 'reduce_sum', [5, 300], [1], 'float32', smooth(301));
reduceCase('columns_very_many_sum', 'reduce_sum', [40, 8200], [0], 'float32', smooth(1031));
reduceCase('columns_many_sum', 'reduce_sum', [40, 1030], [0], 'float32', smooth(1031));
reduceCase('columns_many_max', 'reduce_max', [33, 1100], [0]);
reduceCase('columns_tiled_max_int32', 'reduce_max', [300, 64], [0], 'int32');
reduceCase('columns_3d_prod', 'reduce_prod', [50, 4, 40], [0], 'float32', nearOne);
reduceCase('columns_min_bool', 'reduce_min', [90, 70], [0], 'bool');
reduceCase('columns_few_sum', 'reduce_sum', [5000, 3], [0], 'float32', smooth(7001));
reduceCase('columns_few_min_int32', 'reduce_min', [300, 10], [0], 'int32');
reduceCase('columns_medium_max', 'reduce_max', [100, 70], [0]);
reduceCase('axes_02_sum', 'reduce_sum', [30, 40, 50], [0, 2], 'float32', smooth(997));
reduceCase('axes_02_max', 'reduce_max', [20, 9, 80], [0, 2]);
reduceCase('axes_12_sum_int32', 'reduce_sum', [6, 40, 30], [1, 2], 'int32');
reduceCase('scalar_long_sum', 'reduce_sum', [300000], [0], 'float32', smooth(100003, 1));
reduceCase('scalar_2d_max', 'reduce_max', [70, 600], [0, 1]);
reduceCase('empty_long_rows', 'reduce_sum', [3, 0, 4000], [2]);
// Strided views (a transposed operand read in place, at an offset): hand-built reduction kernels.
const stridedReduce = (name: string, op: 'sum' | 'max', shape: number[], strides: number[], offset: number, axes: number[], size: number): void => {
  const outs = shape.filter((_, d) => !axes.includes(d)).reduce((a, b) => a * b, 1);
  cooperative.push({
    name,
    bufs: [A([size]), A([outs + 2])],
    kernels: [{ kind: 'reduce', op, dtype: 'float32', shape, input: { arg: 0, offset, strides }, axes, output: { arg: 1, offset: 2 } }],
    inputs: [0],
    data: { 0: smooth(size + 1) },
    tol: op === 'sum' ? { rtol: 1e-5, atol: 1e-5, ulps: 0 } : { rtol: 0, atol: 0, ulps: 0 },
  });
};
stridedReduce('strided_transposed_rows', 'sum', [9, 2000], [1, 9], 5, [1], 18010);
stridedReduce('strided_every_other', 'max', [50, 400], [801, 2], 3, [1], 40060);
stridedReduce('strided_negative', 'sum', [40, 300], [300, -1], 299, [1], 12000);
// Fused reductions: the elementwise program runs once per element, by the thread that folds it.
const longRows = np.zeros([3, 3000]);
cooperative.push(
  ...jaxprCases('softmax_long', makeJaxpr((x: NDArray) => nn.softmax(x))(longRows)),
  ...jaxprCases('variance_long', makeJaxpr((x: NDArray) => np.sum(np.square(np.subtract(x, np.mean(x, { axis: 1, keepdims: true }))), { axis: 1 }))(longRows)),
  ...jaxprCases('logsumexp_columns', makeJaxpr((x: NDArray) => nn.logsumexp(x, { axis: 0 }))(np.zeros([700, 20]))),
  ...jaxprCases('any_positive_rows', makeJaxpr((x: NDArray) => np.max(np.greater(x, 2.5), { axis: 1 }))(np.zeros([50, 120]))),
  ...jaxprCases('sumsq_columns', makeJaxpr((x: NDArray) => np.sum(np.square(x), { axis: 0 }))(np.zeros([20, 1100]))),
  ...jaxprCases('bias_grad_columns', makeJaxpr((x: NDArray) => np.sum(np.multiply(np.tanh(x), 0.5), { axis: 0 }))(np.zeros([200, 300]))),
  ...jaxprCases('sum_transposed', makeJaxpr((x: NDArray) => np.sum(np.multiply(np.transpose(x), 2), { axis: 1 }))(np.zeros([1500, 6]))),
);
// Epilogues in every layout: the thread holding an output's final value (after the combine) runs
// the epilogue once. Plain and fused reductions; the result overwritten or kept; bool, int and
// float results; an extra epilogue input read through a transpose.
const rows = (n: number, extent: number): NDArray => np.zeros([n, extent]);
cooperative.push(
  ...jaxprCases('epi_mean_long_rows', makeJaxpr((x: NDArray) => np.mean(x, { axis: 1 }))(rows(3, 3000))),
  ...jaxprCases('epi_mean_medium_rows', makeJaxpr((x: NDArray) => np.mean(x, { axis: 1 }))(rows(37, 100))),
  ...jaxprCases('epi_mean_columns', makeJaxpr((x: NDArray) => np.mean(x, { axis: 0 }))(rows(300, 100))),
  ...jaxprCases('epi_mean_very_many_columns', makeJaxpr((x: NDArray) => np.mean(x, { axis: 0 }))(rows(40, 8200))),
  ...jaxprCases('epi_var_long_rows', makeJaxpr((x: NDArray) => np.var(x, { axis: 1 }))(rows(3, 2500))),
  ...jaxprCases('epi_var_short_rows', makeJaxpr((x: NDArray) => np.var(x, { axis: 1 }))(rows(40, 20))),
  ...jaxprCases('epi_logsumexp_medium_rows', makeJaxpr((x: NDArray) => nn.logsumexp(x, { axis: 1 }))(rows(20, 200))),
  ...jaxprCases('epi_sumsq_columns_kept', makeJaxpr((x: NDArray) => { const s = np.sum(np.square(x), { axis: 0 }); return [s, np.sqrt(s)]; })(rows(40, 1100))),
  ...jaxprCases('epi_none_positive_rows', makeJaxpr((x: NDArray) => np.logicalNot(np.max(np.greater(x, 2.5), { axis: 1 })))(rows(50, 120))),
  ...jaxprCases('epi_max_int_long_rows', makeJaxpr((x: NDArray, y: NDArray) => np.multiply(np.max(x, { axis: 1 }), y))(np.zeros([5, 1500], { dtype: 'int32' }), np.zeros([5], { dtype: 'int32' }))),
  ...jaxprCases('epi_sum_plus_transposed', makeJaxpr((x: NDArray, y: NDArray) => np.add(np.sum(x, { axis: 2 }), np.transpose(y)))(np.zeros([6, 5, 300]), np.zeros([5, 6]))),
);
for (const c of cooperative.filter((c) => /^(softmax_long|variance_long|logsumexp_columns|sum_transposed|epi_(mean|var|logsumexp|sumsq|sum_plus))/.test(c.name))) {
  c.inputs.forEach((b) => (c.data = { ...c.data, [b]: smooth(c.bufs[b].size + 13) }));
}
// Two-pass reductions (few outputs, long extents: `reductionSplit`): every op and dtype, plain and
// fused, with and without epilogues, rows and columns, and sizes either side of the rule.
const TWO_PASS_OPS = ['sum', 'prod', 'max', 'min'] as const;
/**
 * Rows of n values whose reductions differ row by row (so a partial read from another output shows):
 * row r is shifted by 37r; the one true (max) or false (min) of a bool row is in another slice per row,
 * or missing; float row 1 holds a NaN.
 */
const distinctRows = (d: DType, op: (typeof TWO_PASS_OPS)[number], rows: number, n: number): number[] =>
  Array.from({ length: rows * n }, (_, i) => {
    const r = Math.floor(i / n);
    const j = i % n;
    if (d === 'bool') return ((r === 0 && j === 256) || (r === 2 && j === 0)) === (op === 'max') ? 1 : 0;
    // Products: exact in float (signs and a few powers of two), wrapping in ints.
    if (op === 'prod' && j === 0) return r + 2;
    if (op === 'prod') return d !== 'float32' ? ((j * 7919) % 3 === 0 ? 3 : 1) : (j * 7919) % 5 === 0 ? -1 : (j * 7919) % 1000 === 7 ? 2 : (j * 7919) % 1000 === 11 ? 0.5 : 1;
    if (d === 'float32' && r === 1 && j === 4321) return NaN;
    const v = ((j * 7919) % 1000) + r * 37;
    return d === 'uint32' ? v : d === 'float32' ? (v - 500) / 8 : v - 500;
  });
const twoPass: Case[] = [];
for (const op of TWO_PASS_OPS) {
  for (const d of DTYPES) {
    if (d === 'bool' && (op === 'sum' || op === 'prod')) continue;
    const data = d !== 'float32' ? undefined : op === 'sum' ? { 0: smooth(9001) } : op === 'prod' ? { 0: nearOne } : undefined;
    twoPass.push(primCase(`two_pass_${op}_${d}_distinct`, `reduce_${op}`, [A([3, 9000], d)], { axes: [1] }, { 0: distinctRows(d, op, 3, 9000) }));
    twoPass.push(primCase(`two_pass_${op}_${d}`, `reduce_${op}`, [A([3, 9000], d)], { axes: [1] }, data));
  }
}
/** Float data for every input of the cases: smooth (sums stay accurate), with NaN at `nanAt`. */
const smoothInputs = (cs: Case[], nanAt?: number): Case[] =>
  cs.map((c) => ({ ...c, data: Object.fromEntries(c.inputs.filter((b) => c.bufs[b].dtype === 'float32').map((b) => [b, smooth(c.bufs[b].size).map((x, i) => (i === nanAt ? NaN : x))])) }));
twoPass.push(
  primCase('two_pass_scalar_max', 'reduce_max', [A([70000])], { axes: [0] }),
  primCase('two_pass_columns_min_int32', 'reduce_min', [A([9000, 40], 'int32')], { axes: [0] }),
  ...smoothInputs([primCase('two_pass_sum_nan', 'reduce_sum', [A([2, 9000])], { axes: [1] })], 12345),
  // At the rule's edges: 8191 / 8192 elements, 64 / 65 outputs.
  ...smoothInputs([
    primCase('two_pass_edge_extent_below', 'reduce_sum', [A([3, 8191])], { axes: [1] }),
    primCase('two_pass_edge_extent_at', 'reduce_sum', [A([3, 8192])], { axes: [1] }),
    primCase('two_pass_edge_outputs_at', 'reduce_sum', [A([64, 8192])], { axes: [1] }),
    primCase('two_pass_edge_outputs_above', 'reduce_sum', [A([65, 8192])], { axes: [1] }),
  ]),
  ...smoothInputs([
    ...jaxprCases('two_pass_epi_mean_scalar', makeJaxpr((x: NDArray) => np.mean(x))(np.zeros([70000]))),
    ...jaxprCases('two_pass_epi_var_rows', makeJaxpr((x: NDArray) => np.var(x, { axis: 1 }))(np.zeros([2, 9000]))),
    ...jaxprCases('two_pass_sumsq_rows', makeJaxpr((x: NDArray) => np.sum(np.square(x), { axis: 1 }))(np.zeros([5, 9000]))),
    ...jaxprCases('two_pass_sumsq_columns_kept', makeJaxpr((x: NDArray) => { const e = np.multiply(x, 0.5); return [e, np.sum(np.square(e), { axis: 0 })]; })(np.zeros([9000, 40]))),
    ...jaxprCases('two_pass_epi_logsumexp_columns', makeJaxpr((x: NDArray) => nn.logsumexp(x, { axis: 0 }))(np.zeros([9000, 3]))),
    ...jaxprCases('two_pass_epi_sum_plus', makeJaxpr((x: NDArray, y: NDArray) => np.add(np.sum(x, { axis: 1 }), y))(np.zeros([4, 9000]), np.zeros([4]))),
  ]),
  ...jaxprCases('two_pass_any_positive', makeJaxpr((x: NDArray) => np.max(np.greater(x, 2.5), { axis: 1 }))(np.zeros([2, 9000]))),
  ...jaxprCases('two_pass_epi_none_positive', makeJaxpr((x: NDArray) => np.logicalNot(np.max(np.greater(x, 2.9), { axis: 1 })))(np.zeros([3, 9000]))),
  ...jaxprCases('two_pass_epi_min_int', makeJaxpr((x: NDArray, y: NDArray) => np.multiply(np.min(x, { axis: 1 }), y))(np.zeros([5, 9000], { dtype: 'int32' }), np.zeros([5], { dtype: 'int32' }))),
  ...jaxprCases('two_pass_epi_prod_uint', makeJaxpr((x: NDArray) => np.add(np.prod(x, { axis: 0 }), 1))(np.zeros([8200, 2], { dtype: 'uint32' }))),
);
cooperative.push(...twoPass);
// Rows read backwards from an offset, into an output at an offset.
stridedReduce('two_pass_strided_reversed', 'sum', [3, 9000], [9000, -1], 8999, [1], 27000);
for (const c of cooperative) for (const [form, options] of FORMS) add({ ...c, name: `${c.name}_${form}`, options });

// Matmul through the tiled shader: edges that are not multiples of the 64x64 tile, several k
// slices, batches, operands read transposed in place, int32 (wrapping), and an empty contraction.
add(primCase('matmul_edges', 'dot_general', [A([70, 33]), A([33, 65])], mm([1], [0]), { 0: finite(70 * 33), 1: finite(33 * 65).reverse() }));
add(primCase('matmul_deep', 'dot_general', [A([9, 300]), A([300, 130])], mm([1], [0]), { 0: finite(2700), 1: finite(39000).reverse() }));
add(primCase('matmul_batched_edges', 'dot_general', [A([3, 17, 40]), A([3, 40, 66])], mm([2], [1], [0], [0]), { 0: finite(3 * 17 * 40), 1: finite(3 * 40 * 66).reverse() }));
add(primCase('matmul_int32_wrap', 'dot_general', [A([65, 20], 'int32'), A([20, 70], 'int32')], mm([1], [0]), { 0: [INT_MAX, -3, 65536, 7, INT_MIN, 1], 1: [65536, 2, -1, INT_MAX, 5] }));
const mmKernel = (batch: number, m: number, n: number, k: number, a: number[], b: number[], c: number[], offsets: number[]): Kernel => ({
  kind: 'matmul', dtype: 'float32', batch, m, n, k,
  a: { arg: 0, offset: offsets[0], strides: a }, b: { arg: 1, offset: offsets[1], strides: b }, c: { arg: 2, offset: offsets[2], strides: c },
});
// Epilogues through the tiled shader's store hook: each thread runs it on each element of C it
// stores, across several tiles with edges, batches, a kept C, and int32.
for (const c of [
  ...withFiniteInputs(jaxprCases('epi_dense_tiles', makeJaxpr((x: NDArray, w: NDArray, b: NDArray) => nn.relu(np.add(np.matmul(x, w), b)))(np.zeros([70, 33]), np.zeros([33, 130]), np.zeros([130])))),
  ...withFiniteInputs(jaxprCases('epi_bmm_tiles_kept', makeJaxpr((x: NDArray, w: NDArray, b: NDArray) => { const y = np.add(np.matmul(x, w), b); return [np.matmul(x, w), np.tanh(y)]; })(np.zeros([2, 65, 20]), np.zeros([2, 20, 70]), np.zeros([65, 1])))),
  ...jaxprCases('epi_matmul_int_tiles', makeJaxpr((x: NDArray, w: NDArray) => np.greater(np.matmul(x, w), 2))(np.zeros([65, 20], { dtype: 'int32' }), np.zeros([20, 70], { dtype: 'int32' }))),
]) {
  add(c);
}
add({
  name: 'matmul_both_transposed_offsets',
  bufs: [A([3 + 2 * 50 * 70]), A([1 + 2 * 80 * 50]), A([5 + 2 * 70 * 80])],
  // A[p] stored [k, m] (column-major), B[p] stored [n, k], C[p] stored [n, m], each at an offset.
  kernels: [mmKernel(2, 70, 80, 50, [3500, 1, 70], [4000, 1, 50], [5600, 1, 70], [3, 1, 5])],
  inputs: [0, 1],
  data: { 0: finite(7003), 1: finite(8001).reverse() },
  tol: { rtol: 1e-5, atol: 1e-5, ulps: 0 },
});
add({
  name: 'matmul_broadcast_batch',
  bufs: [A([20 * 30]), A([3 * 30 * 10]), A([3 * 20 * 10])],
  // The same A for every batch entry (batch stride 0).
  kernels: [mmKernel(3, 20, 10, 30, [0, 30, 1], [300, 10, 1], [200, 10, 1], [0, 0, 0])],
  inputs: [0, 1],
  data: { 0: finite(600), 1: finite(900).reverse() },
  tol: { rtol: 1e-5, atol: 1e-5, ulps: 0 },
});

describe('generated MSL matches the CPU path', () => {
  let results: { msl: ReturnType<typeof runMsl>; cpu: ReturnType<typeof initialBuffers>[] };
  let compiled: Compiled | undefined;

  beforeAll(() => {
    const initial = cases.map((c, i) => initialBuffers(c, 1000 + i));
    const cpu = initial.map((bufs, i) => {
      const copy = bufs.map((b) => b.slice());
      runCpu(cases[i], copy);
      return copy;
    });
    compiled = compileCases(cases);
    results = { msl: runMsl(compiled.exe, cases, initial), cpu };
  });

  afterAll(() => compiled?.dispose());

  test('the cooperative cases cover every reduction form and the tiled matmul, with and without epilogues', () => {
    const kinds = new Set<string>();
    for (const c of cases) {
      for (const k of c.kernels) {
        const { passes } = mslPasses(k, c.options ?? MSL_DEFAULTS, -1);
        const launch = passes[0].launch;
        const reduction = k.kind === 'reduce' || (k.kind === 'elementwise' && k.reduce);
        if (!reduction && k.kind !== 'matmul') continue;
        const form = /(columns|one threadgroup|one SIMD-group|one thread)/.exec(generateMslKernel(k, 'k', c.options))?.[1].replace('one ', '');
        const lanes = launch.groups === 0 ? 0 : passes.length > 1 ? 'two-pass' : form;
        const kind = k.kind === 'matmul' ? `matmul ${launch.groups > 1 ? 'multi' : 'single'}` : `${k.kind} ${lanes} ${c.options?.simdgroup === false ? 'tg' : 'simd'}`;
        kinds.add(kind);
        if (epilogueOf(k)) kinds.add(`${kind} epilogue`);
      }
    }
    for (const kind of ['reduce', 'elementwise']) {
      for (const lanes of ['thread', 'columns', 'SIMD-group', 'threadgroup', 'two-pass']) {
        for (const form of ['simd', 'tg']) for (const epilogue of ['', ' epilogue']) expect(kinds).toContain(`${kind} ${lanes} ${form}${epilogue}`);
      }
    }
    expect(kinds).toContain('matmul multi');
    expect(kinds).toContain('matmul multi epilogue');
  });

  test('two passes exactly where the rule says: at most 64 outputs over at least 8192 elements', () => {
    const passes = (name: string): number[] => {
      const c = cases.find((c) => c.name === `${name}_simd`);
      if (!c) throw new Error(`no case ${name}`);
      return c.kernels.map((k) => mslPasses(k, MSL_DEFAULTS, -1).passes.length);
    };
    expect(passes('two_pass_edge_extent_below')).toEqual([1]);
    expect(passes('two_pass_edge_extent_at')).toEqual([2]);
    expect(passes('two_pass_edge_outputs_at')).toEqual([2]);
    expect(passes('two_pass_edge_outputs_above')).toEqual([1]);
    for (const name of cases.filter((c) => c.name.startsWith('two_pass_') && !c.name.includes('_edge_')).map((c) => c.name.replace(/_(simd|tg)$/, ''))) {
      expect([name, Math.max(...passes(name))]).toEqual([name, 2]);
    }
    // The split grows with the extent, up to SPLIT_GROUPS threadgroups in all.
    const scalar = cases.find((c) => c.name === 'scalar_long_sum_simd')?.kernels[0];
    expect(scalar && mslPasses(scalar, MSL_DEFAULTS, -1).passes.map((p) => p.launch.groups)).toEqual([73, 1]);
  });

  test('the pipeline produced fused kernels with many instructions', () => {
    const chain = fused.filter((c) => c.name.startsWith('chain8'));
    expect(chain).toHaveLength(1);
    const k = chain[0].kernels[0];
    expect(k.kind === 'elementwise' && k.instrs.length).toBeGreaterThanOrEqual(8);
  });

  test('the epilogue cases carry epilogues on reductions, fused reductions and matmuls', () => {
    const kinds = new Set(fused.filter((c) => c.name.startsWith('epi_')).flatMap((c) => c.kernels.filter((k) => epilogueOf(k)).map((k) => (k.kind === 'elementwise' ? 'elementwise_reduce' : k.kind))));
    expect([...kinds].sort()).toEqual(['elementwise_reduce', 'matmul', 'reduce']);
  });

  test.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const c = cases[i];
    const { msl, cpu } = results;
    c.bufs.forEach((aval, b) => {
      const m = mismatch(msl[i][b], cpu[i][b], aval.dtype, c.tol);
      if (m) throw new Error(`${c.name}: buffer ${b} (${aval.dtype}[${aval.shape.join(', ')}]): ${m}`);
    });
  });
});
