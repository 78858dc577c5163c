/** @file Array creation: array, zeros, ones, full, arange, linspace, eye, zerosLike, onesLike. */

import { NDArray } from '../core/array';
import { fromBuffer, fromScalar } from '../core/concrete';
import { allocate, castScalar, DType } from '../core/dtype';
import { typeError } from '../core/errors';
import { checkShape } from '../core/shape';
import * as lax from '../lax';
import { arrayFromData, ArrayOptions } from './data';
import { asArray, checkDType } from './util';

export interface DTypeOption {
  dtype?: DType;
}

/** `np.array(data, {dtype, shape})`; JS numbers give float32 unless a dtype is given. */
export function array(data: unknown, options: ArrayOptions = {}): NDArray {
  return arrayFromData('array', data, options);
}

export const asarray = array;

function filled(fn: string, shape: unknown, value: number, dtype: DType): NDArray {
  const s = checkShape(fn, 'shape', shape);
  // A broadcast of a scalar: under jit this stays one equation instead of a large constant.
  return lax.broadcastInDim(fromScalar(value, dtype), s, []);
}

const dtypeOf = (fn: string, options: DTypeOption | undefined, fallback: DType): DType => {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw typeError(fn, 'options', 'an options object such as {dtype}', options);
  return options?.dtype === undefined ? fallback : checkDType(fn, options.dtype);
};

export function zeros(shape: number | number[], options?: DTypeOption): NDArray {
  return filled('zeros', shape, 0, dtypeOf('zeros', options, 'float32'));
}
export function ones(shape: number | number[], options?: DTypeOption): NDArray {
  return filled('ones', shape, 1, dtypeOf('ones', options, 'float32'));
}
export function full(shape: number | number[], fillValue: number | boolean, options?: DTypeOption): NDArray {
  if (typeof fillValue !== 'number' && typeof fillValue !== 'boolean') throw typeError('full', 'fillValue', 'a number or a boolean', fillValue);
  const fallback = typeof fillValue === 'boolean' ? 'bool' : 'float32';
  return filled('full', shape, Number(fillValue), dtypeOf('full', options, fallback));
}
export function zerosLike(x: unknown, options?: DTypeOption): NDArray {
  const a = asArray('zerosLike', 'x', x);
  return filled('zerosLike', a.shape, 0, dtypeOf('zerosLike', options, a.dtype));
}
export function onesLike(x: unknown, options?: DTypeOption): NDArray {
  const a = asArray('onesLike', 'x', x);
  return filled('onesLike', a.shape, 1, dtypeOf('onesLike', options, a.dtype));
}

function checkNumber(fn: string, arg: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw typeError(fn, arg, 'a finite number', x);
  return x;
}

/**
 * `np.arange(stop)`, `np.arange(start, stop, step?)`; int32 when every bound is an integer (as JAX),
 * float32 otherwise. An options object may come last.
 */
export function arange(...args: (number | DTypeOption)[]): NDArray {
  const opts = typeof args[args.length - 1] === 'object' ? (args.pop() as DTypeOption) : undefined;
  const nums = args.map((a, i) => checkNumber('arange', ['start', 'stop', 'step'][args.length === 1 ? 1 : i], a));
  if (nums.length < 1 || nums.length > 3) throw new TypeError(`arange: expected 1 to 3 numbers (start, stop, step), received ${nums.length}`);
  const [start, stop, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0], nums[1], nums[2] ?? 1];
  if (step === 0) throw new RangeError('arange: argument `step` must not be 0');
  const dtype = dtypeOf('arange', opts, nums.every(Number.isInteger) ? 'int32' : 'float32');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const buf = allocate(dtype, n);
  for (let i = 0; i < n; i++) buf[i] = castScalar(start + i * step, dtype);
  return fromBuffer([n], dtype, buf);
}

export interface LinspaceOptions extends DTypeOption {
  endpoint?: boolean;
}

export function linspace(start: number, stop: number, num = 50, options: LinspaceOptions = {}): NDArray {
  checkNumber('linspace', 'start', start);
  checkNumber('linspace', 'stop', stop);
  if (!Number.isInteger(num) || num < 0) throw typeError('linspace', 'num', 'a non-negative integer', num);
  const dtype = dtypeOf('linspace', options, 'float32');
  const endpoint = options.endpoint ?? true;
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const buf = allocate(dtype, num);
  for (let i = 0; i < num; i++) buf[i] = castScalar(endpoint && i === num - 1 && num > 1 ? stop : start + i * step, dtype);
  return fromBuffer([num], dtype, buf);
}

export interface EyeOptions extends DTypeOption {
  k?: number;
}

export function eye(n: number, m?: number | null, options: EyeOptions = {}): NDArray {
  const rows = checkShape('eye', 'n', [n])[0];
  const cols = m === undefined || m === null ? rows : checkShape('eye', 'm', [m])[0];
  const k = options.k ?? 0;
  if (!Number.isInteger(k)) throw typeError('eye', 'k', 'an integer', k);
  const dtype = dtypeOf('eye', options, 'float32');
  const buf = allocate(dtype, rows * cols);
  for (let i = 0; i < rows; i++) {
    const j = i + k;
    if (j >= 0 && j < cols) buf[i * cols + j] = 1;
  }
  return fromBuffer([rows, cols], dtype, buf);
}
