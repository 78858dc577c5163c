/**
 * @file numpy array manipulation built on existing primitives: flip, roll, tile, repeat, pad
 * (constant, edge, reflect, symmetric, wrap), tril, triu, outer, oneHot.
 */

import { NDArray } from '../core/array';
import { fromBuffer, fromScalar } from '../core/concrete';
import { typeError } from '../core/errors';
import { multiply } from './math';
import { normalizeAxes, normalizeAxis, shapeStr } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, checkDType } from './util';

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

function sliceAxis(x: Value, axis: number, start: number, stop: number): Value {
  const shape = x.aval.shape;
  return lax.slice(x, shape.map((_, i) => (i === axis ? start : 0)), shape.map((d, i) => (i === axis ? stop : d)));
}

/** `np.flip(m, {axis})`: reverses the given axes (default: all). */
export function flip(m: unknown, options: { axis?: number | number[] | null } = {}): NDArray {
  const x = asArray('flip', 'm', m);
  return lax.rev(x, normalizeAxes('flip', options.axis, x.ndim));
}

/** Rolls one axis by a traced int32 shift: a gather at (i - shift) mod n. */
function rollTraced(x: Value, axis: number, shift: Value): Value {
  const n = x.aval.shape[axis];
  if (n === 0) return x;
  const int32 = (v: number): Value => fromScalar(v, 'int32');
  // r = shift mod n in [0, n): integer division truncates, so fix up negative remainders.
  const r0 = lax.sub(shift, lax.mul(lax.div(shift, int32(n)), int32(n)));
  const r = lax.select(lax.lt(r0, int32(0)), lax.add(r0, int32(n)), r0);
  const src = lax.sub(lax.iota(n), lax.broadcastInDim(r, [n], []));
  const wrapped = lax.select(lax.lt(src, lax.broadcastInDim(int32(0), [n], [])), lax.add(src, lax.broadcastInDim(int32(n), [n], [])), src);
  return lax.gather(x, wrapped, axis);
}

/**
 * `np.roll(a, shift, {axis})`: elements shifted with wrap-around; no axis rolls the flattened
 * array. `shift` is an integer, one per axis, or a rank-0 integer array (traced under jit).
 */
export function roll(a: unknown, shift: number | number[] | NDArray, options: { axis?: number | number[] | null } = {}): NDArray {
  let x = asArray('roll', 'a', a);
  const traced = shift instanceof NDArray;
  if (traced && (shift.ndim !== 0 || (shift.dtype !== 'int32' && shift.dtype !== 'uint32'))) throw typeError('roll', 'shift', 'an integer, a JS array of integers, or a rank-0 int32 array', shift);
  const shifts = traced ? [0] : typeof shift === 'number' ? [shift] : shift;
  if (!Array.isArray(shifts) || !shifts.every(isInt)) throw typeError('roll', 'shift', 'an integer, a JS array of integers, or a rank-0 int32 array', shift);
  if (options.axis === undefined || options.axis === null) {
    if (shifts.length !== 1) throw new Error('roll: argument `shift` must be one integer when no axis is given');
    return lax.reshape(roll(lax.reshape(x, [x.size]), shift as number | NDArray, { axis: 0 }), [...x.aval.shape]);
  }
  const axes = (typeof options.axis === 'number' ? [options.axis] : options.axis).map((ax) => normalizeAxis('roll', ax, x.ndim));
  if (traced) {
    const s = lax.convert(shift, 'int32');
    for (const ax of axes) x = rollTraced(x, ax, s);
    return x;
  }
  const pairs = shifts.length === 1 ? axes.map((ax) => [ax, shifts[0]]) : axes.map((ax, i) => [ax, shifts[i]]);
  if (shifts.length !== 1 && shifts.length !== axes.length) throw new Error(`roll: argument \`shift\` has ${shifts.length} entries but \`axis\` has ${axes.length}`);
  for (const [ax, s] of pairs) {
    const n = x.aval.shape[ax];
    if (n === 0) continue;
    const k = ((s % n) + n) % n;
    if (k !== 0) x = lax.concatenate([sliceAxis(x, ax, n - k, n), sliceAxis(x, ax, 0, n - k)], ax);
  }
  return x;
}

/** `np.tile(A, reps)`: A repeated `reps` times along each axis (reps shorter than A's rank count from the end). */
export function tile(A: unknown, reps: number | number[]): NDArray {
  let x = asArray('tile', 'A', A);
  const r = typeof reps === 'number' ? [reps] : reps;
  if (!Array.isArray(r) || !r.every((v) => isInt(v) && v >= 0)) throw typeError('tile', 'reps', 'a non-negative integer or a JS array of them', reps);
  const nd = Math.max(r.length, x.ndim);
  const reps2 = [...Array(nd - r.length).fill(1), ...r];
  x = lax.reshape(x, [...Array(nd - x.ndim).fill(1), ...x.aval.shape]);
  // Broadcast to [r0, d0, r1, d1, ...] and merge each pair.
  const shape = x.aval.shape;
  const big = shape.flatMap((d, i) => [reps2[i], d]);
  const y = lax.broadcastInDim(x, big, shape.map((_, i) => 2 * i + 1));
  return lax.reshape(y, shape.map((d, i) => d * reps2[i]));
}

/** `np.repeat(a, repeats, {axis})`: each element repeated (repeats: a number, or one static count per element). */
export function repeat(a: unknown, repeats: number | number[], options: { axis?: number | null } = {}): NDArray {
  let x = asArray('repeat', 'a', a);
  if (options.axis === undefined || options.axis === null) x = lax.reshape(x, [x.size]);
  const axis = normalizeAxis('repeat', options.axis ?? 0, x.ndim);
  const n = x.aval.shape[axis];
  const counts = typeof repeats === 'number' ? Array(n).fill(repeats) : repeats;
  if (!Array.isArray(counts) || !counts.every((c) => isInt(c) && c >= 0)) throw typeError('repeat', 'repeats', 'a non-negative integer or a JS array of them (one per element)', repeats);
  if (counts.length !== n) throw new Error(`repeat: argument \`repeats\` has ${counts.length} counts but axis ${axis} has ${n} elements`);
  const src: number[] = [];
  counts.forEach((c, i) => {
    for (let k = 0; k < c; k++) src.push(i);
  });
  if (src.length === 0) return lax.broadcastInDim(fromScalar(0, x.dtype, x.weakType), x.aval.shape.map((d, i) => (i === axis ? 0 : d)), []);
  return lax.gather(x, fromBuffer([src.length], 'int32', Int32Array.from(src)), axis);
}

export type PadMode = 'constant' | 'edge' | 'reflect' | 'symmetric' | 'wrap';

function padWidths(padWidth: unknown, ndim: number): [number, number][] {
  const bad = (): never => {
    throw typeError('pad', 'padWidth', `a non-negative integer, a pair [before, after], or ${ndim} such pairs`, padWidth);
  };
  const pair = (p: unknown): [number, number] => {
    if (isInt(p) && p >= 0) return [p, p];
    if (Array.isArray(p) && p.length === 2 && p.every((v) => isInt(v) && v >= 0)) return [p[0], p[1]];
    if (Array.isArray(p) && p.length === 1 && isInt(p[0]) && p[0] >= 0) return [p[0], p[0]];
    return bad();
  };
  if (Array.isArray(padWidth) && padWidth.length === ndim && padWidth.every((p) => Array.isArray(p))) return padWidth.map(pair);
  if (Array.isArray(padWidth) && padWidth.length === 1 && Array.isArray(padWidth[0])) return Array(ndim).fill(pair(padWidth[0]));
  return Array(ndim).fill(pair(padWidth));
}

/** Pads one axis with elements of the array itself (edge, reflect, symmetric, wrap): one gather at source positions. */
function padAxis(x: Value, axis: number, before: number, after: number, mode: Exclude<PadMode, 'constant'>): Value {
  const n = x.aval.shape[axis];
  if (before === 0 && after === 0) return x;
  if (n === 0) throw new Error(`pad: cannot pad the empty axis ${axis} in mode '${mode}'`);
  // Index of the source element for a position p (negative before the array, >= n after it).
  const source = (p: number): number => {
    switch (mode) {
      case 'edge':
        return Math.min(Math.max(p, 0), n - 1);
      case 'wrap':
        return ((p % n) + n) % n;
      case 'reflect': {
        if (n === 1) return 0;
        const period = 2 * (n - 1);
        const q = ((p % period) + period) % period;
        return q < n ? q : period - q;
      }
      case 'symmetric': {
        const period = 2 * n;
        const q = ((p % period) + period) % period;
        return q < n ? q : period - 1 - q;
      }
    }
  };
  const idx = [...Array(before + n + after).keys()].map((i) => source(i - before));
  return lax.gather(x, fromBuffer([idx.length], 'int32', Int32Array.from(idx)), axis);
}

/** `np.pad(array, padWidth, {mode, constantValues})`. */
export function pad(array: unknown, padWidth: number | number[] | number[][], options: { mode?: PadMode; constantValues?: number } = {}): NDArray {
  const x = asArray('pad', 'array', array);
  const widths = padWidths(padWidth, x.ndim);
  const mode = options.mode ?? 'constant';
  if (!['constant', 'edge', 'reflect', 'symmetric', 'wrap'].includes(mode)) throw typeError('pad', 'mode', "one of 'constant', 'edge', 'reflect', 'symmetric', 'wrap'", mode);
  if (mode === 'constant') {
    const value = options.constantValues ?? 0;
    if (typeof value !== 'number') throw typeError('pad', 'constantValues', 'a number', value);
    return lax.pad(x, widths.map((w) => w[0]), widths.map((w) => w[1]), value);
  }
  let y = x;
  widths.forEach(([b, a], axis) => (y = padAxis(y, axis, b, a, mode)));
  return y;
}

/** Where column - row >= k (or <= k): a constant mask over the last two axes. */
function triMask(rows: number, cols: number, k: number, lower: boolean): Value {
  const buf = new Uint8Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) buf[i * cols + j] = (lower ? j - i <= k : j - i >= k) ? 1 : 0;
  return fromBuffer([rows, cols], 'bool', buf);
}

function tri(fn: string, lower: boolean) {
  return (m: unknown, k = 0): NDArray => {
    const x = asArray(fn, 'm', m);
    if (!isInt(k)) throw typeError(fn, 'k', 'an integer', k);
    if (x.ndim < 2) throw new Error(`${fn}: argument \`m\` must have at least 2 dimensions, received shape ${shapeStr(x.aval.shape)}`);
    const [r, c] = x.aval.shape.slice(-2);
    const mask = lax.broadcastInDim(triMask(r, c, k, lower), [...x.aval.shape], [x.ndim - 2, x.ndim - 1]);
    return lax.select(mask, x, lax.zerosLike(x));
  };
}
/** `np.tril(m, k)`: zeros above the k-th diagonal of the last two axes. */
export const tril = tri('tril', true);
/** `np.triu(m, k)`: zeros below the k-th diagonal of the last two axes. */
export const triu = tri('triu', false);

/** `np.outer(a, b)`: a.flatten()[:, None] * b.flatten()[None, :] (numpy promotion). */
export function outer(a: unknown, b: unknown): NDArray {
  const [x, y] = [asArray('outer', 'a', a), asArray('outer', 'b', b)];
  const shape = [x.size, y.size];
  return multiply(lax.broadcastInDim(lax.reshape(x, [x.size]), shape, [0]), lax.broadcastInDim(lax.reshape(y, [y.size]), shape, [1]));
}

/**
 * `oneHot(x, numClasses, {dtype, axis})`: 1 where the (integer) class of x equals the position along
 * a new axis (last by default); classes outside [0, numClasses) give all zeros (as jax.nn.one_hot).
 */
export function oneHot(x: unknown, numClasses: number, options: { dtype?: string; axis?: number } = {}): NDArray {
  const a = asArray('oneHot', 'x', x);
  if (!isInt(numClasses) || numClasses < 0) throw typeError('oneHot', 'numClasses', 'a non-negative integer', numClasses);
  const dtype = checkDType('oneHot', options.dtype ?? 'float32');
  const axis = normalizeAxis('oneHot', options.axis ?? -1, a.ndim + 1);
  const shape = [...a.aval.shape];
  shape.splice(axis, 0, numClasses);
  const others = [...Array(a.ndim + 1).keys()].filter((i) => i !== axis);
  const cls = a.dtype === 'float32' ? a : lax.convert(a, a.dtype === 'bool' ? 'int32' : a.dtype);
  const classes = lax.convert(lax.iota(numClasses), cls.dtype);
  const eq = lax.eq(lax.broadcastInDim(cls, shape, others), lax.broadcastInDim(classes, shape, [axis]));
  return lax.convert(eq, dtype);
}

