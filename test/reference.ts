/**
 * @file Test helpers: a seeded PRNG, float64 reference implementations on plain JS arrays
 * (broadcasting, reductions, matmul, dot_general, shape ops), tolerance checks, and `testRows`, which
 * checks each row of an op table under eager, jit, grad (against float64 finite differences), vmap
 * (against a loop) and jvp/vjp (the transpose identity <c, J t> = <Jᵀ c, t>).
 */

import { Array as MgArray, DType, grad, jit, jvp, numpy as np, vjp, vmap } from 'metalgrad';

// ---------------------------------------------------------------------------------------------
// Reference arrays: a shape and row-major float64 data.

export interface Ref {
  shape: number[];
  data: number[];
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const R = (shape: number[], data: number[]): Ref => {
  if (sizeOf(shape) !== data.length) throw new Error(`R: shape [${shape}] needs ${sizeOf(shape)} values, got ${data.length}`);
  return { shape: [...shape], data: [...data] };
};
export const scalar = (v: number): Ref => R([], [v]);

export function stridesOf(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}
export function unravel(i: number, shape: readonly number[]): number[] {
  return stridesOf(shape).map((s, d) => Math.floor(i / s) % shape[d]);
}
export const ravel = (idx: readonly number[], shape: readonly number[]): number =>
  stridesOf(shape).reduce((acc, s, d) => acc + s * idx[d], 0);

/** Builds an array of `shape` whose element at multi-index idx is `fn(idx)`. */
export function build(shape: number[], fn: (idx: number[]) => number): Ref {
  const n = sizeOf(shape);
  const data = new globalThis.Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = fn(unravel(i, shape));
  return { shape: [...shape], data };
}

export const at = (x: Ref, idx: readonly number[]): number => x.data[ravel(idx, x.shape)];

// ---------------------------------------------------------------------------------------------
// Elementwise (numpy broadcasting).

export function broadcastShape(...shapes: number[][]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  return [...globalThis.Array(n).keys()].map((i) => {
    const ds = shapes.map((s) => s[s.length - n + i] ?? 1);
    const big = ds.filter((d) => d !== 1);
    if (new Set(big).size > 1) throw new Error(`broadcastShape: incompatible [${shapes.join('] [')}]`);
    return big[0] ?? 1;
  });
}

export function broadcastTo(x: Ref, shape: number[]): Ref {
  const off = shape.length - x.shape.length;
  return build(shape, (idx) => at(x, x.shape.map((d, i) => (d === 1 ? 0 : idx[off + i]))));
}

export function map(x: Ref, fn: (v: number) => number): Ref {
  return { shape: [...x.shape], data: x.data.map((v) => fn(v)) };
}

/** Applies `fn` elementwise after broadcasting all operands. */
export function zip(fn: (...vs: number[]) => number, ...xs: Ref[]): Ref {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  const bs = xs.map((x) => broadcastTo(x, shape));
  return build(shape, (idx) => {
    const i = ravel(idx, shape);
    return fn(...bs.map((b) => b.data[i]));
  });
}

// ---------------------------------------------------------------------------------------------
// Reductions.

const normAxes = (axis: number | number[] | undefined, ndim: number): number[] =>
  axis === undefined ? [...globalThis.Array(ndim).keys()] : (typeof axis === 'number' ? [axis] : axis).map((a) => (a < 0 ? a + ndim : a));

/** Reduces `axis` (undefined = all) by `fn` over the values of each reduced group, in index order. */
export function reduce(x: Ref, axis: number | number[] | undefined, fn: (vals: number[]) => number, keepdims = false): Ref {
  const axes = normAxes(axis, x.shape.length);
  const outKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups: number[][] = globalThis.Array.from({ length: sizeOf(outKeep) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => (axes.includes(d) ? 0 : v));
    groups[ravel(idx, outKeep)].push(x.data[i]);
  }
  const shape = keepdims ? outKeep : x.shape.filter((_, i) => !axes.includes(i));
  return { shape, data: groups.map(fn) };
}

export const sumOf = (v: number[]): number => v.reduce((a, b) => a + b, 0);
export const meanOf = (v: number[]): number => sumOf(v) / v.length;
export const prodOf = (v: number[]): number => v.reduce((a, b) => a * b, 1);
export const maxOf = (v: number[]): number => Math.max(...v);
export const minOf = (v: number[]): number => Math.min(...v);
/** Index of the first maximum (argmax semantics for ties). */
export const argmaxOf = (v: number[]): number => v.indexOf(maxOf(v));
export const argminOf = (v: number[]): number => v.indexOf(minOf(v));
export const varOf = (ddof: number) => (v: number[]): number => {
  const m = meanOf(v);
  return sumOf(v.map((a) => (a - m) ** 2)) / (v.length - ddof);
};

// ---------------------------------------------------------------------------------------------
// Shape ops.

export const reshape = (x: Ref, shape: number[]): Ref => R(shape, x.data);

export function transpose(x: Ref, perm?: number[]): Ref {
  const p = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  return build(p.map((a) => x.shape[a]), (idx) => {
    const src = new globalThis.Array<number>(p.length);
    p.forEach((a, i) => (src[a] = idx[i]));
    return at(x, src);
  });
}

/** x[..., i, ...] along `axis` (the axis is removed). */
export function take(x: Ref, axis: number, i: number): Ref {
  return build(x.shape.filter((_, d) => d !== axis), (idx) => at(x, [...idx.slice(0, axis), i, ...idx.slice(axis)]));
}

export function concat(xs: Ref[], axis: number): Ref {
  const shape = [...xs[0].shape];
  shape[axis] = sumOf(xs.map((x) => x.shape[axis]));
  return build(shape, (idx) => {
    let k = idx[axis];
    for (const x of xs) {
      if (k < x.shape[axis]) return at(x, idx.map((v, d) => (d === axis ? k : v)));
      k -= x.shape[axis];
    }
    throw new Error('concat: index out of range');
  });
}

export function stack(xs: Ref[], axis = 0): Ref {
  return concat(xs.map((x) => reshape(x, [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)])), axis);
}

export function slice(x: Ref, start: number[], limit: number[], strides?: number[]): Ref {
  const st = strides ?? start.map(() => 1);
  const shape = start.map((s, i) => Math.max(0, Math.ceil((limit[i] - s) / st[i])));
  return build(shape, (idx) => at(x, idx.map((v, i) => start[i] + v * st[i])));
}

/** lax.pad with non-negative lo/hi and interior padding. */
export function pad(x: Ref, lo: number[], hi: number[], value: number, interior: number[]): Ref {
  const shape = x.shape.map((d, i) => lo[i] + hi[i] + d + Math.max(d - 1, 0) * interior[i]);
  return build(shape, (idx) => {
    const src: number[] = [];
    for (let i = 0; i < idx.length; i++) {
      const k = idx[i] - lo[i];
      if (k < 0 || k % (interior[i] + 1) !== 0 || k / (interior[i] + 1) >= x.shape[i]) return value;
      src.push(k / (interior[i] + 1));
    }
    return at(x, src);
  });
}

// ---------------------------------------------------------------------------------------------
// Products.

export interface DotDims {
  lhsContract: number[];
  rhsContract: number[];
  lhsBatch: number[];
  rhsBatch: number[];
}

/** lax.dot_general: output axes are [batch..., lhs free..., rhs free...]. */
export function dotGeneral(a: Ref, b: Ref, d: DotDims): Ref {
  const free = (n: number, c: number[], bt: number[]) => [...globalThis.Array(n).keys()].filter((i) => !c.includes(i) && !bt.includes(i));
  const aFree = free(a.shape.length, d.lhsContract, d.lhsBatch);
  const bFree = free(b.shape.length, d.rhsContract, d.rhsBatch);
  const kShape = d.lhsContract.map((i) => a.shape[i]);
  const nb = d.lhsBatch.length;
  const outShape = [...d.lhsBatch.map((i) => a.shape[i]), ...aFree.map((i) => a.shape[i]), ...bFree.map((i) => b.shape[i])];
  return build(outShape, (idx) => {
    const ai = a.shape.map(() => 0);
    const bi = b.shape.map(() => 0);
    d.lhsBatch.forEach((ax, j) => (ai[ax] = idx[j]));
    d.rhsBatch.forEach((ax, j) => (bi[ax] = idx[j]));
    aFree.forEach((ax, j) => (ai[ax] = idx[nb + j]));
    bFree.forEach((ax, j) => (bi[ax] = idx[nb + aFree.length + j]));
    let acc = 0;
    for (let k = 0; k < sizeOf(kShape); k++) {
      const kk = unravel(k, kShape);
      d.lhsContract.forEach((ax, j) => (ai[ax] = kk[j]));
      d.rhsContract.forEach((ax, j) => (bi[ax] = kk[j]));
      acc += at(a, ai) * at(b, bi);
    }
    return acc;
  });
}

/** numpy matmul: 1-D operands become matrices, leading batch dimensions broadcast. */
export function matmul(a: Ref, b: Ref): Ref {
  const x = a.shape.length === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const y = b.shape.length === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const batch = broadcastShape(x.shape.slice(0, -2), y.shape.slice(0, -2));
  const bx = broadcastTo(x, [...batch, ...x.shape.slice(-2)]);
  const by = broadcastTo(y, [...batch, ...y.shape.slice(-2)]);
  const nb = batch.length;
  const bd = [...globalThis.Array(nb).keys()];
  const out = dotGeneral(bx, by, { lhsContract: [nb + 1], rhsContract: [nb], lhsBatch: bd, rhsBatch: bd });
  const shape = [...out.shape];
  if (b.shape.length === 1) shape.splice(shape.length - 1, 1);
  if (a.shape.length === 1) shape.splice(shape.length - (b.shape.length === 1 ? 1 : 2), 1);
  return reshape(out, shape);
}

// ---------------------------------------------------------------------------------------------
// Scalar functions missing from Math.

/** erf by its Taylor series (accurate to ~1e-13 for |x| <= 3), and asymptotically 1 beyond. */
export function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** The inverse of `erf` on (-1, 1), by Newton's method from a rough start (float64 accurate). */
export function erfInv(x: number): number {
  if (x <= -1 || x >= 1) return x === 1 ? Infinity : x === -1 ? -Infinity : NaN;
  let y = Math.sign(x) * Math.sqrt(-Math.log((1 - x) * (1 + x)));
  for (let i = 0; i < 100; i++) {
    const step = (erf(y) - x) / ((2 / Math.sqrt(Math.PI)) * Math.exp(-y * y));
    y -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(y))) break;
  }
  return y;
}

/** The bits of a float32 as uint32, and back (bitcast_convert_type). */
export function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}
export function bitsF32(u: number): number {
  return new Float32Array(new Uint32Array([u]).buffer)[0];
}

// ---------------------------------------------------------------------------------------------
// Seeded random inputs.

/** mulberry32: a small, well-mixed 32-bit PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number | string) {
    this.s = typeof seed === 'number' ? seed >>> 0 : [...seed].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform float32-representable values in [lo, hi), at least `minAbs` away from 0. */
  uniform(shape: number[], lo = -1, hi = 1, minAbs = 0): Ref {
    return build(shape, () => {
      for (;;) {
        const v = Math.fround(lo + (hi - lo) * this.next());
        if (Math.abs(v) >= minAbs) return v;
      }
    });
  }
  /** Uniform integers in [lo, hi). */
  int(shape: number[], lo: number, hi: number): Ref {
    return build(shape, () => lo + Math.floor((hi - lo) * this.next()));
  }
}

// ---------------------------------------------------------------------------------------------
// Conversion and comparison.

export function toMg(x: Ref, dtype: DType = 'float32'): MgArray {
  return np.array(x.data, { shape: x.shape, dtype });
}

export function fromMg(x: MgArray): Ref {
  return { shape: x.shape, data: globalThis.Array.from(x.data(), Number) };
}

export interface Tol {
  rtol: number;
  atol: number;
}
export const F32: Tol = { rtol: 1e-5, atol: 1e-6 };
export const EXACT: Tol = { rtol: 0, atol: 0 };

/** Throws a readable error unless `actual` has `expected`'s shape and all |a - e| <= atol + rtol |e|. */
export function assertClose(actual: MgArray | Ref, expected: Ref, tol: Tol = F32, what = 'result'): void {
  const a = actual instanceof MgArray ? fromMg(actual) : actual;
  if (a.shape.length !== expected.shape.length || a.shape.some((d, i) => d !== expected.shape[i])) {
    throw new Error(`${what}: shape [${a.shape}] != expected [${expected.shape}]`);
  }
  const bad: string[] = [];
  a.data.forEach((v, i) => {
    const e = expected.data[i];
    const ok = Number.isNaN(e) ? Number.isNaN(v) : v === e || Math.abs(v - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok) bad.push(`[${unravel(i, a.shape)}] ${v} vs ${e} (diff ${Math.abs(v - e).toExponential(2)})`);
  });
  if (bad.length > 0) {
    throw new Error(`${what}: ${bad.length}/${a.data.length} elements differ beyond rtol=${tol.rtol}, atol=${tol.atol}:\n  ${bad.slice(0, 6).join('\n  ')}`);
  }
}

export const vdot = (a: Ref, b: Ref): number => sumOf(a.data.map((v, i) => v * b.data[i]));

// ---------------------------------------------------------------------------------------------
// The row driver.

export interface ArgSpec {
  shape: number[];
  dtype?: DType;
  lo?: number;
  hi?: number;
  /** Draw integer values (as floats for float32 args): makes ties likely. */
  ints?: boolean;
  /** Keep values at least this far from 0 (away from kinks of abs, sign, relu). */
  minAbs?: number;
}

export interface Row {
  name: string;
  args: ArgSpec[];
  f: (...xs: MgArray[]) => MgArray;
  /** The float64 reference, on the same (float32-representable) inputs. */
  ref: (...xs: Ref[]) => Ref;
  /** Expected output dtype (default float32). */
  dtype?: DType;
  /** Eager vs reference tolerance (default F32; EXACT for non-float outputs). */
  tol?: Tol;
  /** Check gradients (default: when the output and some argument are float32). */
  grad?: boolean;
  /** Compare grad with finite differences (default true; off for large rows, where it is slow). */
  finiteDiff?: boolean;
  gradTol?: Tol;
  /** An extra vmap check with these inAxes (null = unbatched argument). */
  inAxes?: (number | null)[];
}

const BATCH = 3;
const GRAD_TOL: Tol = { rtol: 2e-4, atol: 2e-5 };
const JIT_TOL: Tol = { rtol: 1e-6, atol: 1e-7 };
const VMAP_TOL: Tol = { rtol: 1e-5, atol: 1e-6 };

function draw(rng: Rng, spec: ArgSpec, shape = spec.shape): Ref {
  const lo = spec.lo ?? (spec.dtype === 'bool' ? 0 : -2);
  const hi = spec.hi ?? 2;
  if (spec.ints || (spec.dtype !== undefined && spec.dtype !== 'float32')) return rng.int(shape, lo, hi);
  return rng.uniform(shape, lo, hi, spec.minAbs ?? 0);
}

const dtypeOf = (s: ArgSpec): DType => s.dtype ?? 'float32';

/** Finite-difference gradient of x ↦ sum(ref(...args with x at `which`) * w), in float64. */
function finiteDiffGrad(ref: Row['ref'], args: Ref[], which: number, w: Ref): Ref {
  const loss = (xs: Ref[]) => vdot(ref(...xs), w);
  const x = args[which];
  return build(x.shape, (idx) => {
    const i = ravel(idx, x.shape);
    const h = 1e-6 * Math.max(1, Math.abs(x.data[i]));
    const shifted = (delta: number) => {
      const data = [...x.data];
      data[i] += delta;
      return loss(args.map((a, j) => (j === which ? { shape: x.shape, data } : a)));
    };
    return (shifted(h) - shifted(-h)) / (2 * h);
  });
}

/**
 * Defines, for each row, a `describe` block with tests for: eager vs the float64 reference; jit vs
 * eager; vmap vs a loop (inAxes 0, plus `row.inAxes`); and, for differentiable rows, grad vs finite
 * differences, jit(grad) vs grad, and the jvp/vjp transpose identity.
 */
export function testRows(rows: Row[]): void {
  for (const row of rows) {
    const outDType = row.dtype ?? 'float32';
    const diff = row.args.map((s, i) => (dtypeOf(s) === 'float32' ? i : -1)).filter((i) => i >= 0);
    const differentiable = row.grad ?? (outDType === 'float32' && diff.length > 0);
    // Fresh, identical inputs for each test.
    const inputs = () => {
      const rng = new Rng(row.name);
      const refs = row.args.map((s) => draw(rng, s));
      return { rng, refs, mgs: refs.map((r, i) => toMg(r, dtypeOf(row.args[i]))) };
    };
    /** f of the differentiable arguments only; the others are fixed at `mgs`. */
    const restricted = (mgs: MgArray[]) => (...xs: MgArray[]) => row.f(...mgs.map((m, i) => (diff.includes(i) ? xs[diff.indexOf(i)] : m)));

    describe(row.name, () => {
      test('eager matches the float64 reference', () => {
        const { refs, mgs } = inputs();
        const out = row.f(...mgs);
        expect(out.dtype).toBe(outDType);
        assertClose(out, row.ref(...refs), row.tol ?? (outDType === 'float32' ? F32 : EXACT), 'eager');
      });

      test('jit matches eager', () => {
        const { mgs } = inputs();
        const eager = row.f(...mgs);
        const jitted = jit(row.f)(...mgs);
        expect(jitted.dtype).toBe(eager.dtype);
        expect(jitted.weakType).toBe(eager.weakType);
        assertClose(jitted, fromMg(eager), outDType === 'float32' ? JIT_TOL : EXACT, 'jit');
      });

      const vmapTest = (inAxes: (number | null)[]) => () => {
        const { rng, refs } = inputs();
        // The batch axis in the batched argument's numbering (a negative one counts from its end).
        const axes = inAxes.map((ax, i) => (ax === null ? null : ax < 0 ? ax + row.args[i].shape.length + 1 : ax));
        const batched = row.args.map((s, i) => {
          const ax = axes[i];
          if (ax === null) return refs[i];
          const shape = [...s.shape];
          shape.splice(ax, 0, BATCH);
          return draw(rng, s, shape);
        });
        const mgs = batched.map((r, i) => toMg(r, dtypeOf(row.args[i])));
        const out = vmap(row.f, { inAxes })(...mgs);
        const loop = [...globalThis.Array(BATCH).keys()].map((b) => {
          const slices = batched.map((r, i) => (axes[i] === null ? mgs[i] : toMg(take(r, axes[i] as number, b), dtypeOf(row.args[i]))));
          return fromMg(row.f(...slices));
        });
        expect(out.dtype).toBe(outDType);
        assertClose(out, stack(loop, 0), outDType === 'float32' ? VMAP_TOL : EXACT, 'vmap');
      };
      test('vmap matches a loop (inAxes 0)', vmapTest(row.args.map(() => 0)));
      if (row.inAxes) test(`vmap matches a loop (inAxes [${row.inAxes.map(String).join(', ')}])`, vmapTest(row.inAxes));

      if (!differentiable) return;

      const gradOf = (mgs: MgArray[], w: MgArray) => grad((...xs: MgArray[]) => np.sum(np.multiply(restricted(mgs)(...xs), w)), { argnums: diff.map((_, j) => j) });

      if (row.finiteDiff ?? true) {
        test('grad matches float64 finite differences', () => {
          const { rng, refs, mgs } = inputs();
          const w = rng.uniform(row.ref(...refs).shape, -1, 1);
          const grads = gradOf(mgs, toMg(w))(...diff.map((i) => mgs[i])) as MgArray[];
          const tol = row.gradTol ?? GRAD_TOL;
          diff.forEach((argIndex, j) => {
            const scale = Math.max(1, ...refs[argIndex].data.map(Math.abs));
            assertClose(grads[j], finiteDiffGrad(row.ref, refs, argIndex, w), { rtol: tol.rtol, atol: tol.atol * scale }, `grad of argument ${argIndex}`);
          });
        });
      }

      test('jit(grad) matches grad', () => {
        const { rng, mgs } = inputs();
        const w = toMg(rng.uniform(row.f(...mgs).shape, -1, 1));
        const g = gradOf(mgs, w);
        const primals = diff.map((i) => mgs[i]);
        const eager = g(...primals) as MgArray[];
        const jitted = jit(g)(...primals) as MgArray[];
        eager.forEach((e, j) => assertClose(jitted[j], fromMg(e), VMAP_TOL, `jit(grad) of argument ${diff[j]}`));
      });

      test('jvp and vjp are transposes of each other', () => {
        const { rng, mgs } = inputs();
        const g = restricted(mgs);
        const primals = diff.map((i) => mgs[i]);
        const tangents = diff.map((i) => rng.uniform(row.args[i].shape));
        const [out, tout] = jvp(g, primals, tangents.map((t) => toMg(t)));
        const c = rng.uniform(out.shape);
        const [out2, pullback] = vjp(g, ...primals);
        assertClose(out2, fromMg(out), JIT_TOL, 'vjp primal output');
        const cts = pullback(toMg(c)) as MgArray[];
        const lhs = vdot(c, fromMg(tout));
        const rhs = sumOf(cts.map((ct, j) => vdot(fromMg(ct), tangents[j])));
        const scale = sumOf(c.data.map((v, i) => Math.abs(v * fromMg(tout).data[i]))) + 1e-3;
        if (!(Math.abs(lhs - rhs) <= 1e-5 * scale + 1e-6)) throw new Error(`<c, jvp t> = ${lhs} but <vjp c, t> = ${rhs}`);
      });
    });
  }
}
