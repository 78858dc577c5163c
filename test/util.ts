/** @file Small test helpers: comparing metalgrad arrays with nested JS float64 values, and tiny JS linear algebra. */

import { NDArray } from 'metalgrad';

export type Nested = number | boolean | Nested[];

/** The shape of rectangular nested JS arrays. */
export function nestedShape(x: Nested): number[] {
  const shape: number[] = [];
  let p: Nested = x;
  while (Array.isArray(p)) {
    shape.push(p.length);
    p = p[0];
  }
  return shape;
}

/** Flattens nested JS arrays (booleans become 1/0). */
export function flat(x: Nested): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [Number(x)];
}

/**
 * Asserts that `actual` is an array with the shape of `expected` whose values are within
 * `atol + rtol·|expected|` (float32 vs float64 reference). Reports the first mismatch.
 */
export function expectClose(actual: unknown, expected: Nested, { rtol = 1e-5, atol = 1e-5 } = {}): void {
  if (!(actual instanceof NDArray)) throw new Error(`expectClose: expected a metalgrad array, received ${actual === null ? 'null' : typeof actual}`);
  expect(actual.shape).toEqual(nestedShape(expected));
  const got = Array.from(actual.data(), Number);
  const want = flat(expected);
  want.forEach((w, i) => {
    const g = got[i];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) throw new Error(`expectClose: element ${i} is ${g}, expected ${w} (shape [${actual.shape.join(', ')}])\nactual:   [${got.join(', ')}]\nexpected: [${want.join(', ')}]`);
  });
}

/** Asserts exact equality of values, shape and (optionally) dtype. */
export function expectEqual(actual: unknown, expected: Nested, dtype?: string): void {
  if (!(actual instanceof NDArray)) throw new Error(`expectEqual: expected a metalgrad array, received ${typeof actual}`);
  expect(actual.shape).toEqual(nestedShape(expected));
  if (dtype !== undefined) expect(actual.dtype).toBe(dtype);
  expect(Array.from(actual.data(), Number)).toEqual(flat(expected));
}

/** Deterministic pseudo-random numbers in [lo, hi) (mulberry32), rounded to float32. */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.fround(lo + (hi - lo) * u);
  };
}

/** A rows×cols matrix of pseudo-random float32-representable numbers. */
export function randMatrix(rand: () => number, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rand()));
}

export function randVector(rand: () => number, n: number): number[] {
  return Array.from({ length: n }, () => rand());
}

export function matmulJS(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

export function transposeJS(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}
