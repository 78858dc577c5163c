/**
 * @file Convolution and pooling (JAX's lax.conv_general_dilated semantics) as im2col + one GEMM:
 * the padded (and lhs-dilated) input is read through one strided slice per window position, the
 * slices are concatenated along the channel axis, and a single dot_general contracts them with the
 * reshaped kernel. Every step is an existing primitive, so gradients, vmap and jit come from their
 * rules: the transpose of a strided slice is an interior pad (the input gradient of a strided conv),
 * and the weight gradient is again one GEMM. Pooling reads the same window slices and folds them
 * with an elementwise max or sum, which fuses into one kernel.
 */

import { NDArray } from './core/array';
import { typeError, rangeError } from './core/errors';
import { Value } from './core/trace';
import * as lax from './lax';
import { asArray } from './numpy/util';

/** 'SAME' (output size ceil(in / stride), extra padding at the end), 'SAME_LOWER', 'VALID', or [lo, hi] per spatial dim. */
export type Padding = 'SAME' | 'SAME_LOWER' | 'VALID' | [number, number][];

export interface ConvOptions {
  /** Dilation of the input (a transposed convolution), per spatial dim; default 1. */
  lhsDilation?: number[];
  /** Dilation of the kernel (atrous convolution), per spatial dim; default 1. */
  rhsDilation?: number[];
  /** Layouts of input, kernel and output, e.g. ['NHWC', 'HWIO', 'NHWC']; default ['NCHW', 'OIHW', 'NCHW'] (any spatial letters). */
  dimensionNumbers?: [string, string, string];
  /** Input channels split into this many groups, each with its own slice of the output features. */
  featureGroupCount?: number;
}

const range = (n: number): number[] => [...Array(n).keys()];

function positiveInts(fn: string, arg: string, xs: unknown, n: number, fallback: number): number[] {
  if (xs === undefined) return range(n).map(() => fallback);
  if (!Array.isArray(xs) || xs.length !== n || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    throw typeError(fn, arg, `an array of ${n} positive integers (one per spatial dim)`, xs);
  }
  return xs as number[];
}

/**
 * Permutations that bring operands into metalgrad's internal layouts (input [N, *spatial, C], kernel
 * [*spatial, I, O]) and the output back out of [N, *spatial, O]. Spatial dims are ordered as in the
 * kernel spec, and matched by letter in the others (as JAX does).
 */
function layouts(fn: string, specs: [string, string, string], rank: number) {
  const [lhs, rhs, out] = specs;
  const check = (spec: unknown, arg: string, a: string, b: string): void => {
    const ok = typeof spec === 'string' && spec.length === rank && new Set(spec).size === rank && spec.includes(a) && spec.includes(b);
    if (!ok) throw typeError(fn, `dimensionNumbers.${arg}`, `a string of ${rank} distinct letters with '${a}' and '${b}' (e.g. ${rank === 4 ? (arg === 'rhs' ? "'HWIO'" : "'NHWC'") : `one letter per dim`})`, spec);
  };
  check(lhs, 'lhs', 'N', 'C');
  check(rhs, 'rhs', 'O', 'I');
  check(out, 'out', 'N', 'C');
  const spatial = [...rhs].filter((c) => c !== 'O' && c !== 'I');
  for (const [spec, name] of [[lhs, 'lhs'], [out, 'out']] as const) {
    const letters = [...spec].filter((c) => c !== 'N' && c !== 'C');
    if (letters.some((c) => !spatial.includes(c))) {
      throw rangeError(fn, `dimensionNumbers.${name}`, `has spatial dims '${letters.join('')}' but the kernel spec '${rhs}' has '${spatial.join('')}'`);
    }
  }
  const lhsPerm = [lhs.indexOf('N'), ...spatial.map((c) => lhs.indexOf(c)), lhs.indexOf('C')];
  const rhsPerm = [...spatial.map((c) => rhs.indexOf(c)), rhs.indexOf('I'), rhs.indexOf('O')];
  // Internal output axis of each output-spec axis.
  const internal = ['N', ...spatial, 'C'];
  const outPerm = [...out].map((c) => internal.indexOf(c));
  return { lhsPerm, rhsPerm, outPerm };
}

/** [lo, hi] padding per spatial dim of an input of `sizes` for windows `window` (dilated) and `strides`. */
function resolvePadding(fn: string, padding: unknown, sizes: number[], window: number[], strides: number[]): [number, number][] {
  if (padding === 'VALID') return sizes.map(() => [0, 0]);
  if (padding === 'SAME' || padding === 'SAME_LOWER') {
    return sizes.map((n, d) => {
      const out = Math.ceil(n / strides[d]);
      const total = Math.max((out - 1) * strides[d] + window[d] - n, 0);
      const small = Math.floor(total / 2);
      return padding === 'SAME' ? [small, total - small] : [total - small, small];
    });
  }
  const ok = Array.isArray(padding) && padding.length === sizes.length && padding.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v)));
  if (!ok) throw typeError(fn, 'padding', `'SAME', 'SAME_LOWER', 'VALID' or ${sizes.length} [lo, hi] integer pairs`, padding);
  return padding as [number, number][];
}

/** Pads (negative amounts crop) the spatial dims of x: [N, *spatial, C]. */
function padSpatial(x: Value, pads: [number, number][], value: number): Value {
  const nd = pads.length;
  const grow = pads.map(([lo, hi]) => [Math.max(lo, 0), Math.max(hi, 0)]);
  let y = grow.some(([lo, hi]) => lo > 0 || hi > 0) ? lax.pad(x, [0, ...grow.map((p) => p[0]), 0], [0, ...grow.map((p) => p[1]), 0], value) : x;
  if (pads.some(([lo, hi]) => lo < 0 || hi < 0)) {
    const shape = y.aval.shape;
    const start = [0, ...pads.map(([lo]) => Math.max(-lo, 0)), 0];
    const limit = [shape[0], ...pads.map(([, hi], d) => shape[d + 1] - Math.max(-hi, 0)), shape[nd + 1]];
    y = lax.slice(y, start, limit.map((l, i) => Math.max(l, start[i])));
  }
  return y;
}

/**
 * The strided slices of x: [N, *spatial, C] that a window of `window` positions (dilation
 * `dilation`) moving by `strides` reads, one per window position in row-major order, each
 * [N, *out, C]; `out` is the output's spatial size.
 */
function windowSlices(x: Value, window: number[], dilation: number[], strides: number[]): { slices: Value[]; out: number[] } {
  const shape = x.aval.shape;
  const nd = window.length;
  const sizes = shape.slice(1, nd + 1);
  const out = sizes.map((n, d) => Math.max(Math.floor((n - ((window[d] - 1) * dilation[d] + 1)) / strides[d]) + 1, 0));
  const slices: Value[] = [];
  const count = window.reduce((a, b) => a * b, 1);
  for (let w = 0; w < count; w++) {
    let rest = w;
    const pos = new Array<number>(nd);
    for (let d = nd - 1; d >= 0; d--) {
      pos[d] = rest % window[d];
      rest = Math.floor(rest / window[d]);
    }
    const start = [0, ...pos.map((p, d) => p * dilation[d]), 0];
    const limit = [shape[0], ...out.map((o, d) => (o === 0 ? start[d + 1] : start[d + 1] + (o - 1) * strides[d] + 1)), shape[nd + 1]];
    slices.push(lax.slice(x, start, limit, [1, ...strides, 1]));
  }
  return { slices, out };
}

/** JAX's default layouts: ['NCHW', 'OIHW', 'NCHW'] for 2 spatial dims ('NCH'/'NCDHW'... for others). */
function defaultSpecs(nd: number): [string, string, string] {
  const letters = nd <= 3 ? 'DHW'.slice(3 - nd) : 'ABDEFGHJKLMPQRSTUVWXYZ'.slice(0, nd);
  return [`NC${letters}`, `OI${letters}`, `NC${letters}`];
}

/** General dilated convolution, as jax.lax.conv_general_dilated (float32). */
export function convGeneralDilated(lhs: unknown, rhs: unknown, windowStrides: number[], padding: Padding, options: ConvOptions = {}): NDArray {
  const fn = 'convGeneralDilated';
  const x0 = asArray(fn, 'lhs', lhs);
  const w0 = asArray(fn, 'rhs', rhs);
  if (x0.dtype !== 'float32' || w0.dtype !== 'float32') throw typeError(fn, 'lhs/rhs', 'float32 arrays', `${x0.dtype} and ${w0.dtype}`);
  const rank = x0.ndim;
  if (rank < 3) throw rangeError(fn, 'lhs', `must have a batch, a feature and at least one spatial dim, but has shape [${x0.aval.shape.join(', ')}]`);
  if (w0.ndim !== rank) throw rangeError(fn, 'rhs', `must have rank ${rank} like lhs, but has shape [${w0.aval.shape.join(', ')}]`);
  const nd = rank - 2;
  const specs = options.dimensionNumbers ?? defaultSpecs(nd);
  const { lhsPerm, rhsPerm, outPerm } = layouts(fn, specs, rank);
  const strides = positiveInts(fn, 'windowStrides', windowStrides, nd, 1);
  const lhsDil = positiveInts(fn, 'lhsDilation', options.lhsDilation, nd, 1);
  const rhsDil = positiveInts(fn, 'rhsDilation', options.rhsDilation, nd, 1);
  const groups = options.featureGroupCount ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw typeError(fn, 'featureGroupCount', 'a positive integer', groups);

  let x = lax.transpose(x0, lhsPerm);
  const w = lax.transpose(w0, rhsPerm);
  const channels = x.aval.shape[nd + 1];
  const window = w.aval.shape.slice(0, nd);
  const [inPerGroup, features] = w.aval.shape.slice(nd);
  if (channels !== inPerGroup * groups) {
    throw rangeError(fn, 'rhs', `has ${inPerGroup} input features per group, but lhs has ${channels} features in ${groups} group(s) (expected ${channels / groups})`);
  }
  if (features % groups !== 0) throw rangeError(fn, 'rhs', `has ${features} output features, not divisible by featureGroupCount ${groups}`);

  if (lhsDil.some((d) => d > 1)) x = lax.pad(x, range(rank).map(() => 0), range(rank).map(() => 0), 0, [0, ...lhsDil.map((d) => d - 1), 0]);
  const dilatedWindow = window.map((k, d) => (k - 1) * rhsDil[d] + 1);
  x = padSpatial(x, resolvePadding(fn, padding, x.aval.shape.slice(1, nd + 1), dilatedWindow, strides), 0);
  const { slices, out } = windowSlices(x, window, rhsDil, strides);
  const n = x.aval.shape[0];
  const count = slices.length;
  // patches: [N, *out, K * C], window position major, channel minor, as the kernel reshapes.
  const patches = lax.concatenate(slices, nd + 1);
  let y: Value;
  if (groups === 1) {
    y = lax.dotGeneral(patches, lax.reshape(w, [count * channels, features]), { lhsContract: [nd + 1], rhsContract: [0], lhsBatch: [], rhsBatch: [] });
  } else {
    const per = features / groups;
    const p = lax.reshape(patches, [n, ...out, count, groups, inPerGroup]);
    const k = lax.reshape(w, [count, inPerGroup, groups, per]);
    const g = lax.dotGeneral(p, k, { lhsContract: [nd + 1, nd + 3], rhsContract: [0, 1], lhsBatch: [nd + 2], rhsBatch: [2] });
    // g: [G, N, *out, per] -> [N, *out, G, per] -> [N, *out, features]
    y = lax.reshape(lax.transpose(g, [...range(nd + 1).map((i) => i + 1), 0, nd + 2]), [n, ...out, features]);
  }
  return lax.transpose(y, outPerm) as NDArray;
}

/** jax.lax.conv: NCHW input, OIHW kernel, no dilation. */
export function conv(lhs: unknown, rhs: unknown, windowStrides: number[], padding: Padding): NDArray {
  return convGeneralDilated(lhs, rhs, windowStrides, padding);
}

export interface Conv2dOptions {
  strides?: [number, number];
  padding?: Padding;
  dilation?: [number, number];
  groups?: number;
  /** 'NHWC' (kernel HWIO, the default) or 'NCHW' (kernel OIHW). */
  dataFormat?: 'NHWC' | 'NCHW';
}

/** 2-D convolution: x [N, H, W, C] with kernel [KH, KW, C / groups, O] (or NCHW with OIHW). */
export function conv2d(x: unknown, kernel: unknown, options: Conv2dOptions = {}): NDArray {
  const format = options.dataFormat ?? 'NHWC';
  if (format !== 'NHWC' && format !== 'NCHW') throw typeError('conv2d', 'dataFormat', "'NHWC' or 'NCHW'", format);
  const specs: [string, string, string] = format === 'NHWC' ? ['NHWC', 'HWIO', 'NHWC'] : ['NCHW', 'OIHW', 'NCHW'];
  return convGeneralDilated(x, kernel, options.strides ?? [1, 1], options.padding ?? 'VALID', {
    rhsDilation: options.dilation,
    dimensionNumbers: specs,
    featureGroupCount: options.groups,
  });
}

export interface PoolOptions {
  /** Steps of the window; default 1 in every spatial dim (as flax). */
  strides?: number[];
  padding?: Padding;
  /** Where the features are: last ('NHWC', the default) or second ('NCHW'). */
  dataFormat?: 'NHWC' | 'NCHW';
  /** avgPool: divide by the whole window (true, the default) or only by the elements inside the input. */
  countIncludePad?: boolean;
}

/** Window slices of a pooling input in channels-last layout, and the permutation back. */
function poolWindows(fn: string, x: unknown, windowShape: number[], options: PoolOptions, padValue: number) {
  const a = asArray(fn, 'x', x);
  if (a.dtype !== 'float32') throw typeError(fn, 'x', 'a float32 array', a.dtype);
  const nd = Array.isArray(windowShape) ? windowShape.length : 0;
  const window = positiveInts(fn, 'windowShape', windowShape, nd, 1);
  if (nd === 0 || a.ndim !== nd + 2) throw rangeError(fn, 'x', `must have rank ${nd + 2} (batch, ${nd} spatial, features) for a ${nd}-D window, but has shape [${a.aval.shape.join(', ')}]`);
  const format = options.dataFormat ?? 'NHWC';
  if (format !== 'NHWC' && format !== 'NCHW') throw typeError(fn, 'dataFormat', "'NHWC' or 'NCHW'", format);
  const toLast = format === 'NHWC' ? range(nd + 2) : [0, ...range(nd).map((d) => d + 2), 1];
  const back = format === 'NHWC' ? toLast : [0, nd + 1, ...range(nd).map((d) => d + 1)];
  const strides = positiveInts(fn, 'strides', options.strides, nd, 1);
  const xl = lax.transpose(a, toLast);
  const pads = resolvePadding(fn, options.padding ?? 'VALID', xl.aval.shape.slice(1, nd + 1), window, strides);
  const padded = padSpatial(xl, pads, padValue);
  const ones = range(nd).map(() => 1);
  return { ...windowSlices(padded, window, ones, strides), back, pads, xl, window, strides, ones };
}

/** Max over each window (flax.linen.max_pool); padding counts as -inf. */
export function maxPool(x: unknown, windowShape: number[], options: PoolOptions = {}): NDArray {
  const { slices, back } = poolWindows('maxPool', x, windowShape, options, -Infinity);
  return lax.transpose(slices.reduce((m, s) => lax.max(m, s)), back) as NDArray;
}

/** Mean over each window (flax.linen.avg_pool); padding counts as 0, and by default in the divisor. */
export function avgPool(x: unknown, windowShape: number[], options: PoolOptions = {}): NDArray {
  const { slices, back, pads, xl, window, strides, ones } = poolWindows('avgPool', x, windowShape, options, 0);
  const sum = slices.reduce((m, s) => lax.add(m, s));
  let divisor: Value;
  if (options.countIncludePad ?? true) {
    divisor = lax.scalarLike(window.reduce((a, b) => a * b, 1), sum);
  } else {
    // How many window elements fall inside the input: the same windows over a padded field of ones.
    const shape = xl.aval.shape;
    const field = lax.fullLike(lax.slice(xl, range(shape.length).map(() => 0), [1, ...shape.slice(1, -1), 1]), 1);
    const counts = windowSlices(padSpatial(field, pads, 0), window, ones, strides).slices.reduce((m, s) => lax.add(m, s));
    divisor = lax.broadcastInDim(counts, [...sum.aval.shape], range(sum.ndim));
  }
  return lax.transpose(lax.div(sum, divisor), back) as NDArray;
}
