/**
 * @file Misuse gives clear errors: each message names the function, the argument, and what was wrong.
 * The native addon rejects malformed programs with JS errors instead of crashing the process.
 */

import * as path from 'path';
import { grad, jacrev, jit, jvp, NDArray, numpy as np, tree, valueAndGrad, vjp, vmap } from 'metalgrad';

type Row = [name: string, thunk: () => unknown, fragments: (string | RegExp)[]];

/**
 * Runs `thunk`, asserts that it throws an Error (of `kind` by name: errors from the addon come from
 * another realm, so `instanceof` cannot be used) whose message contains every fragment.
 */
function expectThrows(thunk: () => unknown, fragments: (string | RegExp)[], kind: 'Error' | 'TypeError' | 'RangeError' = 'Error'): Error {
  let caught: unknown;
  try {
    thunk();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected an error containing ${fragments.map(String).join(' … ')}, but nothing was thrown`);
  expect(Object.prototype.toString.call(caught)).toBe('[object Error]');
  if (kind !== 'Error') expect((caught as Error).name).toBe(kind);
  const message = (caught as Error).message;
  for (const f of fragments) {
    if (typeof f === 'string') expect(message).toContain(f);
    else expect(message).toMatch(f);
  }
  return caught as Error;
}

const runTable = (rows: Row[]) =>
  test.each(rows)('%s', (_name, thunk, fragments) => {
    expectThrows(thunk, fragments);
  });

class Point {
  x = 1;
}

const m23 = () => np.ones([2, 3]);

describe('shapes and axes', () => {
  runTable([
    ['add of incompatible shapes shows both', () => np.add(np.ones([2, 3]), np.ones([4])), ['add:', 'could not be broadcast', '(2, 3)', '(4,)']],
    ['multiply of transposed shapes', () => np.multiply(np.ones([2, 3]), np.ones([3, 2])), ['multiply:', '(2, 3)', '(3, 2)']],
    ['where with incompatible branches', () => np.where(np.ones([2]), np.ones([3]), 1), ['where:', '(2,)', '(3,)']],
    ['broadcastTo a smaller shape', () => np.broadcastTo(m23(), [3, 3]), ['broadcastTo:', '(2, 3)', '(3, 3)']],
    ['sum over an axis past the rank', () => np.sum(m23(), { axis: 2 }), ['sum:', 'argument `axis`', 'is 2', 'rank 2', '-2 <= axis < 2']],
    ['sum over a too-negative axis', () => np.sum(m23(), { axis: -3 }), ['sum:', 'is -3', 'out of range']],
    ['sum over a repeated axis', () => np.sum(m23(), { axis: [0, -2] }), ['sum:', '`axis`', 'repeated axes']],
    ['mean over a fractional axis', () => np.mean(m23(), { axis: 0.5 }), ['mean:', '`axis`', 'must be an integer', 'number 0.5']],
    ['argmax over an axis past the rank', () => np.argmax(m23(), { axis: 5 }), ['argmax:', '`axis`', 'is 5', 'rank 2']],
    ['concatenate along a missing axis', () => np.concatenate([m23(), m23()], { axis: 2 }), ['concatenate:', '`axis`', 'is 2']],
    ['concatenate of mismatched shapes', () => np.concatenate([m23(), np.ones([2, 4])], { axis: 0 }), ['concatenate:', 'arrays[1]', '(2, 4)', '(2, 3)']],
    ['concatenate of scalars', () => np.concatenate([np.array(1), np.array(2)]), ['concatenate:', 'zero-dimensional']],
    ['stack of different shapes', () => np.stack([m23(), np.ones([3])]), ['stack:', 'arrays[1]', '(3,)']],
    ['expandDims past the result rank', () => np.expandDims(m23(), 4), ['expandDims:', '`axis`', 'is 4', 'rank 3']],
    ['squeeze of an axis whose size is not 1', () => np.squeeze(m23(), { axis: 1 }), ['squeeze:', 'axis 1', '(2, 3)', 'size is 3, not 1']],
    ['squeeze of a missing axis', () => np.squeeze(m23(), { axis: 3 }), ['squeeze:', '`axis`', 'is 3']],
    ['transpose with a repeated axis', () => np.transpose(m23(), [0, 0]), ['transpose:', '`axes`', 'repeats an axis']],
    ['transpose with too few axes', () => np.transpose(m23(), [0]), ['transpose:', '`axes`', 'a permutation of 2 axes']],
    ['reshape to a different size', () => np.reshape(m23(), [4, 2]), ['reshape:', '(2, 3)', '6 elements', '(4, 2)']],
    ['reshape with an impossible -1', () => np.reshape(m23(), [4, -1]), ['reshape:', '(4, -1)']],
    ['reshape with two -1', () => np.reshape(m23(), [-1, -1]), ['reshape:', 'at most one -1']],
    ['matmul with mismatched inner dimensions', () => np.matmul(np.ones([2, 3]), np.ones([4, 2])), ['matmul:', '(2, 3)', '(4, 2)', 'not aligned', '(3) != ', '(4)']],
    ['matmul of a scalar', () => np.matmul(np.array(1), np.ones([2])), ['matmul:', 'at least 1-D']],
    ['dot with mismatched dimensions', () => np.dot(np.ones([2, 3]), np.ones([2])), ['dot:', '(2, 3)', '(2,)', 'not aligned']],
    ['max over an empty axis', () => np.max(np.ones([0])), ['max:', 'empty axis']],
  ]);
});

describe('array construction and dtypes', () => {
  runTable([
    ['ragged nested arrays', () => np.array([[1, 2], [3]]), ['array:', '`data`', 'ragged', 'data[1]', 'length 2']],
    ['a number where a row was expected', () => np.array([[1, 2], 3]), ['array:', 'ragged', 'data[1]', 'number 3']],
    ['a string element', () => np.array([1, 'a']), ['array:', '`data[1]`', 'a number or a boolean', 'string "a"']],
    ['data length not matching shape', () => np.array([1, 2, 3], { shape: [2, 2] }), ['array:', '`data` has 3 elements', '(2, 2)', 'needs 4']],
    ['an unknown dtype for array', () => np.array([1], { dtype: 'float64' as any }), ['array:', '`dtype`', "'float32'", 'string "float64"']],
    ['an unknown dtype for zeros', () => np.zeros([1], { dtype: 'f32' as any }), ['zeros:', '`dtype`', 'string "f32"']],
    ['an unknown dtype for astype', () => np.astype(m23(), 'int64' as any), ['astype:', '`dtype`', 'string "int64"']],
    ['a negative dimension', () => np.zeros([-1]), ['zeros:', '`shape`', 'non-negative integers']],
    ['a string shape', () => np.ones('a' as any), ['ones:', '`shape`', 'string "a"']],
    ['a string fill value', () => np.full([2], 'a' as any), ['full:', '`fillValue`', 'string "a"']],
    ['arange with step 0', () => np.arange(0, 1, 0), ['arange:', '`step`', 'must not be 0']],
    ['reading item() of a non-scalar', () => m23().item(), ['item', 'exactly one element', '[2, 3]', '6 elements']],
    ['reduction options that are not an object', () => np.sum(m23(), 1 as any), ['sum:', '`options`', 'number 1']],
  ]);
});

describe('non-array arguments', () => {
  runTable([
    ['a string to add', () => np.add('a' as any, 1), ['add:', 'argument `x`', 'string "a"']],
    ['an object of a class to sin', () => np.sin(new Point() as any), ['sin:', 'argument `x`', 'a Point']],
    ['undefined to exp', () => np.exp(undefined as any), ['exp:', 'argument `x`', 'received undefined']],
    ['null as the second operand', () => np.multiply(1, null as any), ['multiply:', 'argument `y`', 'received null']],
    ['a string to grad', () => grad((a: any) => a)('a'), ['grad:', 'argument `args[0]`', 'string "a"']],
    ['a class object nested in grad params', () => grad((p: any) => np.sum(p.w))({ w: np.ones([2]), b: new Point() }), ['grad:', '`args[0].b`', 'a Point']],
    ['a string to a non-first argnum', () => grad((a: any, b: any) => b, { argnums: 1 })(1, 'b'), ['grad:', 'argnums [1]', 'string "b"']],
    ['a string to jit', () => jit((a: any) => a)('a'), ['jit:', '`args[0]`', 'string "a"']],
    ['a class object to vmap', () => vmap((a: any) => a)(new Point()), ['vmap:', '`args[0]`', 'a Point']],
    ['undefined to vmap (nothing to map)', () => vmap((a: any) => a)(undefined), ['vmap:', 'no arrays to map over']],
    ['a string primal to jvp', () => jvp((a: any) => a, ['x'], [1]), ['jvp:', '`primals[0]`', 'string "x"']],
    ['a string output from a transformed function', () => vmap((_a: NDArray) => 'out' as any)(np.ones([2])), ['vmap:', '`output`', 'string "out"']],
    ['a function that is not a function', () => grad(3 as any), ['grad:', 'argument `f`', 'a function', 'number 3']],
    ['jit of a non-function', () => jit('f' as any), ['jit:', 'argument `f`', 'string "f"']],
  ]);
});

describe('differentiation', () => {
  runTable([
    ['grad of a non-scalar output', () => grad((a: NDArray) => np.multiply(a, 2))(np.ones([2])), ['grad:', 'must return a scalar', 'shape [2]']],
    ['grad of an integer output', () => grad((a: NDArray) => np.argmax(a))(np.ones([2])), ['grad:', 'float32 scalar', 'int32']],
    ['grad with respect to an int32 argument', () => grad((a: NDArray) => np.sum(a))(np.ones([2], { dtype: 'int32' })), ['grad:', 'argument leaf 0', 'dtype int32', 'float32']],
    ['valueAndGrad with respect to a bool argument', () => valueAndGrad((a: NDArray) => np.sum(a))(np.array([true])), ['valueAndGrad:', 'dtype bool']],
    ['jacrev with respect to an int32 argument', () => jacrev((a: NDArray) => a)(np.ones([2], { dtype: 'int32' })), ['jacrev:', 'dtype int32']],
    ['argnums past the arguments', () => grad((a: NDArray) => a, { argnums: 2 })(1, 2), ['grad:', 'argnums 2', 'out of range', '2 positional']],
    ['a too-negative argnums', () => grad((a: NDArray) => a, { argnums: -3 })(1, 2), ['grad:', 'argnums -3']],
    ['argnums that is not an integer', () => grad((a: NDArray) => a, { argnums: 'a' as any })(1), ['grad:', '`argnums`', 'string "a"']],
    ['an empty argnums list', () => grad((a: NDArray) => a, { argnums: [] })(1), ['grad:', '`argnums`', 'non-empty']],
    ['valueAndGrad argnums out of range', () => valueAndGrad((a: NDArray) => a, { argnums: [0, 5] })(1), ['valueAndGrad:', 'argnums 5']],
    ['jacrev argnums out of range', () => jacrev((a: NDArray) => a, { argnums: 1 })(np.ones([2])), ['jacrev:', 'argnums 1']],
    ['hasAux with a non-pair result', () => grad((a: NDArray) => a, { hasAux: true })(1), ['grad:', 'hasAux', '[value, aux]']],
  ]);
});

describe('vmap', () => {
  runTable([
    ['mapped arguments of different sizes', () => vmap((a: NDArray, b: NDArray) => np.add(a, b))(np.ones([2]), np.ones([3])), ['vmap:', 'different sizes', 'leaf 0 shape [2]', 'leaf 1 shape [3]']],
    ['inAxes null for every argument', () => vmap((a: NDArray) => a, { inAxes: null })(np.ones([2])), ['vmap:', 'at least one argument must be mapped']],
    ['inAxes past the rank', () => vmap((a: NDArray) => a, { inAxes: 1 })(np.ones([2])), ['vmap:', 'inAxes 1', 'out of range', 'shape [2]']],
    ['mapping a scalar', () => vmap((a: any) => a)(3), ['vmap:', 'inAxes 0', 'shape []']],
    ['inAxes with too many entries', () => vmap((a: NDArray) => a, { inAxes: [0, 0] })(np.ones([2])), ['vmap:', '`inAxes`', '2 entries', 'has 1']],
    ['inAxes that is not an integer', () => vmap((a: NDArray) => a, { inAxes: 0.5 })(np.ones([2])), ['vmap:', 'inAxes', 'integers or null', '0.5']],
    ['inAxes object with a misspelt key', () => vmap((p: any) => p.w, { inAxes: [{ W: null, b: 0 }] })({ w: np.ones([2]), b: np.ones([2]) }), ['vmap:', '`inAxes`', 'keys [W, b]', 'keys [b, w]']],
    ['inAxes object missing a key', () => vmap((p: any) => p.w, { inAxes: [{ w: 0 }] })({ w: np.ones([2]), b: np.ones([2]) }), ['vmap:', '`inAxes`', 'keys [w]', 'keys [b, w]']],
    ['outAxes object with a wrong key', () => vmap((x: NDArray) => ({ a: x }), { outAxes: { b: 0 } })(np.ones([2])), ['vmap:', '`outAxes`', 'keys [b]', 'keys [a]']],
    ['inAxes that is not a prefix of the arguments', () => vmap((a: NDArray) => a, { inAxes: 'x' as any })(np.ones([2])), ['vmap:', '`inAxes`', 'tree prefix']],
    ['outAxes past the rank', () => vmap((a: NDArray) => a, { outAxes: 3 })(np.ones([2])), ['vmap:', 'outAxes 3', 'out of range']],
    ['outAxes null for a mapped output', () => vmap((a: NDArray) => a, { outAxes: null })(np.ones([2])), ['vmap:', 'outAxes is null', 'depends on the mapped inputs']],
  ]);
});

describe('pytree structure mismatches', () => {
  runTable([
    ['jvp tangents with other keys than the primals', () => jvp((a: any) => a.x, [{ x: np.ones([2]) }], [{ y: np.ones([2]) }]), ['jvp:', '`tangents`', '{y: *}', '{x: *}']],
    ['jvp tangent of the wrong shape', () => jvp((a: NDArray) => a, [np.ones([2])], [np.ones([3])]), ['jvp:', 'tangent leaf 0', 'shape [3]', 'expected [2]']],
    ['jvp primals that are not a list', () => jvp((a: NDArray) => a, np.ones([2]) as any, [np.ones([2])]), ['jvp:', '`primals`', 'JS array']],
    ['vjp cotangent structure unlike the output', () => vjp((a: NDArray) => [a, a], np.ones([2]))[1](np.ones([2])), ['vjp:', 'cotangent', 'structure *', '[*, *]']],
    ['vjp cotangent of the wrong shape', () => vjp((a: NDArray) => a, np.ones([2]))[1](np.ones([3])), ['vjp:', 'cotangent leaf 0', 'shape [3]', 'expected [2]']],
    ['tree.map over trees with different keys', () => tree.map((a: any) => a, { a: 1 }, { b: 1 }), ['tree.map:', 'tree 1', '{b: *}', '{a: *}']],
    ['tree.map over lists of different lengths', () => tree.map((a: any) => a, [1, 2], [1]), ['tree.map:', '[*]', '[*, *]']],
    ['tree.unflatten with too few leaves', () => tree.unflatten(tree.flatten([1, 2])[1], [1]), ['tree.unflatten:', '2 leaves', 'received 1']],
  ]);
});

describe('jit', () => {
  runTable([
    ['x.item() on a traced value', () => jit((a: NDArray) => a.item())(np.ones([1])), ['Array.item', 'traced array f32[1]', 'inside jit', 'staticArgnums']],
    ['x.data() on a traced value', () => jit((a: NDArray) => (a.data()[0] > 0 ? a : np.negative(a)))(np.ones([1])), ['Array.data', 'inside jit']],
    ['x.toArray() on a vmapped value', () => vmap((a: NDArray) => a.toArray() as any)(np.ones([2])), ['Array.toArray', 'inside vmap']],
    ['staticArgnums that is not an integer', () => jit((a: NDArray) => a, { staticArgnums: 0.5 as any }), ['jit:', '`staticArgnums`', '0.5']],
    ['staticArgnums with a string', () => jit((a: NDArray) => a, { staticArgnums: ['a'] as any }), ['jit:', '`staticArgnums`', '["a"]']],
    ['staticArgnums past the arguments', () => jit((a: any) => a, { staticArgnums: 3 })(1), ['jit:', 'staticArgnums 3', 'out of range', '1 argument']],
  ]);

  test('x.item() inside grad names the transformation that traced it', () => {
    expectThrows(() => grad((a: NDArray) => np.multiply(a, a.item()))(3), ['Array.item', 'cannot read the value of a traced array', 'inside grad']);
  });

  test('a failed trace leaves jit usable', () => {
    const f = jit((a: NDArray, mode: string) => (mode === 'bad' ? a.item() : np.add(a, 1)) as NDArray, { staticArgnums: 1 });
    expectThrows(() => f(np.ones([1]), 'bad'), ['inside jit']);
    expect(f(np.array([1]), 'good').toArray()).toEqual([2]);
    // Eager code still works afterwards: the trace stack was unwound.
    expect(np.add(np.array([1]), 1).toArray()).toEqual([2]);
  });
});

describe('type of thrown errors', () => {
  test('argument type problems are TypeErrors and range problems RangeErrors', () => {
    expectThrows(() => np.sin('x' as any), ['sin:'], 'TypeError');
    expectThrows(() => np.sum(np.ones([2]), { axis: 3 }), ['sum:'], 'RangeError');
    expectThrows(() => grad((a: NDArray) => a, { argnums: 4 })(1), ['grad:'], 'RangeError');
  });
});

describe('native layer', () => {
  // The addon is called directly: these programs bypass every TypeScript check (native/ABI.md).
  const addon = require(path.join(__dirname, '..', 'build', 'Release', 'metalgrad.node')) as {
    run(code: unknown, consts: unknown, bufs: unknown): void;
    compile(code: unknown, consts: unknown): unknown;
    execute(program: unknown, bufs: unknown): void;
  };
  const MAGIC = 0x4d47;
  const noConsts = new Float64Array(0);

  /** One ELEMENTWISE step: out[i] = a[i] + b[i] over n float32 elements, buffers 0, 1 → 2. */
  function addProgram(n: number, outOffset = 0): Int32Array {
    const payload = [1, n, 2, 1, 3, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 2, outOffset, 1, 2, 17, 0, 2, 0, 1, -1];
    return Int32Array.from([MAGIC, 1, 1, 1, payload.length, ...payload]);
  }
  const f32 = (...v: number[]) => Float32Array.from(v);

  test('a well-formed program runs (the baseline for the cases below)', () => {
    const out = new Float32Array(3);
    addon.run(addProgram(3), noConsts, [f32(1, 2, 3), f32(10, 20, 30), out]);
    expect(Array.from(out)).toEqual([11, 22, 33]);
  });

  const cases: [string, () => void, RegExp][] = [
    ['a bad magic number', () => addon.run(Int32Array.from([0x1234, 1, 0]), noConsts, []), /bad magic 4660/],
    ['an unsupported ABI version', () => addon.run(Int32Array.from([MAGIC, 2, 0]), noConsts, []), /ABI version 2/],
    ['a step count larger than the code', () => addon.run(Int32Array.from([MAGIC, 1, 3]), noConsts, []), /step 0: code ends before the step header/],
    ['an unknown step kind', () => addon.run(Int32Array.from([MAGIC, 1, 1, 9, 0]), noConsts, []), /unknown step kind 9/],
    ['a step length past the end of the code', () => addon.run(Int32Array.from([MAGIC, 1, 1, 1, 50, 0]), noConsts, []), /len 50 does not fit/],
    ['an output view reaching past its buffer', () => addon.run(addProgram(3), noConsts, [f32(1, 2, 3), f32(1, 2, 3), new Float32Array(2)]), /output 0 view reaches element 2 but buffer 2 has 2 elements/],
    ['an output view offset past its buffer', () => addon.run(addProgram(3, 1), noConsts, [f32(1, 2, 3), f32(1, 2, 3), new Float32Array(3)]), /output 0 view reaches element 3/],
    ['an input view of a missing buffer', () => addon.run(addProgram(3), noConsts, [f32(1, 2, 3)]), /uses buffer 1 but there are 1 buffers/],
    ['a buffer whose typed array disagrees with the view dtype', () => addon.run(addProgram(2), noConsts, [f32(1, 2), new Int32Array(2), new Float32Array(2)]), /input 1 view has dtype float32 but buffer 1 holds int32/],
  ];
  test.each(cases)('rejects %s with an Error', (_name, thunk, message) => {
    expectThrows(thunk, [/^metalgrad native run: /, message]);
  });

  const typeCases: [string, () => void, RegExp][] = [
    ['a Float64Array buffer', () => addon.run(addProgram(2), noConsts, [f32(1, 2), f32(1, 2), new Float64Array(2)]), /bufs\[2\] must be a Float32Array, Int32Array, Uint32Array or Uint8Array, received Float64Array/],
    ['a plain JS array as a buffer', () => addon.run(addProgram(2), noConsts, [f32(1, 2), [1, 2], new Float32Array(2)]), /bufs\[1\] must be .* received an array/],
    ['bufs that is an object', () => addon.run(addProgram(2), noConsts, {}), /bufs must be an array of typed arrays, received an object/],
    ['bufs that is a typed array', () => addon.run(addProgram(2), noConsts, new Float32Array(2)), /bufs must be an array of typed arrays, received Float32Array/],
    ['code that is a JS array', () => addon.run(Array.from(addProgram(2)), noConsts, []), /code must be an Int32Array/],
    ['code that is a Uint32Array', () => addon.run(Uint32Array.from(addProgram(2)), noConsts, []), /code must be an Int32Array/],
    ['consts that is a Float32Array', () => addon.run(addProgram(2), new Float32Array(0), []), /consts must be a Float64Array/],
    ['a missing argument', () => (addon.run as any)(addProgram(2), noConsts), /expected 3 arguments/],
  ];
  test.each(typeCases)('rejects %s with a TypeError', (_name, thunk, message) => {
    expectThrows(thunk, [message], 'TypeError');
  });

  test('nothing is written when a later step is invalid', () => {
    const good = Array.from(addProgram(2)).slice(3);
    const code = Int32Array.from([MAGIC, 1, 2, ...good, 9, 0]);
    const out = f32(-1, -1);
    expectThrows(() => addon.run(code, noConsts, [f32(1, 2), f32(3, 4), out]), [/step 1: unknown step kind 9/]);
    expect(Array.from(out)).toEqual([-1, -1]);
  });

  describe('compiled programs', () => {
    test('a compiled program runs many times on different buffers', () => {
      const program = addon.compile(addProgram(3), noConsts);
      for (let i = 0; i < 3; i++) {
        const out = new Float32Array(3);
        addon.execute(program, [f32(i, i, i), f32(1, 2, 3), out]);
        expect(Array.from(out)).toEqual([i + 1, i + 2, i + 3]);
      }
    });

    test('a malformed program is rejected when compiled', () => {
      expectThrows(() => addon.compile(Int32Array.from([MAGIC, 1, 1, 9, 0]), noConsts), [/^metalgrad native run: step 0: unknown step kind 9/]);
      expectThrows(() => addon.compile([MAGIC, 1, 0], noConsts), [/^metalgrad native compile: code must be an Int32Array, received an array/], 'TypeError');
    });

    const program = addon.compile(addProgram(3), noConsts);
    const bufferCases: [string, unknown[], RegExp][] = [
      ['too few buffers', [f32(1, 2, 3)], /step 0 \(elementwise\): input 1 view uses buffer 1 but there are 1 buffers/],
      ['a short output buffer', [f32(1, 2, 3), f32(1, 2, 3), new Float32Array(2)], /output 0 view reaches element 2 but buffer 2 has 2 elements/],
      ['a buffer of the wrong dtype', [f32(1, 2, 3), new Int32Array(3), new Float32Array(3)], /input 1 view has dtype float32 but buffer 1 holds int32/],
    ];
    test.each(bufferCases)('execute rejects %s, touching nothing', (_name, bufs, message) => {
      const before = bufs.map((b) => Array.from(b as Float32Array));
      expectThrows(() => addon.execute(program, bufs), [/^metalgrad native run: /, message]);
      expect(bufs.map((b) => Array.from(b as Float32Array))).toEqual(before);
    });

    const handleCases: [string, unknown][] = [
      ['an object', {}],
      ['a number', 3],
      ['an Int32Array program', addProgram(3)],
    ];
    test.each(handleCases)('execute rejects %s as the program with a TypeError', (_name, handle) => {
      expectThrows(() => addon.execute(handle, [f32(1), f32(1), f32(1)]), [/^metalgrad native execute: program must be a handle returned by compile\(\), received /], 'TypeError');
    });

    test('matmul operands that share storage are rejected on every run', () => {
      // C[2x2] = A[2x2] B[2x2] with c in buffer 2; passing one typed array as both a and c must fail.
      const mm = [0, 1, 2, 2, 2, 0, 0, 4, 2, 1, 1, 0, 4, 2, 1, 2, 0, 4, 2, 1];
      const matmul = addon.compile(Int32Array.from([MAGIC, 1, 1, 4, mm.length, ...mm]), noConsts);
      const a = f32(1, 2, 3, 4);
      const c = new Float32Array(4);
      addon.execute(matmul, [a, f32(1, 0, 0, 1), c]);
      expect(Array.from(c)).toEqual([1, 2, 3, 4]);
      expectThrows(() => addon.execute(matmul, [a, f32(1, 0, 0, 1), a]), [/step 0 \(matmul\): c overlaps operand a in memory/]);
      const shared = new Float32Array(8);
      expectThrows(() => addon.execute(matmul, [shared.subarray(0, 4), f32(1, 0, 0, 1), shared.subarray(2, 6)]), [/c overlaps operand a in memory/]);
      addon.execute(matmul, [shared.subarray(0, 4), f32(1, 0, 0, 1), shared.subarray(4, 8)]);
    });
  });

  test('the process survives many rejected programs and still computes', () => {
    for (let i = 0; i < 200; i++) {
      const n = 1 + (i % 7);
      expect(() => addon.run(addProgram(n + 1, i % 3), noConsts, [new Float32Array(n), new Float32Array(n + 1), new Float32Array(n)])).toThrow(/view reaches element/);
    }
    const out = new Float32Array(2);
    addon.run(addProgram(2), noConsts, [f32(1, 2), f32(3, 4), out]);
    expect(Array.from(out)).toEqual([4, 6]);
  });
});
