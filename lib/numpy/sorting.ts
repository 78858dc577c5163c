/** @file numpy sorting and cumulative functions: sort, argsort, cumsum, cumprod, cummax, cummin. */

import { NDArray } from '../core/array';
import { typeError } from '../core/errors';
import { normalizeAxis } from '../core/shape';
import { Value } from '../core/trace';
import * as lax from '../lax';
import { asArray, checkDType } from './util';

export interface SortOptions {
  /** The axis to sort along (default -1); null sorts the flattened array. */
  axis?: number | null;
  /** Largest first (NaN first); equal elements keep their order either way. */
  descending?: boolean;
  /** Accepted for numpy compatibility: the sort is always stable. */
  stable?: boolean;
  kind?: string;
}

function checkOptions<T extends object>(fn: string, options: unknown): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw typeError(fn, 'options', 'an options object', options);
  return options as T;
}

function sortBoth(fn: string, a: unknown, options: SortOptions | undefined): [Value, Value, number] {
  const o = checkOptions<SortOptions>(fn, options);
  if (o.descending !== undefined && typeof o.descending !== 'boolean') throw typeError(fn, 'descending', 'a boolean', o.descending);
  let x = asArray(fn, 'a', a);
  if (o.axis === null || x.ndim === 0) x = lax.reshape(x, [x.size]);
  const axis = normalizeAxis(fn, o.axis ?? -1, x.ndim);
  const last = x.ndim - 1;
  const [v, i] = lax.sortWithIndices(lax.moveAxis(x, axis, last), o.descending ?? false);
  return [lax.moveAxis(v, last, axis), lax.moveAxis(i, last, axis), axis];
}

/** `np.sort(a, {axis, descending})`: stable; NaN sorts last (first when descending). */
export function sort(a: unknown, options?: SortOptions): NDArray {
  return sortBoth('sort', a, options)[0];
}

/** `np.argsort(a, {axis, descending})`: the int32 positions that sort `a` (stable). */
export function argsort(a: unknown, options?: SortOptions): NDArray {
  return sortBoth('argsort', a, options)[1];
}

export interface CumulativeOptions {
  /** Default: the flattened array. */
  axis?: number | null;
  dtype?: 'float32' | 'int32' | 'uint32';
  reverse?: boolean;
}

function cumulative(fn: 'cumsum' | 'cumprod' | 'cummax' | 'cummin') {
  return (a: unknown, options?: CumulativeOptions): NDArray => {
    const o = checkOptions<CumulativeOptions>(fn, options);
    let x = asArray(fn, 'a', a);
    if (o.dtype !== undefined) x = lax.convert(x, checkDType(fn, o.dtype));
    else if (x.dtype === 'bool' && (fn === 'cumsum' || fn === 'cumprod')) x = lax.convert(x, 'int32');
    if (o.axis === undefined || o.axis === null) x = lax.reshape(x, [x.size]);
    const axis = normalizeAxis(fn, o.axis ?? 0, x.ndim);
    if (o.reverse !== undefined && typeof o.reverse !== 'boolean') throw typeError(fn, 'reverse', 'a boolean', o.reverse);
    return lax.cumulative(fn, x, axis, o.reverse ?? false);
  };
}

/** Running sums along `axis` (bool counts as int32); its gradient is a reverse cumsum. */
export const cumsum = cumulative('cumsum');
export const cumprod = cumulative('cumprod');
export const cummax = cumulative('cummax');
export const cummin = cumulative('cummin');
