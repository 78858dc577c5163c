/**
 * @file Property tests (fast-check, fixed seeds): broadcasting, reductions, transposes and reshapes
 * against a JS reference on random shapes, and jit ≡ eager on random small programs.
 */

import fc from 'fast-check';
import { grad, jit, NDArray, numpy as np } from 'metalgrad';
import { expectClose } from './util';

const RUNS = { seed: 20240611, numRuns: 150 };

// ---- A tiny row-major JS reference ----

interface Ref {
  shape: number[];
  data: number[];
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Multi-index of flat position `i` in `shape`. */
function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

function broadcastShapeJS(shapes: number[][]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      if (out[j] === 1) out[j] = s[i];
      else if (s[i] !== 1 && s[i] !== out[j]) return null;
    }
  }
  return out;
}

/** The value of `x` at output index `idx` under NumPy broadcasting. */
function readBroadcast(x: Ref, idx: number[]): number {
  const st = stridesOf(x.shape);
  const off = idx.length - x.shape.length;
  let p = 0;
  x.shape.forEach((d, i) => (p += (d === 1 ? 0 : idx[i + off]) * st[i]));
  return x.data[p];
}

function elementwiseJS(xs: Ref[], f: (...v: number[]) => number): Ref {
  const shape = broadcastShapeJS(xs.map((x) => x.shape)) as number[];
  const data = Array.from({ length: sizeOf(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(...xs.map((x) => readBroadcast(x, idx)));
  });
  return { shape, data };
}

function reduceJS(x: Ref, axes: number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number): Ref {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(sizeOf(kept)).fill(init);
  const keptStrides = stridesOf(kept);
  x.data.forEach((v, i) => {
    const idx = unravel(i, x.shape);
    const o = idx.reduce((p, k, d) => p + (axes.includes(d) ? 0 : k * keptStrides[d]), 0);
    out[o] = f(out[o], v);
  });
  return { shape: keepdims ? kept : x.shape.filter((_, i) => !axes.includes(i)), data: out };
}

function transposeJS(x: Ref, perm: number[]): Ref {
  const shape = perm.map((p) => x.shape[p]);
  const st = stridesOf(x.shape);
  const data = Array.from({ length: sizeOf(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return x.data[idx.reduce((p, k, d) => p + k * st[perm[d]], 0)];
  });
  return { shape, data };
}

const toArray = (x: Ref) => np.array(x.data, { shape: x.shape });

function expectRef(actual: NDArray, expected: Ref, rtol = 0): void {
  expect(actual.shape).toEqual(expected.shape);
  const got = Array.from(actual.data(), Number);
  expected.data.forEach((w, i) => {
    if (rtol === 0) expect(got[i]).toBe(Math.fround(w));
    else expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(1e-5 + rtol * Math.abs(w));
  });
}

// ---- Generators ----

const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank: number, maxRank: number) => fc.array(dim, { minLength: minRank, maxLength: maxRank });
/** Small integers: sums, products and extrema of them are exact in float32. */
const refOf = (shape: number[], lo = -5, hi = 5): fc.Arbitrary<Ref> =>
  fc.array(fc.integer({ min: lo, max: hi }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((data) => ({ shape, data }));

/** A broadcast-compatible shape derived from `out`: a suffix of it with some dimensions set to 1. */
const compatibleWith = (out: number[]) =>
  fc.tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length })).map(([drop, ones]) =>
    out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
  );

/** Two or three operands whose shapes broadcast together. */
const compatibleOperands = (n: number) =>
  shapeArb(0, 3).chain((out) => fc.tuple(...Array.from({ length: n }, () => compatibleWith(out).chain((s) => refOf(s)))));

// ---- Properties ----

describe('broadcasting', () => {
  const binaries: [string, (a: NDArray, b: NDArray) => NDArray, (a: number, b: number) => number][] = [
    ['add', np.add, (a, b) => a + b],
    ['multiply', np.multiply, (a, b) => a * b],
    ['maximum', np.maximum, Math.max],
    ['subtract', np.subtract, (a, b) => a - b],
  ];

  test.each(binaries)('%s of random compatible shapes matches the JS reference', (_name, op, ref) => {
    fc.assert(
      fc.property(compatibleOperands(2), ([a, b]) => {
        expectRef(op(toArray(a), toArray(b)), elementwiseJS([a, b], ref));
        // Broadcasting is symmetric in the shapes.
        expectRef(op(toArray(b), toArray(a)), elementwiseJS([b, a], ref));
      }),
      RUNS,
    );
  });

  test('where broadcasts condition and both branches together', () => {
    fc.assert(
      fc.property(compatibleOperands(3), ([c, a, b]) => {
        expectRef(np.where(np.greater(toArray(c), 0), toArray(a), toArray(b)), elementwiseJS([c, a, b], (p, x, y) => (p > 0 ? x : y)));
      }),
      RUNS,
    );
  });

  test('random incompatible shapes throw and name both shapes', () => {
    const incompatible = shapeArb(1, 3).chain((s) =>
      fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 2 })).map(([shape, axis, other, extraLead]) => {
        const a = shape.map((d) => (d === 1 ? 2 : d));
        const b = [...Array(extraLead).fill(3), ...a];
        b[extraLead + axis] = a[axis] === other ? other + 1 : other;
        return [a, b] as const;
      }),
    );
    fc.assert(
      fc.property(incompatible, ([a, b]) => {
        const str = (s: readonly number[]) => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;
        expect(() => np.add(np.zeros([...a]), np.zeros([...b]))).toThrow(`add: operands could not be broadcast together with shapes ${str(a)} ${str(b)}`);
        expect(() => np.multiply(np.zeros([...b]), np.zeros([...a]))).toThrow(/multiply: operands could not be broadcast/);
      }),
      RUNS,
    );
  });
});

describe('reductions', () => {
  /** A shape, data, a subset of axes (or undefined = all) and keepdims. */
  const reductionCase = (lo: number, hi: number) =>
    shapeArb(1, 3).chain((shape) =>
      fc.tuple(
        refOf(shape, lo, hi),
        fc.option(fc.subarray([...shape.keys()]), { nil: undefined }),
        fc.boolean(),
        fc.boolean(), // use negative axis numbers
      ),
    );

  const reductions: [string, (x: NDArray, o: object) => NDArray, number, (a: number, v: number) => number, number, number][] = [
    ['sum', np.sum, 0, (a, v) => a + v, -5, 5],
    ['max', np.max, -Infinity, Math.max, -5, 5],
    ['min', np.min, Infinity, Math.min, -5, 5],
    ['prod', np.prod, 1, (a, v) => a * v, -2, 2],
  ];

  test.each(reductions)('%s over random axes with and without keepdims', (_name, op, init, f, lo, hi) => {
    fc.assert(
      fc.property(reductionCase(lo, hi), ([x, axes, keepdims, negative]) => {
        const all = axes ?? [...x.shape.keys()];
        const axisArg = axes === undefined ? undefined : axes.map((a) => (negative ? a - x.shape.length : a));
        expectRef(op(toArray(x), { axis: axisArg, keepdims }), reduceJS(x, all, keepdims, init, f));
      }),
      RUNS,
    );
  });

  test('mean over random axes with and without keepdims', () => {
    fc.assert(
      fc.property(reductionCase(-5, 5), ([x, axes, keepdims]) => {
        const all = axes ?? [...x.shape.keys()];
        const n = sizeOf(all.map((a) => x.shape[a]));
        const s = reduceJS(x, all, keepdims, 0, (a, v) => a + v);
        expectRef(np.mean(toArray(x), { axis: axes, keepdims }), { shape: s.shape, data: s.data.map((v) => v / n) }, 1e-6);
      }),
      RUNS,
    );
  });
});

describe('shape functions', () => {
  test('transpose with a random permutation matches the reference and its inverse restores the input', () => {
    const permCase = shapeArb(0, 4).chain((shape) =>
      fc.tuple(refOf(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length })),
    );
    fc.assert(
      fc.property(permCase, ([x, perm]) => {
        const t = np.transpose(toArray(x), perm);
        expectRef(t, transposeJS(x, perm));
        const inverse = perm.map((_, i) => perm.indexOf(i));
        expectRef(np.transpose(t, inverse), x);
      }),
      RUNS,
    );
  });

  test('reshape to a random factorisation and back preserves row-major order', () => {
    const reshapeCase = shapeArb(0, 4).chain((shape) => fc.tuple(refOf(shape), fc.shuffledSubarray(shape, { minLength: shape.length, maxLength: shape.length }), fc.boolean()));
    fc.assert(
      fc.property(reshapeCase, ([x, target, useMinusOne]) => {
        const spec = useMinusOne && target.length > 0 ? [-1, ...target.slice(1)] : target;
        const r = np.reshape(toArray(x), spec);
        expectRef(r, { shape: target, data: x.data });
        expectRef(np.reshape(r, x.shape), x);
        // A reshape of a transpose reads the transposed order.
        if (x.shape.length >= 2) {
          const perm = [...x.shape.keys()].reverse();
          expectRef(np.reshape(np.transpose(toArray(x), perm), [sizeOf(x.shape)]), { shape: [sizeOf(x.shape)], data: transposeJS(x, perm).data });
        }
      }),
      RUNS,
    );
  });
});

describe('jit ≡ eager on random programs', () => {
  /**
   * A program is a list of instructions over a growing list of values; operands are indices taken
   * modulo the number of values so far. Values start as x: [2, 3] and y: [3]. Under jit the
   * elementwise chains fuse and reductions take them as prologues; eager runs every op alone.
   */
  type Instr = { op: number; a: number; b: number };
  const instr = fc.record({ op: fc.integer({ min: 0, max: 15 }), a: fc.nat(), b: fc.nat() });
  const programArb = fc.array(instr, { minLength: 1, maxLength: 10 });

  function runProgram(program: Instr[], x: NDArray, y: NDArray): NDArray {
    const vals: NDArray[] = [x, y];
    const pick = (i: number) => vals[i % vals.length];
    const compatible = (p: NDArray, q: NDArray) => broadcastShapeJS([p.shape, q.shape]) !== null;
    for (const { op, a, b } of program) {
      const u = pick(a);
      let v = pick(b);
      if (op >= 5 && op <= 8 && !compatible(u, v)) v = np.sum(v); // keep binary operands broadcastable
      const next = [
        () => np.sin(u),
        () => np.tanh(u),
        () => np.exp(np.tanh(u)),
        () => np.negative(u),
        () => np.square(u),
        () => np.add(u, v),
        () => np.multiply(u, v),
        () => np.subtract(u, v),
        () => np.where(np.greater(u, v), u, np.multiply(v, 0.5)),
        () => (u.ndim > 0 ? np.sum(u, { axis: -1, keepdims: true }) : np.multiply(u, 3)),
        () => (u.ndim >= 2 ? np.transpose(u) : np.reshape(u, [-1, 1])),
        () => np.reshape(u, [u.size]),
        () => np.mean(u),
        () => np.multiply(np.maximum(u, 0.1), 2),
        // Reductions over leading axes (the fused column order) and over everything.
        () => (u.ndim > 0 ? np.max(np.multiply(u, u), { axis: 0, keepdims: u.ndim > 1 }) : np.add(u, 1)),
        () => np.min(np.subtract(np.exp(u), u)),
      ][op]();
      vals.push(next);
    }
    return vals[vals.length - 1];
  }

  const inputs = fc.tuple(
    fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: 6, maxLength: 6 }),
    fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 }),
  );

  test('the jitted program gives the eager values', () => {
    fc.assert(
      fc.property(programArb, inputs, (program, [xd, yd]) => {
        const x = np.array(xd, { shape: [2, 3] });
        const y = np.array(yd);
        const eager = runProgram(program, x, y);
        const jitted = jit((p: NDArray, q: NDArray) => runProgram(program, p, q))(x, y);
        expectClose(jitted, eager.toArray(), { rtol: 1e-5, atol: 1e-5 });
      }),
      RUNS,
    );
  });

  test('the jitted gradient of the program gives the eager gradient', () => {
    fc.assert(
      fc.property(programArb, inputs, (program, [xd, yd]) => {
        const x = np.array(xd, { shape: [2, 3] });
        const y = np.array(yd);
        const loss = (p: NDArray, q: NDArray) => np.sum(runProgram(program, p, q));
        const [gx, gy] = grad(loss, { argnums: [0, 1] })(x, y);
        const [jx, jy] = jit(grad(loss, { argnums: [0, 1] }))(x, y);
        expectClose(jx, gx.toArray(), { rtol: 1e-4, atol: 1e-4 });
        expectClose(jy, gy.toArray(), { rtol: 1e-4, atol: 1e-4 });
      }),
      { ...RUNS, numRuns: 100 },
    );
  });
});
