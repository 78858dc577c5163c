/**
 * @file random: JAX's counter-based PRNG (threefry-2x32, 20 rounds), bit-compatible with
 * `jax.random` under JAX's current default `jax_threefry_partitionable=True` (JAX >= 0.5): element i
 * of an output of n elements hashes the 64-bit counter i (as two uint32 words, high first), and
 * `split`/`foldIn` hash the counters (0, j) and (0, data). A key is a raw uint32 array of shape [2],
 * the layout of `jax.random.PRNGKey` (not a typed key array). Everything is built from elementwise
 * primitives, so it works under `jit` (keys may be traced) and `vmap`, and the hash fuses into one
 * kernel under jit.
 */

import { NDArray } from './core/array';
import { ConcreteArray, fromBuffer, fromScalar } from './core/concrete';
import { DType } from './core/dtype';
import { rangeError, typeError } from './core/errors';
import { broadcastShapes, checkShape, normalizeAxis, shapesEqual, shapeStr, sizeOf } from './core/shape';
import { Value } from './core/trace';
import * as lax from './lax';
import { asArray, broadcastAll, checkDType } from './numpy/util';
import { jit } from './transforms/jit';

// ---------------------------------------------------------------------------------------------
// The threefry-2x32 hash.

const u32 = (v: number): Value => fromScalar(v, 'uint32');
const ROTATIONS = [[13, 15, 26, 6], [17, 29, 16, 24]];

function rotateLeft(x: Value, r: number): Value {
  return lax.or(lax.shiftLeft(x, u32(r)), lax.shiftRightLogical(x, u32(32 - r)));
}

/**
 * Threefry-2x32 with 20 rounds (Salmon et al. 2011, as `jax._src.prng._threefry2x32_lowering`):
 * encrypts the counter words (x0, x1) under the key words (k0, k1). Operands are uint32 and
 * elementwise-compatible (rank-0 ones broadcast).
 */
export function threefry2x32(k0: Value, k1: Value, x0: Value, x1: Value): [Value, Value] {
  const ks = [k0, k1, lax.xor(lax.xor(k0, k1), u32(0x1bd11bda))];
  let v0 = lax.add(x0, ks[0]);
  let v1 = lax.add(x1, ks[1]);
  for (let i = 0; i < 5; i++) {
    for (const r of ROTATIONS[i % 2]) {
      v0 = lax.add(v0, v1);
      v1 = lax.xor(v0, rotateLeft(v1, r));
    }
    // Key injection i + 1: the schedule rotates, and the injection count goes into the second word.
    v0 = lax.add(v0, ks[(i + 1) % 3]);
    v1 = lax.add(v1, lax.add(ks[(i + 2) % 3], u32(i + 1)));
  }
  return [v0, v1];
}

/** The two words of a key as rank-0 values. */
function keyWords(key: Value): [Value, Value] {
  const word = (i: number) => lax.reshape(lax.slice(key, [i], [i + 1]), []);
  return [word(0), word(1)];
}

/**
 * Both hash words for the counters (0, counts): one fused kernel under jit, a cached compiled plan
 * eagerly (jit inlines under other transformations).
 */
const hashCounts = jit((key: NDArray, counts: NDArray): NDArray[] => {
  // Key words broadcast first, so the whole hash (key schedule included) is one elementwise run.
  const [k0, k1] = keyWords(key).map((w) => lax.broadcastInDim(w, [...counts.shape], []));
  return threefry2x32(k0, k1, u32(0), counts);
});

/** The low words of the counters 0..n-1 over `shape` (the high words are 0: n < 2^32). */
function iota(shape: number[]): Value {
  const n = sizeOf(shape);
  const data = new Uint32Array(n);
  for (let i = 0; i < n; i++) data[i] = i;
  return fromBuffer(shape, 'uint32', data);
}

// ---------------------------------------------------------------------------------------------
// Argument checks.

const KEY_EXPECTED = 'a PRNG key (a uint32 array of shape [2], from random.key or random.split)';

function checkKey(fn: string, key: unknown): Value {
  if (!(key instanceof NDArray) || key.dtype !== 'uint32' || !shapesEqual(key.shape, [2])) throw typeError(fn, 'key', KEY_EXPECTED, key);
  return key;
}

/** A shape argument that must contain (broadcast from) the shapes of the array parameters. */
function checkSampleShape(fn: string, shape: unknown, ...paramShapes: (readonly number[])[]): number[] {
  const s = checkShape(fn, 'shape', shape);
  let fits: boolean;
  try {
    fits = shapesEqual(broadcastShapes(fn, s, ...paramShapes), s);
  } catch {
    fits = false;
  }
  if (!fits) throw rangeError(fn, 'shape', `is ${shapeStr(s)}, but the parameter shapes ${paramShapes.map(shapeStr).join(' ')} do not broadcast to it`);
  return s;
}

function checkOptions<T extends object>(fn: string, options: unknown, example: string): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || globalThis.Array.isArray(options)) throw typeError(fn, 'options', `an options object such as ${example}`, options);
  return options as Partial<T>;
}

function checkFloatDType(fn: string, dtype: unknown): DType {
  const d = checkDType(fn, dtype ?? 'float32');
  if (d !== 'float32') throw typeError(fn, 'dtype', "a floating dtype ('float32')", dtype);
  return d;
}

/** A float parameter (JS number or array), converted to float32. */
function floatParam(fn: string, arg: string, x: unknown): Value {
  const a = asArray(fn, arg, x);
  if (a.dtype === 'bool') throw typeError(fn, arg, 'a number or a numeric array', x);
  return lax.convert(a, 'float32');
}

/** The concrete values of a parameter (JS number or concrete array), or null when it is traced. */
function concreteValues(x: Value): ArrayLike<number> | null {
  return x instanceof ConcreteArray ? x.data() : null;
}

// ---------------------------------------------------------------------------------------------
// Keys.

/**
 * `random.key(seed)`: a raw key, as `jax.random.PRNGKey(seed)` with JAX's default 32-bit mode:
 * `[0, seed mod 2^32]`. `seed` is a safe JS integer or an int32/uint32 scalar array (which may be
 * traced).
 */
export function key(seed: unknown): NDArray {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) throw typeError('random.key', 'seed', 'an integer (a safe JS integer or an int32/uint32 scalar array)', seed);
    return fromBuffer([2], 'uint32', Uint32Array.from([0, ((seed % 4294967296) + 4294967296) % 4294967296]));
  }
  if (!(seed instanceof NDArray) || seed.ndim !== 0 || (seed.dtype !== 'int32' && seed.dtype !== 'uint32')) {
    throw typeError('random.key', 'seed', 'an integer (a safe JS integer or an int32/uint32 scalar array)', seed);
  }
  // A 32-bit seed has no high word (JAX: seed >> 32 is 0 for it).
  const low = lax.reshape(lax.convert(seed, 'uint32'), [1]);
  return lax.concatenate([lax.zerosLike(low), low], 0);
}

/** `jax.random.PRNGKey`'s name for `key`. */
export const PRNGKey = key;

/** `random.split(key, num = 2)`: `num` new keys, shape [num, 2] (`num` may be a shape). */
export function split(key: unknown, num: number | number[] = 2): NDArray {
  const k = checkKey('random.split', key);
  const shape = checkShape('random.split', 'num', num);
  const [b0, b1] = hashCounts(k, iota(shape)) as Value[];
  const r = shape.length;
  const col = (b: Value) => lax.reshape(b, [...shape, 1]);
  return lax.concatenate([col(b0), col(b1)], r);
}

/** `random.foldIn(key, data)`: a new key from a key and a 32-bit integer (JS number or scalar array). */
export function foldIn(key: unknown, data: unknown): NDArray {
  const k = checkKey('random.foldIn', key);
  let d: Value;
  if (typeof data === 'number') {
    if (!Number.isInteger(data) || data < -2147483648 || data > 4294967295) throw typeError('random.foldIn', 'data', 'an integer in [-2^31, 2^32)', data);
    d = u32(data < 0 ? data + 4294967296 : data);
  } else if (data instanceof NDArray && data.ndim === 0 && (data.dtype === 'int32' || data.dtype === 'uint32')) {
    d = lax.convert(data, 'uint32');
  } else {
    throw typeError('random.foldIn', 'data', 'an integer (a JS number or an int32/uint32 scalar array)', data);
  }
  const [b0, b1] = hashCounts(k, lax.reshape(d, [1])) as Value[];
  return lax.concatenate([b0, b1], 0);
}

// ---------------------------------------------------------------------------------------------
// Bits and continuous distributions.

/** Random uint32 bits of `shape`: both hash words of each element's counter, xored. */
function randomBits(k: Value, shape: number[]): Value {
  const [b0, b1] = hashCounts(k, iota(shape)) as Value[];
  return lax.xor(b0, b1);
}

/** `random.bits(key, shape = [], {dtype: 'uint32'})`: uniformly random bits. */
export function bits(key: unknown, shape: number | number[] = [], options: { dtype?: DType } = {}): NDArray {
  const k = checkKey('random.bits', key);
  const s = checkShape('random.bits', 'shape', shape);
  const o = checkOptions<{ dtype: DType }>('random.bits', options, "{dtype: 'uint32'}");
  if (o.dtype !== undefined && o.dtype !== 'uint32') throw typeError('random.bits', 'dtype', "an unsigned dtype ('uint32')", o.dtype);
  return randomBits(k, s);
}

export interface UniformOptions {
  minval?: number | NDArray;
  maxval?: number | NDArray;
  dtype?: DType;
}

/** Uniform float32 in [minval, maxval) from 23 random mantissa bits, exactly as `jax.random.uniform`. */
function uniformFloats(k: Value, shape: number[], minval: Value, maxval: Value): Value {
  // Random mantissa bits under the exponent of 1.0 give a float in [1, 2).
  const mantissa = lax.shiftRightLogical(randomBits(k, shape), u32(32 - 23));
  const floats = lax.sub(lax.bitcastConvertType(lax.or(mantissa, u32(0x3f800000)), 'float32'), fromScalar(1, 'float32'));
  // Bounds broadcast to the full shape (even rank-0 ones), so that the whole draw fuses into one kernel.
  const [lo, hi] = [minval, maxval].map((b) => lax.broadcastInDim(b, shape, b.shape.map((_, i) => shape.length - b.ndim + i)));
  return lax.max(lo, lax.add(lax.mul(floats, lax.sub(hi, lo)), lo));
}

/** `random.uniform(key, shape = [], {minval = 0, maxval = 1, dtype = 'float32'})`: values in [minval, maxval). */
export function uniform(key: unknown, shape: number | number[] = [], options: UniformOptions = {}): NDArray {
  const fn = 'random.uniform';
  const k = checkKey(fn, key);
  const o = checkOptions<UniformOptions>(fn, options, '{minval, maxval, dtype}');
  checkFloatDType(fn, o.dtype);
  const lo = floatParam(fn, 'minval', o.minval ?? 0);
  const hi = floatParam(fn, 'maxval', o.maxval ?? 1);
  const s = checkSampleShape(fn, shape, lo.shape, hi.shape);
  return uniformFloats(k, s, lo, hi);
}

const SQRT2 = Math.fround(Math.SQRT2);
/** nextafter(-1, 0) in float32: normal's uniform draws stay inside (-1, 1), where erf_inv is finite. */
const NEXT_ABOVE_MINUS_ONE = -1 + 2 ** -24;

/** `random.normal(key, shape = [], {dtype = 'float32'})`: standard normal, as JAX: sqrt(2) erf_inv(u). */
export function normal(key: unknown, shape: number | number[] = [], options: { dtype?: DType } = {}): NDArray {
  const fn = 'random.normal';
  const k = checkKey(fn, key);
  const o = checkOptions<{ dtype: DType }>(fn, options, "{dtype: 'float32'}");
  checkFloatDType(fn, o.dtype);
  const s = checkShape(fn, 'shape', shape);
  const u = uniformFloats(k, s, fromScalar(NEXT_ABOVE_MINUS_ONE, 'float32'), fromScalar(1, 'float32'));
  return lax.mul(fromScalar(SQRT2, 'float32'), lax.erfInv(u));
}

/** The next float32 after x toward +inf (`up`) or -inf; NaN stays NaN. */
function nextAfter(x: Value, up: boolean): Value {
  const b = lax.bitcastConvertType(x, 'int32');
  const zero = fromScalar(0, 'float32');
  // Away from zero the bits step by one (sign-magnitude); from ±0 the step is to ±denorm_min.
  const away = up ? lax.gt(x, zero) : lax.lt(x, zero);
  const stepped = lax.bitcastConvertType(lax.add(b, fromScalar(1, 'int32')), 'float32');
  const back = lax.bitcastConvertType(lax.sub(b, fromScalar(1, 'int32')), 'float32');
  const tiny = fromScalar(up ? 2 ** -149 : -(2 ** -149), 'float32');
  const r = lax.select(lax.eq(x, zero), lax.broadcastInDim(tiny, [...x.shape], []), lax.select(away, stepped, back));
  return lax.select(lax.ne(x, x), x, r);
}

/**
 * `random.truncatedNormal(key, lower, upper, shape?, {dtype})`: standard normal restricted to
 * (lower, upper), as JAX (inverse CDF on a uniform between erf(lower/√2) and erf(upper/√2)).
 * `shape` defaults to the broadcast shape of lower and upper.
 */
export function truncatedNormal(key: unknown, lower: unknown, upper: unknown, shape?: number | number[], options: { dtype?: DType } = {}): NDArray {
  const fn = 'random.truncatedNormal';
  const k = checkKey(fn, key);
  const o = checkOptions<{ dtype: DType }>(fn, options, "{dtype: 'float32'}");
  checkFloatDType(fn, o.dtype);
  const lo = floatParam(fn, 'lower', lower);
  const hi = floatParam(fn, 'upper', upper);
  const s = shape === undefined ? broadcastShapes(fn, lo.shape, hi.shape) : checkSampleShape(fn, shape, lo.shape, hi.shape);
  const sqrt2 = fromScalar(SQRT2, 'float32');
  const a = lax.erf(lax.div(lo, sqrt2));
  const b = lax.erf(lax.div(hi, sqrt2));
  const out = lax.mul(sqrt2, lax.erfInv(uniformFloats(k, s, a, b)));
  // Clamp into the open interval: rounding (or u == a) must not reach the bounds.
  const [o2, l2, h2] = broadcastAll(fn, [out, nextAfter(lax.stopGradient(lo), true), nextAfter(lax.stopGradient(hi), false)]);
  return lax.min(lax.max(o2, l2), h2);
}

// ---------------------------------------------------------------------------------------------
// Discrete distributions.

/** `random.bernoulli(key, p = 0.5, shape?)`: bool samples, true with probability p. */
export function bernoulli(key: unknown, p: number | NDArray = 0.5, shape?: number | number[]): NDArray {
  const fn = 'random.bernoulli';
  const k = checkKey(fn, key);
  const pa = floatParam(fn, 'p', p);
  const values = concreteValues(pa);
  if (values !== null) {
    for (const v of globalThis.Array.from(values)) {
      if (!(v >= 0 && v <= 1)) throw rangeError(fn, 'p', `must be a probability in [0, 1], received ${v}`);
    }
  }
  const s = shape === undefined ? [...pa.shape] : checkSampleShape(fn, shape, pa.shape);
  const [u, pb] = broadcastAll(fn, [uniformFloats(k, s, fromScalar(0, 'float32'), fromScalar(1, 'float32')), pa]);
  return lax.lt(u, pb);
}

/** Smallest normal float32 (`jnp.finfo(float32).tiny`): the lower bound of Gumbel's uniforms. */
const FLOAT32_TINY = 2 ** -126;

/**
 * `random.categorical(key, logits, {axis = -1, shape?})`: int32 category indices drawn with
 * probabilities softmax(logits) along `axis` (Gumbel-max, as JAX). `shape` defaults to the batch
 * shape (logits' shape without `axis`), which must broadcast to it.
 */
export function categorical(key: unknown, logits: unknown, options: { axis?: number; shape?: number[] } = {}): NDArray {
  const fn = 'random.categorical';
  const k = checkKey(fn, key);
  const o = checkOptions<{ axis: number; shape: number[] }>(fn, options, '{axis, shape}');
  const l = floatParam(fn, 'logits', logits);
  if (l.ndim === 0) throw typeError(fn, 'logits', 'an array of rank >= 1 (categories along `axis`)', logits);
  const axis = normalizeAxis(fn, o.axis ?? -1, l.ndim);
  const batch = l.shape.filter((_, i) => i !== axis);
  const s = o.shape === undefined ? batch : checkSampleShape(fn, o.shape, batch);
  const prefix = s.slice(0, s.length - batch.length);
  const sampleShape = [...s];
  sampleShape.splice(prefix.length + axis, 0, l.shape[axis]);
  const u = uniformFloats(k, sampleShape, fromScalar(FLOAT32_TINY, 'float32'), fromScalar(1, 'float32'));
  const gumbel = lax.neg(lax.log(lax.neg(lax.log(u))));
  const lb = lax.broadcastInDim(l, sampleShape, l.shape.map((_, i) => prefix.length + i));
  return lax.argmax(lax.add(gumbel, lb), prefix.length + axis);
}

/**
 * Rows of `payload` sorted by `keys` (uint32[n]), stably: JAX's `sort_key_val`. A bitonic sorting
 * network on (key, position) pairs, padded to a power of two with pairs that sort last; each
 * compare-exchange stage is a reshape into [blocks, 2, j] halves and a select, so the sort is made
 * of existing primitives, O(n log^2 n) work. Compiled once per shape (inlined under other traces).
 */
const sortRowsByKeys = jit((keys: NDArray, payload: NDArray): NDArray => {
  const n = keys.shape[0];
  if (n <= 1) return payload;
  let size = 1;
  while (size < n) size *= 2;
  const rest = payload.shape.slice(1);
  const zeros = rest.map(() => 0);
  let k: Value = size > n ? lax.concatenate([keys, lax.broadcastInDim(u32(0xffffffff), [size - n], [])], 0) : keys;
  let pos: Value = iota([size]);
  let v: Value = size > n ? lax.pad(payload, [0, ...zeros], [size - n, ...zeros]) : payload;
  for (let run = 2; run <= size; run *= 2) {
    for (let j = run / 2; j >= 1; j /= 2) {
      const blocks = size / (2 * j);
      // Element i pairs with i ^ j; in block t (of 2j elements) the pairs sort descending when
      // the run of `run` elements containing it has the bit `run` set.
      const halves = (x: Value): [Value, Value] => {
        const tail = x.shape.slice(1);
        const r = lax.reshape(x, [blocks, 2, j, ...tail]);
        const half = (h: number) => lax.reshape(lax.slice(r, [0, h, 0, ...tail.map(() => 0)], [blocks, h + 1, j, ...tail]), [blocks, j, ...tail]);
        return [half(0), half(1)];
      };
      const join = (a: Value, b: Value): Value => {
        const tail = a.shape.slice(2);
        const piece = (x: Value) => lax.reshape(x, [blocks, 1, j, ...tail]);
        return lax.reshape(lax.concatenate([piece(a), piece(b)], 1), [size, ...tail]);
      };
      const [ka, kb] = halves(k);
      const [pa, pb] = halves(pos);
      const [va, vb] = halves(v);
      const descending = new Uint8Array(blocks).map((_, t) => ((t * 2 * j) & run ? 1 : 0));
      const desc = lax.broadcastInDim(fromBuffer([blocks], 'bool', descending), [blocks, j], [0]);
      const aAfterB = lax.or(lax.gt(ka, kb), lax.and(lax.eq(ka, kb), lax.gt(pa, pb)));
      const swap = lax.xor(aAfterB, desc);
      const exchange = (a: Value, b: Value, mask: Value): Value => join(lax.select(mask, b, a), lax.select(mask, a, b));
      k = exchange(ka, kb, swap);
      pos = exchange(pa, pb, swap);
      v = exchange(va, vb, lax.broadcastInDim(swap, [blocks, j, ...rest], [0, 1]));
    }
  }
  return size > n ? lax.slice(v, [0, ...zeros], [n, ...rest]) : v;
});

/** JAX's `_shuffle`: rounds of sorting by fresh random keys (enough rounds that ties are unlikely). */
function shuffle(k: Value, x: Value): Value {
  const n = x.shape[0];
  const rounds = Math.ceil((3 * Math.log(Math.max(1, n))) / Math.log(4294967295));
  let key = k;
  let r = x;
  for (let i = 0; i < rounds; i++) {
    const keys = split(key);
    key = lax.reshape(lax.slice(keys, [0, 0], [1, 2]), [2]);
    const subkey = lax.reshape(lax.slice(keys, [1, 0], [2, 2]), [2]);
    r = sortRowsByKeys(randomBits(subkey, [n]), r) as Value;
  }
  return r;
}

/**
 * `random.permutation(key, x, {axis = 0})`: for an integer n, a random permutation of 0..n-1 (int32);
 * for an array, the array with its slices along `axis` permuted (as JAX's, bit for bit).
 */
export function permutation(key: unknown, x: unknown, options: { axis?: number } = {}): NDArray {
  const fn = 'random.permutation';
  const k = checkKey(fn, key);
  const o = checkOptions<{ axis: number }>(fn, options, '{axis}');
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 0 || x > 2147483647) throw typeError(fn, 'x', 'a non-negative integer or an array of rank >= 1', x);
    return shuffle(k, lax.convert(iota([x]), 'int32'));
  }
  const a = asArray(fn, 'x', x);
  if (a.ndim === 0) throw typeError(fn, 'x', 'a non-negative integer or an array of rank >= 1', x);
  const axis = normalizeAxis(fn, o.axis ?? 0, a.ndim);
  const front = lax.moveAxis(a, axis, 0);
  // Sorting whole slices permutes them exactly as JAX's take(x, shuffle(arange(n))) does.
  return lax.moveAxis(shuffle(k, front), 0, axis);
}

/**
 * `random.randint(key, shape, minval, maxval, {dtype = 'int32'})`: integers in [minval, maxval),
 * as JAX (two words of random bits reduced modulo the span; maxval <= minval gives minval).
 */
export function randint(key: unknown, shape: number | number[], minval: number | NDArray, maxval: number | NDArray, options: { dtype?: DType } = {}): NDArray {
  const fn = 'random.randint';
  const k = checkKey(fn, key);
  const o = checkOptions<{ dtype: DType }>(fn, options, "{dtype: 'int32'}");
  const dtype = checkDType(fn, o.dtype ?? 'int32');
  if (dtype !== 'int32' && dtype !== 'uint32') throw typeError(fn, 'dtype', "an integer dtype ('int32' or 'uint32')", o.dtype);
  const lo = randintBound(fn, 'minval', minval, dtype);
  const hi = randintBound(fn, 'maxval', maxval, dtype);
  const s = checkSampleShape(fn, shape, lo.value.shape, hi.value.shape);
  const keys = split(k);
  const word = (i: number) => randomBits(lax.reshape(lax.slice(keys, [i, 0], [i + 1, 2]), [2]), s);
  const [higher, lower, l, h, above] = broadcastAll(fn, [word(0), word(1), lo.value, hi.value, hi.above]);
  const one = u32(1);
  // The span is 1 where maxval <= minval (so minval is returned), one larger where maxval was
  // clipped; 2^32 wraps to 0, and x % 0 = x (XLA), which is then the right answer.
  let span = lax.convert(lax.sub(h, l), 'uint32');
  span = lax.select(lax.le(h, l), lax.broadcastInDim(one, [...span.shape], []), span);
  span = lax.select(lax.and(above, lax.gt(h, l)), lax.add(span, one), span);
  const rem = (a: Value, b: Value) => lax.sub(a, lax.mul(lax.div(a, b), b));
  // (higher 2^32 + lower) mod span, with 2^32 mod span = (2^16 mod span)^2 mod span.
  let multiplier = rem(u32(65536), span);
  multiplier = rem(lax.mul(multiplier, multiplier), span);
  const offset = rem(lax.add(lax.mul(rem(higher, span), multiplier), rem(lower, span)), span);
  return lax.add(l, lax.convert(offset, dtype));
}

const INT_RANGE: Record<'int32' | 'uint32', [number, number]> = { int32: [-2147483648, 2147483647], uint32: [0, 4294967295] };

/** A randint bound converted to `dtype` (clipped into its range), and whether it was above the range. */
function randintBound(fn: string, arg: string, v: unknown, dtype: 'int32' | 'uint32'): { value: Value; above: Value } {
  const [min, max] = INT_RANGE[dtype];
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw typeError(fn, arg, 'an integer or an int32/uint32 array', v);
    return { value: fromScalar(Math.min(Math.max(v, min), max), dtype), above: fromScalar(v > max ? 1 : 0, 'bool') };
  }
  if (!(v instanceof NDArray) || (v.dtype !== 'int32' && v.dtype !== 'uint32')) throw typeError(fn, arg, 'an integer or an int32/uint32 array', v);
  if (v.dtype === dtype) return { value: v, above: lax.broadcastInDim(fromScalar(0, 'bool'), [...v.shape], []) };
  // int32 -> uint32 clips negatives to 0; uint32 -> int32 clips above INT_MAX.
  const limit = fromScalar(dtype === 'uint32' ? 0 : max, v.dtype);
  const value = lax.convert(dtype === 'uint32' ? lax.max(v, limit) : lax.min(v, limit), dtype);
  const above = dtype === 'int32' ? lax.gt(v, limit) : lax.broadcastInDim(fromScalar(0, 'bool'), [...v.shape], []);
  return { value, above };
}
