/**
 * @file Op table, bitwise part: xor, the three shifts (amounts of 32 or more, and negative ones, as
 * XLA), bitcastConvertType, and erf_inv (with its derivative), through lax and numpy. Each row is
 * checked by `testRows` (test/reference.ts) under eager, jit, vmap, grad and jvp/vjp.
 */

import { Array as MgArray, jit, lax, numpy as np } from 'metalgrad';
import { bitsF32, erfInv, f32Bits, map, Row, testRows, zip } from './reference';

const I32 = (lo: number, hi: number, shape = [3, 4]) => ({ shape, dtype: 'int32' as const, lo, hi });
const U32 = (lo: number, hi: number, shape = [3, 4]) => ({ shape, dtype: 'uint32' as const, lo, hi });

/** Shift amounts read as unsigned (so negative ones are huge); 32 or more shifts every bit out. */
const amount = (b: number): number => b >>> 0;
const shl = (a: number, b: number): number => (amount(b) >= 32 ? 0 : a << amount(b));
const shrl = (a: number, b: number): number => (amount(b) >= 32 ? 0 : a >>> amount(b));
const shra = (a: number, b: number): number => (amount(b) >= 32 ? (a < 0 ? -1 : 0) : a >> amount(b));
/** The uint32 value of an int32 bit pattern, and back. */
const asU32 = (x: number): number => x >>> 0;
const asI32 = (x: number): number => x | 0;

testRows([
  {
    name: 'erf_inv',
    args: [{ shape: [3, 4], lo: -0.95, hi: 0.95 }],
    f: lax.erfInv,
    ref: (x) => map(x, erfInv),
    tol: { rtol: 2e-6, atol: 1e-6 },
    inAxes: [1],
  },
  { name: 'erf_inv (rank 0)', args: [{ shape: [], lo: -0.9, hi: 0.9 }], f: lax.erfInv, ref: (x) => map(x, erfInv), tol: { rtol: 2e-6, atol: 1e-6 } },
  {
    name: 'bitwiseXor int32 [3,4] [4]',
    args: [I32(-2147483648, 2147483647), I32(-2147483648, 2147483647, [4])],
    f: np.bitwiseXor,
    ref: (a, b) => zip((u, v) => u ^ v, a, b),
    dtype: 'int32',
    inAxes: [1, null],
  },
  {
    name: 'bitwiseXor uint32 with a rank-0 operand',
    args: [U32(0, 4294967295), U32(0, 4294967295, [])],
    f: np.bitwiseXor,
    ref: (a, b) => zip((u, v) => asU32(u ^ v), a, b),
    dtype: 'uint32',
    inAxes: [0, 0],
  },
  {
    name: 'bitwiseXor bool',
    args: [{ shape: [3, 4], dtype: 'bool' }, { shape: [3, 4], dtype: 'bool' }],
    f: np.bitwiseXor,
    ref: (a, b) => zip((u, v) => Number(u !== v), a, b),
    dtype: 'bool',
  },
  {
    name: 'shiftLeft int32 (amounts -3..40)',
    args: [I32(-100000, 100000), I32(-3, 40)],
    f: lax.shiftLeft,
    ref: (a, b) => zip(shl, a, b),
    dtype: 'int32',
    inAxes: [1, null],
  },
  {
    name: 'shiftRightLogical int32 (amounts -3..40)',
    args: [I32(-100000, 100000), I32(-3, 40)],
    f: lax.shiftRightLogical,
    ref: (a, b) => zip((u, v) => asI32(shrl(u, v)), a, b),
    dtype: 'int32',
  },
  {
    name: 'shiftRightArithmetic int32 (amounts -3..40)',
    args: [I32(-100000, 100000), I32(-3, 40)],
    f: lax.shiftRightArithmetic,
    ref: (a, b) => zip(shra, a, b),
    dtype: 'int32',
    inAxes: [null, 1],
  },
  {
    name: 'shiftLeft uint32 by a rank-0 amount',
    args: [U32(0, 4294967295), U32(0, 36, [])],
    f: lax.shiftLeft,
    ref: (a, b) => zip((u, v) => asU32(shl(u, v)), a, b),
    dtype: 'uint32',
  },
  {
    name: 'shiftRightArithmetic uint32 fills with the top bit',
    args: [U32(0, 4294967295), U32(0, 40)],
    f: lax.shiftRightArithmetic,
    ref: (a, b) => zip((u, v) => asU32(shra(asI32(u), v)), a, b),
    dtype: 'uint32',
  },
  {
    name: 'rightShift uint32 is logical',
    args: [U32(0, 4294967295), U32(0, 40, [4])],
    f: np.rightShift,
    ref: (a, b) => zip((u, v) => shrl(u, v), a, b),
    dtype: 'uint32',
  },
  {
    name: 'rightShift int32 is arithmetic',
    args: [I32(-100000, 100000), I32(0, 34, [4])],
    f: np.rightShift,
    ref: (a, b) => zip(shra, a, b),
    dtype: 'int32',
  },
  {
    name: 'bitcastConvertType float32 → uint32',
    args: [{ shape: [3, 4], lo: -1e3, hi: 1e3 }],
    f: (x) => lax.bitcastConvertType(x, 'uint32'),
    ref: (x) => map(x, f32Bits),
    dtype: 'uint32',
    inAxes: [1],
  },
  {
    name: 'bitcastConvertType uint32 → float32',
    args: [U32(0, 4294967295)],
    f: (x) => lax.bitcastConvertType(x, 'float32'),
    ref: (x) => map(x, bitsF32),
    tol: { rtol: 0, atol: 0 },
    grad: false,
  },
  {
    name: 'bitcastConvertType int32 → float32 → int32 round trip',
    args: [I32(-2147483648, 2147483647)],
    f: (x) => lax.bitcastConvertType(lax.bitcastConvertType(x, 'float32'), 'int32'),
    ref: (x) => x,
    dtype: 'int32',
  },
  {
    name: 'bitcastConvertType float32 → int32 → float32 has zero gradient',
    args: [{ shape: [4] }],
    f: (x) => np.add(np.multiply(x, 2), lax.bitcastConvertType(lax.bitcastConvertType(x, 'int32'), 'float32')),
    ref: (x) => map(x, (v) => 3 * v),
    grad: false,
  },
] as Row[]);

describe('bitwise numpy functions', () => {
  const i32 = (d: number[]) => np.array(d, { dtype: 'int32' });
  const u32 = (d: number[]) => np.array(d, { dtype: 'uint32' });
  test.each([
    ['bitwiseAnd', () => np.bitwiseAnd(i32([12, -1]), 10), 'int32', [8, 10]],
    ['bitwiseOr', () => np.bitwiseOr(u32([12, 1]), 3), 'uint32', [15, 3]],
    ['bitwiseXor of weak ints', () => np.bitwiseXor(6, 3), 'int32', 5],
    ['invert int32', () => np.invert(i32([0, -1, 5])), 'int32', [-1, 0, -6]],
    ['bitwiseNot uint32', () => np.bitwiseNot(u32([0])), 'uint32', [4294967295]],
    ['invert bool is logical', () => np.invert(np.array([true, false])), 'bool', [false, true]],
    ['leftShift past the width', () => np.leftShift(i32([1, 1, 1]), i32([4, 31, 32])), 'int32', [16, -2147483648, 0]],
    ['rightShift int32 sign-fills', () => np.rightShift(i32([-16, -1]), i32([2, 40])), 'int32', [-4, -1]],
    ['rightShift uint32 zero-fills', () => np.rightShift(u32([4294967280]), 2), 'uint32', [1073741820]],
    ['astype of a rank-0 int32 to uint32 wraps', () => np.astype(np.array(-1, { dtype: 'int32' }), 'uint32'), 'uint32', 4294967295],
    ['astype of a rank-0 uint32 to int32 wraps', () => np.astype(np.array(4294967295, { dtype: 'uint32' }), 'int32'), 'int32', -1],
  ] as const)('%s', (_name, run, dtype, expected) => {
    for (const x of [run(), jit(run)()] as MgArray[]) {
      expect(x.dtype).toBe(dtype);
      expect(x.toArray()).toEqual(expected);
    }
  });

  test('float operands are rejected with a clear error', () => {
    expect(() => np.bitwiseXor(np.array([1.5]), 1)).toThrow(/bitwiseXor: operands must be integer or bool arrays, received float32/);
    expect(() => np.leftShift(np.array([true]), np.array([false]))).toThrow(/leftShift: operands must be integer arrays, received bool/);
    expect(() => lax.shiftLeft(np.array([1]), np.array([1]))).toThrow(/shift_left: operands must be int32 or uint32, received float32/);
    expect(() => lax.bitcastConvertType(np.array([true]), 'int32')).toThrow(/bitcastConvertType: the operand must be float32 or int32 or uint32 \(32-bit\), received bool/);
    expect(() => lax.bitcastConvertType(np.array([1]), 'bool')).toThrow(/bitcastConvertType: the new dtype must be .*received bool/);
    expect(() => lax.erfInv(np.array([1], { dtype: 'int32' }))).toThrow(/erf_inv: operands must be float32, received int32/);
  });

  test('erf_inv edge values', () => {
    expect(Array.from(lax.erfInv(np.array([1, -1, 0, 1.5, NaN])).data())).toEqual([Infinity, -Infinity, 0, NaN, NaN]);
  });
});
