/**
 * @file Dtype behaviour, creation functions, array methods and printing: int32/uint32 arithmetic
 * (wraparound, truncating division, integer pow), bool ops, JAX's weak-type promotion, zeros / ones /
 * full / arange / linspace / eye / zerosLike / onesLike, the NDArray methods, and toArray / data /
 * item / toString. Each table row is checked eagerly and under jit against hand-computed values.
 */

import { Array as MgArray, DType, jit, lax, NestedArray, numpy as np } from 'metalgrad';

const i32 = (d: number[]) => np.array(d, { dtype: 'int32' });
const u32 = (d: number[]) => np.array(d, { dtype: 'uint32' });
const f32 = (d: number[]) => np.array(d);
const INT_MAX = 2147483647;
const INT_MIN = -2147483648;
const UINT_MAX = 4294967295;

/** Rounds every number of a nested array to float32, as a float32 array stores it. */
const fround = (x: NestedArray): NestedArray => (globalThis.Array.isArray(x) ? x.map(fround) : typeof x === 'number' ? Math.fround(x) : x);

interface Case {
  name: string;
  run: () => MgArray;
  dtype: DType;
  /** Expected weak type (checked only when given). */
  weak?: boolean;
  expected: NestedArray;
}

/** Eager and jit results must both have the dtype (and weak type) and the exact values. */
function testCases(title: string, cases: Case[]): void {
  describe(title, () => {
    test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const expected = c.dtype === 'float32' ? fround(c.expected) : c.expected;
      for (const [mode, x] of [['eager', c.run()], ['jit', jit(c.run)()]] as const) {
        expect({ mode, dtype: x.dtype }).toEqual({ mode, dtype: c.dtype });
        if (c.weak !== undefined) expect({ mode, weak: x.weakType }).toEqual({ mode, weak: c.weak });
        expect({ mode, value: x.toArray() }).toEqual({ mode, value: expected });
      }
    });
  });
}

testCases('int32 arithmetic', [
  { name: 'add wraps around', run: () => np.add(i32([INT_MAX, INT_MIN, 5]), i32([1, -1, -7])), dtype: 'int32', expected: [INT_MIN, INT_MAX, -2] },
  { name: 'multiply wraps around', run: () => np.multiply(i32([65536, 46341, -3]), i32([65536, 46341, 7])), dtype: 'int32', expected: [0, -2147479015, -21] },
  { name: 'subtract wraps around', run: () => np.subtract(i32([INT_MIN]), 1), dtype: 'int32', expected: [INT_MAX] },
  { name: 'lax.div truncates toward zero', run: () => lax.div(i32([7, -7, 7, -7, 6]), i32([2, 2, -2, -2, 3])), dtype: 'int32', expected: [3, -3, -3, 3, 2] },
  { name: 'np.divide of ints is true division', run: () => np.divide(i32([7, -7]), 2), dtype: 'float32', expected: [3.5, -3.5] },
  { name: 'integer power', run: () => np.power(i32([2, 3, -2, 5, 0]), i32([10, 3, 3, 0, 0])), dtype: 'int32', expected: [1024, 27, -8, 1, 1] },
  { name: 'integer power by a weak int', run: () => np.power(i32([2, -3, 7]), 2), dtype: 'int32', expected: [4, 9, 49] },
  { name: 'negative, abs, sign', run: () => np.stack([np.negative(i32([3, -4, 0])), np.abs(i32([3, -4, 0])), np.sign(i32([3, -4, 0]))]), dtype: 'int32', expected: [[-3, 4, 0], [3, 4, 0], [1, -1, 0]] },
  { name: 'maximum / minimum with a weak int', run: () => np.stack([np.maximum(i32([3, -4]), 0), np.minimum(i32([3, -4]), 0)]), dtype: 'int32', expected: [[3, 0], [0, -4]] },
  { name: 'sum and prod stay int32', run: () => np.stack([np.sum(i32([1, 2, 3, 4])), np.prod(i32([1, 2, 3, 4]))]), dtype: 'int32', expected: [10, 24] },
  { name: 'mean of ints is float32', run: () => np.mean(i32([1, 2])), dtype: 'float32', expected: 1.5 },
  { name: 'astype float32 → int32 saturates', run: () => np.astype(f32([3e9, -3e9, 2.9, -2.9]), 'int32'), dtype: 'int32', expected: [INT_MAX, INT_MIN, 2, -2] },
]);

testCases('uint32 arithmetic', [
  { name: 'subtract wraps around', run: () => np.subtract(u32([1, 5]), 2), dtype: 'uint32', expected: [UINT_MAX, 3] },
  { name: 'add wraps around', run: () => np.add(u32([UINT_MAX]), 1), dtype: 'uint32', expected: [0] },
  { name: 'values above INT_MAX compare and divide as unsigned', run: () => lax.div(u32([7, 4000000000]), u32([2, 3])), dtype: 'uint32', expected: [3, 1333333333] },
  { name: 'maximum is unsigned', run: () => np.maximum(u32([4000000000, 1]), u32([1, 2])), dtype: 'uint32', expected: [4000000000, 2] },
  { name: 'less is unsigned', run: () => np.less(u32([4000000000, 1]), u32([1, 2])), dtype: 'bool', expected: [false, true] },
  { name: 'sum wraps modulo 2^32', run: () => np.sum(u32([4000000000, 1000000000])), dtype: 'uint32', expected: 705032704 },
  { name: 'astype uint32 → float32', run: () => np.astype(u32([UINT_MAX, 3]), 'float32'), dtype: 'float32', expected: [4294967296, 3] },
]);

testCases('bool ops', [
  { name: 'logicalAnd', run: () => np.logicalAnd(np.array([true, true, false, false]), np.array([true, false, true, false])), dtype: 'bool', expected: [true, false, false, false] },
  { name: 'logicalOr', run: () => np.logicalOr(np.array([true, true, false, false]), np.array([true, false, true, false])), dtype: 'bool', expected: [true, true, true, false] },
  { name: 'logicalNot', run: () => np.logicalNot(np.array([true, false])), dtype: 'bool', expected: [false, true] },
  { name: 'logicalNot of int32 (truthiness)', run: () => np.logicalNot(i32([0, 3, -1])), dtype: 'bool', expected: [true, false, false] },
  { name: 'equal on bools', run: () => np.equal(np.array([true, false]), np.array([true, true])), dtype: 'bool', expected: [true, false] },
  { name: 'bool + bool is int32', run: () => np.add(np.array([true, false]), np.array([true, true])), dtype: 'int32', expected: [2, 1] },
  { name: 'sum of bools counts', run: () => np.sum(np.array([true, false, true])), dtype: 'int32', expected: 2 },
  { name: 'where with an int32 condition', run: () => np.where(i32([0, 2, -1]), f32([1, 1, 1]), 0), dtype: 'float32', expected: [0, 1, 1] },
  { name: 'astype int32 → bool', run: () => np.astype(i32([0, -3, 2]), 'bool'), dtype: 'bool', expected: [false, true, true] },
]);

testCases('weak-type promotion (JAX rules)', [
  { name: 'float32 array * 2 → float32', run: () => np.multiply(f32([1, 2]), 2), dtype: 'float32', weak: false, expected: [2, 4] },
  { name: 'int32 array + 1 → int32', run: () => np.add(i32([1, 2]), 1), dtype: 'int32', weak: false, expected: [2, 3] },
  { name: 'int32 array + 1.5 → float32', run: () => np.add(i32([1, 2]), 1.5), dtype: 'float32', weak: false, expected: [2.5, 3.5] },
  { name: 'uint32 array + 1 → uint32', run: () => np.add(u32([1]), 1), dtype: 'uint32', weak: false, expected: [2] },
  { name: 'bool array * 1.5 → float32', run: () => np.multiply(np.array([true, false]), 1.5), dtype: 'float32', expected: [1.5, 0] },
  { name: 'float32 array + int32 array → float32', run: () => np.add(f32([1.5]), i32([1])), dtype: 'float32', weak: false, expected: [2.5] },
  { name: 'int32 + uint32 → int32 (no 64-bit types)', run: () => np.add(u32([1]), i32([1])), dtype: 'int32', expected: [2] },
  { name: '2 + 3 → weak int32', run: () => np.add(2, 3), dtype: 'int32', weak: true, expected: 5 },
  { name: '2 + 0.5 → weak float32', run: () => np.add(2, 0.5), dtype: 'float32', weak: true, expected: 2.5 },
  { name: 'rank-0 float32 array * 2 stays strong', run: () => np.multiply(np.array(3), 2), dtype: 'float32', weak: false, expected: 6 },
]);

testCases('creation', [
  { name: 'np.array of numbers is float32', run: () => np.array([1, 2]), dtype: 'float32', weak: false, expected: [1, 2] },
  { name: 'np.array with dtype int32', run: () => np.array([1, 2], { dtype: 'int32' }), dtype: 'int32', expected: [1, 2] },
  { name: 'np.array of booleans is bool', run: () => np.array([[true], [false]]), dtype: 'bool', expected: [[true], [false]] },
  { name: 'np.array of an Int32Array is int32', run: () => np.array(new Int32Array([4, -5])), dtype: 'int32', expected: [4, -5] },
  { name: 'np.array with a shape', run: () => np.array([1, 2, 3, 4, 5, 6], { shape: [2, 3] }), dtype: 'float32', expected: [[1, 2, 3], [4, 5, 6]] },
  { name: 'zeros', run: () => np.zeros([2, 3]), dtype: 'float32', expected: [[0, 0, 0], [0, 0, 0]] },
  { name: 'zeros int32 from a number shape', run: () => np.zeros(3, { dtype: 'int32' }), dtype: 'int32', expected: [0, 0, 0] },
  { name: 'ones', run: () => np.ones([2, 1]), dtype: 'float32', expected: [[1], [1]] },
  { name: 'ones rank 0', run: () => np.ones([]), dtype: 'float32', expected: 1 },
  { name: 'full with a number', run: () => np.full([2], 7.5), dtype: 'float32', expected: [7.5, 7.5] },
  { name: 'full with a boolean', run: () => np.full([2], true), dtype: 'bool', expected: [true, true] },
  { name: 'full int32 truncates', run: () => np.full([2], 7.9, { dtype: 'int32' }), dtype: 'int32', expected: [7, 7] },
  { name: 'arange(3) is int32', run: () => np.arange(3), dtype: 'int32', expected: [0, 1, 2] },
  { name: 'arange(2, 8, 2)', run: () => np.arange(2, 8, 2), dtype: 'int32', expected: [2, 4, 6] },
  { name: 'arange(5, 0, -2)', run: () => np.arange(5, 0, -2), dtype: 'int32', expected: [5, 3, 1] },
  { name: 'arange with a float step', run: () => np.arange(0, 1, 0.25), dtype: 'float32', expected: [0, 0.25, 0.5, 0.75] },
  { name: 'arange(0, 1, 0.1) has 10 elements', run: () => np.arange(0, 1, 0.1), dtype: 'float32', expected: [0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8, 0.9] },
  { name: 'arange with dtype float32', run: () => np.arange(3, { dtype: 'float32' }), dtype: 'float32', expected: [0, 1, 2] },
  { name: 'arange empty', run: () => np.arange(3, 1), dtype: 'int32', expected: [] },
  { name: 'linspace', run: () => np.linspace(0, 1, 5), dtype: 'float32', expected: [0, 0.25, 0.5, 0.75, 1] },
  { name: 'linspace endpoint false', run: () => np.linspace(0, 1, 5, { endpoint: false }), dtype: 'float32', expected: [0, 0.2, 0.4, 0.6000000000000001, 0.8] },
  { name: 'linspace decreasing', run: () => np.linspace(2, -1, 4), dtype: 'float32', expected: [2, 1, 0, -1] },
  { name: 'linspace num 1', run: () => np.linspace(3, 9, 1), dtype: 'float32', expected: [3] },
  { name: 'eye(3)', run: () => np.eye(3), dtype: 'float32', expected: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] },
  { name: 'eye(3, 4, k=1)', run: () => np.eye(3, 4, { k: 1 }), dtype: 'float32', expected: [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] },
  { name: 'eye(3, k=-1, int32)', run: () => np.eye(3, null, { k: -1, dtype: 'int32' }), dtype: 'int32', expected: [[0, 0, 0], [1, 0, 0], [0, 1, 0]] },
  { name: 'eye(2, 3, k=5) is all zeros', run: () => np.eye(2, 3, { k: 5 }), dtype: 'float32', expected: [[0, 0, 0], [0, 0, 0]] },
  { name: 'zerosLike keeps the dtype', run: () => np.zerosLike(i32([1, 2])), dtype: 'int32', expected: [0, 0] },
  { name: 'onesLike keeps the shape', run: () => np.onesLike(np.array([[1, 2, 3]])), dtype: 'float32', expected: [[1, 1, 1]] },
  { name: 'onesLike with a dtype', run: () => np.onesLike(i32([1, 2]), { dtype: 'bool' }), dtype: 'bool', expected: [true, true] },
]);

// ---------------------------------------------------------------------------------------------
// Methods: each must agree with its numpy function (whose values the op tables check).

const X = np.array([[1.5, -2, 3], [0.25, 5, -1]]);
const Y = np.array([2, 0.5, -4]);
const P = np.array([[0.5, 1.5, 2], [1, 3, 0.25]]);

const METHODS: [string, () => MgArray, () => MgArray][] = [
  ['x.add(y)', () => X.add(Y), () => np.add(X, Y)],
  ['x.add(2)', () => X.add(2), () => np.add(X, 2)],
  ['x.sub(y)', () => X.sub(Y), () => np.subtract(X, Y)],
  ['x.mul(y)', () => X.mul(Y), () => np.multiply(X, Y)],
  ['x.div(y)', () => X.div(Y), () => np.divide(X, Y)],
  ['x.pow(y)', () => P.pow(Y), () => np.power(P, Y)],
  ['x.neg()', () => X.neg(), () => np.negative(X)],
  ['x.abs()', () => X.abs(), () => np.abs(X)],
  ['x.exp()', () => X.exp(), () => np.exp(X)],
  ['x.log()', () => P.log(), () => np.log(P)],
  ['x.sqrt()', () => P.sqrt(), () => np.sqrt(P)],
  ['x.tanh()', () => X.tanh(), () => np.tanh(X)],
  ['x.sin()', () => X.sin(), () => np.sin(X)],
  ['x.cos()', () => X.cos(), () => np.cos(X)],
  ['x.maximum(y)', () => X.maximum(Y), () => np.maximum(X, Y)],
  ['x.minimum(y)', () => X.minimum(Y), () => np.minimum(X, Y)],
  ['x.lt(y)', () => X.lt(Y), () => np.less(X, Y)],
  ['x.le(y)', () => X.le(Y), () => np.lessEqual(X, Y)],
  ['x.gt(y)', () => X.gt(Y), () => np.greater(X, Y)],
  ['x.ge(y)', () => X.ge(Y), () => np.greaterEqual(X, Y)],
  ['x.eq(y)', () => X.eq(Y), () => np.equal(X, Y)],
  ['x.ne(y)', () => X.ne(Y), () => np.notEqual(X, Y)],
  ['x.sum()', () => X.sum(), () => np.sum(X)],
  ['x.sum({axis: 0})', () => X.sum({ axis: 0 }), () => np.sum(X, { axis: 0 })],
  ['x.mean({axis: 1, keepdims})', () => X.mean({ axis: 1, keepdims: true }), () => np.mean(X, { axis: 1, keepdims: true })],
  ['x.max({axis: -1})', () => X.max({ axis: -1 }), () => np.max(X, { axis: -1 })],
  ['x.min()', () => X.min(), () => np.min(X)],
  ['x.prod({axis: 0})', () => X.prod({ axis: 0 }), () => np.prod(X, { axis: 0 })],
  ['x.argmax({axis: 1})', () => X.argmax({ axis: 1 }), () => np.argmax(X, { axis: 1 })],
  ['x.argmin()', () => X.argmin(), () => np.argmin(X)],
  ['x.var({ddof: 1})', () => X.var({ ddof: 1 }), () => np.var(X, { ddof: 1 })],
  ['x.reshape([3, -1])', () => X.reshape([3, -1]), () => np.reshape(X, [3, 2])],
  ['x.reshape(6)', () => X.reshape(6), () => np.reshape(X, [6])],
  ['x.flatten()', () => X.flatten(), () => np.reshape(X, [6])],
  ['x.transpose()', () => X.transpose(), () => np.transpose(X)],
  ['x.T', () => X.T, () => np.transpose(X, [1, 0])],
  ['x.squeeze()', () => X.reshape([1, 6, 1]).squeeze(), () => np.reshape(X, [6])],
  ['x.expandDims(1)', () => X.expandDims(1), () => np.reshape(X, [2, 1, 3])],
  ['x.broadcastTo([4, 2, 3])', () => X.broadcastTo([4, 2, 3]), () => np.broadcastTo(X, [4, 2, 3])],
  ['x.matmul(y)', () => X.matmul(Y), () => np.matmul(X, Y)],
  ['x.dot(x.T)', () => X.dot(X.T), () => np.dot(X, np.transpose(X))],
  ['x.astype(int32)', () => X.astype('int32'), () => np.astype(X, 'int32')],
  ['x.clip(-1, 2)', () => X.clip(-1, 2), () => np.clip(X, -1, 2)],
];

describe('array methods', () => {
  test.each(METHODS)('%s', (_name, method, fn) => {
    const a = method();
    const b = fn();
    expect([a.dtype, a.shape, a.toArray()]).toEqual([b.dtype, b.shape, b.toArray()]);
    const j = jit(method)();
    expect([j.dtype, j.shape, j.toArray()]).toEqual([b.dtype, b.shape, b.toArray()]);
  });

  test('methods compute the expected values', () => {
    expect(X.add(Y).toArray()).toEqual([[3.5, -1.5, -1], [2.25, 5.5, -5]]);
    expect(X.sum({ axis: 0 }).toArray()).toEqual([1.75, 3, 2]);
    expect(X.T.shape).toEqual([3, 2]);
    expect(X.T.toArray()).toEqual([[1.5, 0.25], [-2, 5], [3, -1]]);
    expect(X.argmax({ axis: 1 }).toArray()).toEqual([2, 1]);
    expect(X.reshape([3, -1]).toArray()).toEqual([[1.5, -2], [3, 0.25], [5, -1]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Reading data back and printing.

describe('toArray, data, item', () => {
  test.each([
    ['float32', f32([1.5, 2]), Float32Array, [1.5, 2]],
    ['int32', i32([-1, 2]), Int32Array, [-1, 2]],
    ['uint32', u32([UINT_MAX, 2]), Uint32Array, [UINT_MAX, 2]],
    ['bool', np.array([true, false]), Uint8Array, [1, 0]],
  ] as const)('data() of %s is a copy in the matching typed array', (_d, x, Ctor, values) => {
    const d = x.data();
    expect(d).toBeInstanceOf(Ctor);
    expect(globalThis.Array.from(d as ArrayLike<number>)).toEqual(values);
    d[0] = 0;
    expect(globalThis.Array.from(x.data() as ArrayLike<number>)).toEqual(values);
  });

  test('toArray nests by shape, with booleans for bool arrays', () => {
    expect(np.reshape(np.arange(6), [2, 1, 3]).toArray()).toEqual([[[0, 1, 2]], [[3, 4, 5]]]);
    expect(np.array([[true, false]]).toArray()).toEqual([[true, false]]);
    expect(np.array(2.5).toArray()).toBe(2.5);
    expect(np.zeros([2, 0]).toArray()).toEqual([[], []]);
  });

  test('item returns the single value and rejects larger arrays', () => {
    expect(np.array(2.5).item()).toBe(2.5);
    expect(i32([7]).item()).toBe(7);
    expect(np.array([[true]]).item()).toBe(1); // item() always returns a number
    expect(() => f32([1, 2]).item()).toThrow(/exactly one element.*shape \[2\]/);
  });
});

describe('toString', () => {
  test.each([
    ['2-D float32', () => np.array([[1, 2], [3, 4]]), 'Array([[1., 2.],\n       [3., 4.]], dtype=float32)'],
    ['1-D int32', () => i32([1, -2, 3]), 'Array([1, -2, 3], dtype=int32)'],
    ['uint32', () => u32([UINT_MAX]), `Array([${UINT_MAX}], dtype=uint32)`],
    ['bool', () => np.array([true, false]), 'Array([True, False], dtype=bool)'],
    ['rank-0 float32', () => np.array(3.5), 'Array(3.5, dtype=float32)'],
    ['rank-0 int32', () => np.add(2, 3), 'Array(5, dtype=int32)'],
    ['non-integer float32 values', () => f32([0.1, -0.5, 1e-8]), 'Array([0.1, -0.5, 1e-8], dtype=float32)'],
    ['nan and infinities', () => f32([NaN, Infinity, -Infinity]), 'Array([nan, inf, -inf], dtype=float32)'],
    ['long axes are summarised', () => np.arange(200), 'Array([0, 1, 2, ..., 197, 198, 199], dtype=int32)'],
    ['empty', () => np.zeros([0]), 'Array([], dtype=float32)'],
  ] as const)('%s', (_name, make, expected) => {
    expect(make().toString()).toBe(expected);
    expect(String(make())).toBe(expected);
  });

  test('3-D rows are indented under their opening bracket', () => {
    // Only the rows are asserted: numpy also puts a blank line between the 2-D blocks.
    const s = np.reshape(np.arange(8), [2, 2, 2]).toString();
    expect(s.startsWith('Array([[[0, 1],\n        [2, 3]],\n')).toBe(true);
    expect(s.endsWith('       [[4, 5],\n        [6, 7]]], dtype=int32)')).toBe(true);
  });
});
