/**
 * @file numpy indexing: `index(x, ...specs)` (also `x.slice(...specs)`), `take`, `takeAlongAxis`,
 * and functional updates `x.at(...specs).set(v)` / `.add` / `.mul` / `.min` / `.max` / `.get()`.
 *
 * A spec is one of: an integer (picks one element, dropping the axis; negative counts from the end);
 * a slice string `'start:stop:step'` as in Python (`':'`, `'1:'`, `'::-1'`, `'-3:'`) or an object
 * `{start, stop, step}`; `'...'` (the remaining axes); `null` (a new axis of size 1); or an integer
 * array (NDArray or nested JS array of integers) indexing one axis. Several integer arrays
 * broadcast together and pick elements jointly (numpy's advanced indexing). Like JAX, reads clamp
 * out-of-range array indices and updates drop them; negative entries count from the end.
 */

import { NDArray } from '../core/array';
import { fromBuffer, fromScalar } from '../core/concrete';
import { typeError } from '../core/errors';
import { broadcastShapes, normalizeAxis, shapeStr, sizeOf } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { arrayFromData } from './data';
import { asArray } from './util';

export interface SliceObject {
  start?: number | null;
  stop?: number | null;
  step?: number | null;
}
export type IndexSpec = number | string | SliceObject | null | NDArray | number[] | number[][];

type Op =
  | { kind: 'int'; i: number }
  | { kind: 'slice'; start: number; count: number; step: number }
  | { kind: 'array'; idx: Value }
  | { kind: 'new' };

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/** Python's slice.indices(n): the first index, the element count and the step. */
function sliceBounds(fn: string, s: SliceObject, n: number, where: string): { start: number; count: number; step: number } {
  const check = (v: unknown, name: string): number | null => {
    if (v === undefined || v === null) return null;
    if (!isInt(v)) throw typeError(fn, `${where}.${name}`, 'an integer or null', v);
    return v;
  };
  const step = check(s.step, 'step') ?? 1;
  if (step === 0) throw new RangeError(`${fn}: argument \`${where}\` has step 0 (a slice step must not be zero)`);
  const norm = (v: number | null, dflt: number, lo: number, hi: number): number => {
    if (v === null) return dflt;
    const w = v < 0 ? v + n : v;
    return Math.min(Math.max(w, lo), hi);
  };
  const start = step > 0 ? norm(check(s.start, 'start'), 0, 0, n) : norm(check(s.start, 'start'), n - 1, -1, n - 1);
  const stop = step > 0 ? norm(check(s.stop, 'stop'), n, 0, n) : norm(check(s.stop, 'stop'), -1, -1, n - 1);
  const count = Math.max(0, Math.ceil((stop - start) / step));
  return { start, count, step };
}

function parseSliceString(fn: string, s: string, where: string): SliceObject {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) throw new TypeError(`${fn}: argument \`${where}\` must be a slice string 'start:stop:step' or '...', received string ${JSON.stringify(s)}`);
  const num = (p: string): number | null => {
    const t = p.trim();
    if (t === '') return null;
    if (!/^[+-]?\d+$/.test(t)) throw new TypeError(`${fn}: argument \`${where}\` must be a slice string of integers 'start:stop:step', received string ${JSON.stringify(s)}`);
    return Number(t);
  };
  return { start: num(parts[0]), stop: num(parts[1]), step: parts.length === 3 ? num(parts[2]) : null };
}

/** An integer index array as int32 with negative entries wrapped (counted from the end of an axis of n). */
function indexArray(fn: string, where: string, spec: unknown, n: number): Value {
  if (Array.isArray(spec) && !spec.flat(Infinity).every((v) => isInt(v))) throw typeError(fn, where, 'an integer array (nested JS arrays of integers)', spec);
  const a = Array.isArray(spec) ? arrayFromData(fn, spec, { dtype: 'int32' }) : asArray(fn, where, spec);
  if (a.dtype === 'bool') throw new TypeError(`${fn}: argument \`${where}\` is a boolean mask; boolean indexing has a data-dependent shape and is not supported (use where)`);
  if (a.dtype === 'float32') throw new TypeError(`${fn}: argument \`${where}\` must hold integers, received a float32 array`);
  const idx = lax.convert(a, 'int32');
  return lax.select(lax.lt(idx, fromScalar(0, 'int32')), lax.add(idx, fromScalar(n, 'int32')), idx);
}

/** Turns specs into one operation per consumed (or new) axis. */
function parse(fn: string, x: Value, specs: IndexSpec[]): Op[] {
  const consumes = (s: IndexSpec): boolean => s !== null && s !== '...';
  const nEllipsis = specs.filter((s) => s === '...').length;
  if (nEllipsis > 1) throw new RangeError(`${fn}: an index can have at most one ellipsis '...', received ${nEllipsis}`);
  const used = specs.filter(consumes).length;
  if (used > x.ndim) throw new RangeError(`${fn}: too many indices for an array of rank ${x.ndim}: ${used} were given`);
  const full: IndexSpec[] = [];
  for (const s of specs) {
    if (s === '...') for (let k = 0; k < x.ndim - used; k++) full.push(':');
    else full.push(s);
  }
  if (nEllipsis === 0) for (let k = used; k < x.ndim; k++) full.push(':');
  const ops: Op[] = [];
  let axis = 0;
  full.forEach((s, k) => {
    const where = `specs[${k}]`;
    if (s === null) {
      ops.push({ kind: 'new' });
      return;
    }
    const n = x.aval.shape[axis];
    if (typeof s === 'number') {
      if (!Number.isInteger(s)) throw typeError(fn, where, 'an integer, a slice, null, "..." or an integer array', s);
      if (s < -n || s >= n) throw new RangeError(`${fn}: index ${s} is out of bounds for axis ${axis} of size ${n}`);
      ops.push({ kind: 'int', i: s < 0 ? s + n : s });
    } else if (typeof s === 'string' || (typeof s === 'object' && !(s instanceof NDArray) && !Array.isArray(s))) {
      const obj = typeof s === 'string' ? parseSliceString(fn, s, where) : s;
      ops.push({ kind: 'slice', ...sliceBounds(fn, obj, n, where) });
    } else {
      ops.push({ kind: 'array', idx: indexArray(fn, where, s, n) });
    }
    axis++;
  });
  return ops;
}

/** The int32 scalar `v` as a constant. */
const int32 = (v: number): Value => fromScalar(v, 'int32');

/**
 * x[specs]; `fill` replaces reads at out-of-range array indices (otherwise they clamp). Integer
 * arrays broadcast together and index their axes jointly through one gather over those axes
 * flattened; as in numpy, integers then count as arrays too, and the broadcast dimensions replace
 * the indexed axes when those are adjacent, or come first otherwise.
 */
function applyIndex(fn: string, x: Value, specs: IndexSpec[], fill?: number): Value {
  let ops = parse(fn, x, specs);
  if (ops.some((o) => o.kind === 'array')) ops = ops.map((o) => (o.kind === 'int' ? { kind: 'array', idx: int32(o.i) } : o));
  const consumed = ops.filter((o) => o.kind !== 'new');
  const shape = x.aval.shape;
  // Basic indexing first: reversals for negative steps, then one strided slice.
  const revDims = consumed.flatMap((o, a) => (o.kind === 'slice' && o.step < 0 && o.count > 0 ? [a] : []));
  let y = lax.rev(x, revDims);
  const start: number[] = [];
  const limit: number[] = [];
  const strides: number[] = [];
  consumed.forEach((o, a) => {
    const n = shape[a];
    if (o.kind === 'int') {
      start.push(o.i), limit.push(o.i + 1), strides.push(1);
    } else if (o.kind === 'slice') {
      const s = o.count === 0 ? 0 : o.step < 0 ? n - 1 - o.start : o.start;
      const st = Math.abs(o.step);
      start.push(s), limit.push(o.count === 0 ? 0 : s + (o.count - 1) * st + 1), strides.push(st);
    } else {
      start.push(0), limit.push(n), strides.push(1);
    }
  });
  if (start.some((s, a) => s !== 0 || limit[a] !== shape[a] || strides[a] !== 1)) y = lax.slice(y, start, limit, strides);
  const arrayAxes = consumed.flatMap((o, a) => (o.kind === 'array' ? [a] : []));
  const positions = ops.flatMap((o, k) => (o.kind === 'array' ? [k] : []));
  const adjacent = positions.every((k, j) => j === 0 || k === positions[j - 1] + 1);
  let bshape: number[] = [];
  if (arrayAxes.length > 0) {
    const idxs = arrayAxes.map((a) => (consumed[a] as { idx: Value }).idx);
    bshape = broadcastShapes(fn, ...idxs.map((i) => i.aval.shape));
    const b = idxs.map((i) => lax.broadcastInDim(i, bshape, i.aval.shape.map((_, d) => bshape.length - i.ndim + d)));
    const ns = arrayAxes.map((a) => shape[a]);
    const rest = consumed.map((_, a) => a).filter((a) => !arrayAxes.includes(a));
    // The indexed axes side by side at p0, merged into one.
    const p0 = adjacent ? arrayAxes[0] : 0;
    if (!adjacent) y = lax.transpose(y, [...arrayAxes, ...rest]);
    const total = sizeOf(ns);
    const ys = y.aval.shape;
    y = lax.reshape(y, [...ys.slice(0, p0), total, ...ys.slice(p0 + ns.length)]);
    const outShape = [...y.aval.shape.slice(0, p0), ...bshape, ...y.aval.shape.slice(p0 + 1)];
    if (total === 0 && sizeOf(bshape) > 0) throw new RangeError(`${fn}: cannot index an axis of size 0 with an integer array`);
    if (sizeOf(bshape) === 0 || total === 0) {
      y = lax.broadcastInDim(fromScalar(0, y.dtype, y.weakType), outShape, []);
    } else {
      // Each index is clamped into its own axis before they combine (one index needs no clamp: gather clamps).
      let flat = b[0];
      if (b.length > 1) {
        flat = int32(0);
        let stride = total;
        b.forEach((i, k) => {
          stride /= ns[k];
          const c = lax.min(lax.max(i, int32(0)), int32(ns[k] - 1));
          flat = lax.add(flat, lax.mul(c, int32(stride)));
        });
      }
      y = lax.gather(y, flat, p0);
      if (fill !== undefined) {
        const ok = b.map((i, k) => lax.and(lax.ge(i, int32(0)), lax.lt(i, int32(ns[k])))).reduce((p, q) => lax.and(p, q));
        const mask = lax.broadcastInDim(ok, outShape, bshape.map((_, d) => p0 + d));
        y = lax.select(mask, y, lax.broadcastInDim(fromScalar(fill, y.dtype, y.weakType), outShape, []));
      }
    }
  }
  const out: number[] = adjacent ? [] : [...bshape];
  let placed = false;
  for (const o of ops) {
    if (o.kind === 'new') out.push(1);
    else if (o.kind === 'slice') out.push(o.count);
    else if (o.kind === 'array' && adjacent && !placed) {
      out.push(...bshape);
      placed = true;
    }
  }
  return lax.reshape(y, out);
}

/** `x[specs]` (see the file header for the spec forms). Also available as `x.slice(...specs)`. */
export function index(x: unknown, ...specs: IndexSpec[]): NDArray {
  return applyIndex('index', asArray('index', 'x', x), specs);
}

export interface TakeOptions {
  axis?: number | null;
  /** 'clip' (the default) clamps out-of-range indices; 'fill' reads `fillValue` there (NaN for floats, 0 otherwise, by default). */
  mode?: 'clip' | 'fill';
  fillValue?: number;
}

function checkMode(fn: string, o: TakeOptions): number | undefined {
  if (o.mode !== undefined && o.mode !== 'clip' && o.mode !== 'fill') throw typeError(fn, 'mode', "'clip' or 'fill'", o.mode);
  if (o.fillValue !== undefined && typeof o.fillValue !== 'number') throw typeError(fn, 'fillValue', 'a number', o.fillValue);
  return o.mode === 'fill' ? o.fillValue ?? NaN : undefined;
}

/** `np.take(a, indices, {axis, mode})`: elements of `a` along `axis` (default: of the flattened array). */
export function take(a: unknown, indices: unknown, options: TakeOptions = {}): NDArray {
  let x = asArray('take', 'a', a);
  let fill = checkMode('take', options);
  if (options.axis === undefined || options.axis === null) x = lax.reshape(x, [x.size]);
  const axis = normalizeAxis('take', options.axis ?? 0, x.ndim);
  if (fill !== undefined && Number.isNaN(fill) && x.dtype !== 'float32') fill = 0;
  if (indices === null || typeof indices === 'string' || (typeof indices === 'object' && !(indices instanceof NDArray) && !Array.isArray(indices))) {
    throw typeError('take', 'indices', 'an integer or an integer array', indices);
  }
  const specs: IndexSpec[] = x.aval.shape.map(() => ':');
  specs[axis] = indices as IndexSpec;
  return applyIndex('take', x, specs, fill);
}

/**
 * `np.takeAlongAxis(arr, indices, axis)`: arr[..., indices[..., j, ...], ...] along `axis` (null:
 * the flattened array). `indices` has arr's rank and broadcasts against it on the other axes.
 */
export function takeAlongAxis(arr: unknown, indices: unknown, axis: number | null, options: Omit<TakeOptions, 'axis'> = {}): NDArray {
  let x = asArray('takeAlongAxis', 'arr', arr);
  let fill = checkMode('takeAlongAxis', options);
  if (fill !== undefined && Number.isNaN(fill) && x.dtype !== 'float32') fill = 0;
  if (axis === null) x = lax.reshape(x, [x.size]);
  const ax = normalizeAxis('takeAlongAxis', axis ?? 0, x.ndim);
  let idx = indexArray('takeAlongAxis', 'indices', indices, x.aval.shape[ax]);
  if (idx.ndim !== x.ndim) throw new Error(`takeAlongAxis: argument \`indices\` must have the rank of \`arr\` (${x.ndim}), received shape ${shapeStr(idx.aval.shape)}`);
  // Broadcast the other axes together (numpy rules), then gather with them as batch axes.
  const shape = x.aval.shape.map((d, i) => {
    if (i === ax) return d;
    const e = idx.aval.shape[i];
    if (d !== e && d !== 1 && e !== 1) throw new Error(`takeAlongAxis: shapes ${shapeStr(x.aval.shape)} and ${shapeStr(idx.aval.shape)} do not broadcast outside axis ${ax}`);
    return Math.max(d, e);
  });
  const all = [...Array(x.ndim).keys()];
  x = lax.broadcastInDim(x, shape, all.map((i) => i)) as Value;
  idx = lax.broadcastInDim(idx, shape.map((d, i) => (i === ax ? idx.aval.shape[ax] : d)), all);
  const n = x.aval.shape[ax];
  const last = x.ndim - 1;
  const xl = lax.moveAxis(x, ax, last);
  const il = lax.moveAxis(idx, ax, last);
  if (n === 0 && il.size > 0) throw new RangeError(`takeAlongAxis: cannot take along axis ${ax} of size 0`);
  let g = il.size === 0 ? lax.broadcastInDim(fromScalar(0, x.dtype, x.weakType), [...il.aval.shape], []) : lax.gather(xl, il, last, last);
  if (fill !== undefined) {
    const ok = lax.and(lax.ge(il, fromScalar(0, 'int32')), lax.lt(il, fromScalar(n, 'int32')));
    g = lax.select(ok, g, lax.broadcastInDim(fromScalar(fill, g.dtype, g.weakType), [...g.aval.shape], []));
  }
  return lax.moveAxis(g, last, ax);
}

/** A functional update of the elements selected by an index (`x.at(...specs)`), as JAX's `.at[]`. */
export class IndexUpdate {
  constructor(
    private readonly x: Value,
    private readonly specs: IndexSpec[],
  ) {}

  /** The selected elements; out-of-range array indices clamp ('clip') or read `fillValue` ('fill'). */
  get(options: { mode?: 'clip' | 'fill'; fillValue?: number } = {}): NDArray {
    let fill = checkMode('at.get', options);
    if (fill !== undefined && Number.isNaN(fill) && this.x.dtype !== 'float32') fill = 0;
    return applyIndex('at.get', this.x, this.specs, fill);
  }
  set(values: unknown): NDArray {
    return this.update('set', values);
  }
  add(values: unknown): NDArray {
    return this.update('add', values);
  }
  mul(values: unknown): NDArray {
    return this.update('mul', values);
  }
  multiply(values: unknown): NDArray {
    return this.update('mul', values, 'multiply');
  }
  min(values: unknown): NDArray {
    return this.update('min', values);
  }
  max(values: unknown): NDArray {
    return this.update('max', values);
  }

  /** Scatters into the flattened array at the flat positions the index selects (-1 where out of range: dropped). */
  private update(op: 'set' | 'add' | 'mul' | 'min' | 'max', values: unknown, name: string = op): NDArray {
    const fn = `at.${name}`;
    const x = this.x;
    if (x.size > 2147483647) throw new RangeError(`${fn}: the array has too many elements for int32 positions`);
    const flat = Int32Array.from({ length: x.size }, (_, i) => i);
    const positions = applyIndex(fn, fromBuffer(x.aval.shape, 'int32', flat), this.specs, -1);
    const v = asArray(fn, 'values', values);
    if (x.dtype === 'bool' && (op === 'add' || op === 'mul')) throw new TypeError(`${fn}: ${op} is not defined on a bool array`);
    let u = lax.convert(v, x.dtype, x.weakType);
    const ps = positions.aval.shape;
    if (u.ndim > ps.length || u.aval.shape.some((d, i) => d !== 1 && d !== ps[ps.length - u.ndim + i])) {
      throw new Error(`${fn}: argument \`values\` of shape ${shapeStr(u.aval.shape)} cannot be broadcast to the indexed shape ${shapeStr(ps)}`);
    }
    u = lax.broadcastInDim(u, [...ps], u.aval.shape.map((_, i) => ps.length - u.ndim + i));
    const n = sizeOf(ps);
    const out = lax.scatter(lax.reshape(x, [x.size]), lax.reshape(positions, [n]), lax.reshape(u, [n]), { axis: 0, batchDims: 0, op, mode: 'drop' });
    return lax.reshape(out, [...x.aval.shape]);
  }
}

/** `x.at(...specs)`: the functional-update helper. */
export function at(x: unknown, ...specs: IndexSpec[]): IndexUpdate {
  return new IndexUpdate(asArray('at', 'x', x), specs);
}
