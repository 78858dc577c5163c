/**
 * @file nn.initializers, as jax.nn.initializers: each is `(key, shape, dtype?) => Array`, drawn with
 * `random`. The variance-scaling family computes fan-in and fan-out from the shape as JAX does.
 */

import { NDArray } from './core/array';
import { DType } from './core/dtype';
import { rangeError, typeError } from './core/errors';
import { checkOptions, numberOption } from './core/options';
import { checkShape, normalizeAxis } from './core/shape';
import * as np from './numpy';
import { checkDType } from './numpy/util';
import * as random from './random';

/** Draws an array of `shape` from a PRNG key; `dtype` overrides the initializer's default. */
export type Initializer = (key: NDArray, shape: number[], dtype?: DType) => NDArray;

export type FanMode = 'fanIn' | 'fanOut' | 'fanAvg';
export type Distribution = 'truncatedNormal' | 'normal' | 'uniform';

export interface FanOptions {
  /** The input axis or axes (default -2). */
  inAxis?: number | number[];
  /** The output axis or axes (default -1). */
  outAxis?: number | number[];
  /** Axes of independent weights, counted in neither fan (default none). */
  batchAxis?: number[];
  dtype?: DType;
}

/** The standard deviation of a standard normal truncated to (-2, 2). */
const TRUNCATED_STDDEV = 0.8796256610342398;

const floatDType = (fn: string, dtype: unknown, fallback: DType): DType => {
  const d = dtype === undefined ? fallback : checkDType(fn, dtype);
  if (d !== 'float32') throw typeError(fn, 'dtype', "a floating-point dtype ('float32')", d);
  return d;
};

/**
 * JAX's fans: the product of the in (out) axes' sizes, times the receptive field (the product of the
 * remaining non-batch axes), so a [kh, kw, cin, cout] kernel has fanIn = kh·kw·cin.
 */
export function computeFans(fn: string, shape: number[], o: FanOptions): [number, number] {
  if (shape.length < 2) throw rangeError(fn, 'shape', `is [${shape.join(', ')}]: fan-in and fan-out need a weights shape of rank at least 2`);
  const size = (arg: string, axes: number | number[]) => (typeof axes === 'number' ? [axes] : axes).reduce((p, a) => p * shape[normalizeAxis(fn, a, shape.length, arg)], 1);
  const inSize = size('inAxis', o.inAxis ?? -2);
  const outSize = size('outAxis', o.outAxis ?? -1);
  const batchSize = size('batchAxis', o.batchAxis ?? []);
  const receptive = shape.reduce((p, d) => p * d, 1) / inSize / outSize / batchSize;
  return [inSize * receptive, outSize * receptive];
}

/** Weights with variance scale / fan (fan-in, fan-out or their mean), from the given distribution. */
export function varianceScaling(scale: number, mode: FanMode, distribution: Distribution, options?: FanOptions): Initializer {
  return scaled('nn.initializers.varianceScaling', scale, mode, distribution, options);
}

function scaled(fn: string, scale: number, mode: FanMode, distribution: Distribution, options?: FanOptions): Initializer {
  numberOption(fn, 'scale', scale, undefined, 'a positive number', (v) => v > 0);
  if (!['fanIn', 'fanOut', 'fanAvg'].includes(mode)) throw typeError(fn, 'mode', "one of 'fanIn', 'fanOut', 'fanAvg'", mode);
  if (!['truncatedNormal', 'normal', 'uniform'].includes(distribution)) throw typeError(fn, 'distribution', "one of 'truncatedNormal', 'normal', 'uniform'", distribution);
  const o = checkOptions(fn, options, '{inAxis, outAxis, batchAxis, dtype}');
  const defaultDType = floatDType(fn, o.dtype, 'float32');
  return (key, shape, dtype) => {
    const s = checkShape(fn, 'shape', shape);
    const d = floatDType(fn, dtype, defaultDType);
    const [fanIn, fanOut] = computeFans(fn, s, o);
    const denominator = mode === 'fanIn' ? fanIn : mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
    const variance = scale / denominator;
    if (distribution === 'truncatedNormal') return np.multiply(random.truncatedNormal(key, -2, 2, s, { dtype: d }), Math.sqrt(variance) / TRUNCATED_STDDEV);
    if (distribution === 'normal') return np.multiply(random.normal(key, s, { dtype: d }), Math.sqrt(variance));
    return np.multiply(random.uniform(key, s, { minval: -1, maxval: 1, dtype: d }), Math.sqrt(3 * variance));
  };
}

/** Uniform on ±sqrt(6 / (fanIn + fanOut)) (Glorot & Bengio; Xavier). */
export const glorotUniform = (options?: FanOptions): Initializer => scaled('nn.initializers.glorotUniform', 1, 'fanAvg', 'uniform', options);
/** Truncated normal with variance 2 / (fanIn + fanOut). */
export const glorotNormal = (options?: FanOptions): Initializer => scaled('nn.initializers.glorotNormal', 1, 'fanAvg', 'truncatedNormal', options);
/** Truncated normal with variance 1 / fanIn (LeCun). */
export const lecunNormal = (options?: FanOptions): Initializer => scaled('nn.initializers.lecunNormal', 1, 'fanIn', 'truncatedNormal', options);
/** Uniform with variance 1 / fanIn. */
export const lecunUniform = (options?: FanOptions): Initializer => scaled('nn.initializers.lecunUniform', 1, 'fanIn', 'uniform', options);
/** Truncated normal with variance 2 / fanIn (He et al., for ReLU networks). */
export const heNormal = (options?: FanOptions): Initializer => scaled('nn.initializers.heNormal', 2, 'fanIn', 'truncatedNormal', options);
/** Uniform with variance 2 / fanIn. */
export const heUniform = (options?: FanOptions): Initializer => scaled('nn.initializers.heUniform', 2, 'fanIn', 'uniform', options);

/** N(0, stddev²) (default stddev 0.01). */
export function normal(stddev = 1e-2, options: { dtype?: DType } = {}): Initializer {
  const fn = 'nn.initializers.normal';
  const sd = numberOption(fn, 'stddev', stddev, undefined, 'a non-negative number', (v) => v >= 0);
  const defaultDType = floatDType(fn, checkOptions(fn, options, '{dtype}').dtype, 'float32');
  return (key, shape, dtype) => np.multiply(random.normal(key, checkShape(fn, 'shape', shape), { dtype: floatDType(fn, dtype, defaultDType) }), sd);
}

/** U[0, scale) (default scale 0.01), as jax.nn.initializers.uniform. */
export function uniform(scale = 1e-2, options: { dtype?: DType } = {}): Initializer {
  const fn = 'nn.initializers.uniform';
  const sc = numberOption(fn, 'scale', scale, undefined);
  const defaultDType = floatDType(fn, checkOptions(fn, options, '{dtype}').dtype, 'float32');
  return (key, shape, dtype) => random.uniform(key, checkShape(fn, 'shape', shape), { minval: 0, maxval: sc, dtype: floatDType(fn, dtype, defaultDType) });
}

/** Every element `value`. */
export function constant(value: number, options: { dtype?: DType } = {}): Initializer {
  const fn = 'nn.initializers.constant';
  const v = numberOption(fn, 'value', value, undefined);
  const o = checkOptions(fn, options, '{dtype}');
  const defaultDType = o.dtype === undefined ? 'float32' : checkDType(fn, o.dtype);
  return (_key, shape, dtype) => np.full(checkShape(fn, 'shape', shape), v, { dtype: dtype === undefined ? defaultDType : checkDType(fn, dtype) });
}

/** An initializer itself (as jax.nn.initializers.zeros): zeros of `shape`, float32 by default. */
export const zeros: Initializer = (_key, shape, dtype = 'float32') => np.zeros(checkShape('nn.initializers.zeros', 'shape', shape), { dtype: checkDType('nn.initializers.zeros', dtype) });
/** An initializer itself (as jax.nn.initializers.ones). */
export const ones: Initializer = (_key, shape, dtype = 'float32') => np.ones(checkShape('nn.initializers.ones', 'shape', shape), { dtype: checkDType('nn.initializers.ones', dtype) });
