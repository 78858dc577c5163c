/** @file Building arrays from JS data (nested arrays, typed arrays, numbers). */

import { NDArray } from '../core/array';
import { ConcreteArray, fromBuffer } from '../core/concrete';
import { allocate, castScalar, DType, isDType, TypedArray } from '../core/dtype';
import { describe, typeError } from '../core/errors';
import { checkShape, shapeStr, sizeOf } from '../core/shape';
import * as lax from '../lax';

const TYPED_DTYPE = new Map<Function, DType>([
  [Float32Array, 'float32'],
  [Float64Array, 'float32'],
  [Int32Array, 'int32'],
  [Int16Array, 'int32'],
  [Int8Array, 'int32'],
  [Uint32Array, 'uint32'],
  [Uint16Array, 'uint32'],
  [Uint8Array, 'uint32'],
]);

/** Infers the shape of rectangular nested JS arrays and flattens them. */
function flattenNested(fn: string, data: unknown): { shape: number[]; flat: (number | boolean)[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (globalThis.Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat: (number | boolean)[] = [];
  const walk = (x: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof x !== 'number' && typeof x !== 'boolean') throw typeError(fn, `data${path}`, 'a number or a boolean', x);
      flat.push(x);
      return;
    }
    if (!globalThis.Array.isArray(x) || x.length !== shape[dim]) {
      throw new Error(`${fn}: argument \`data\` is ragged: data${path} should be a JS array of length ${shape[dim]} (shape ${shapeStr(shape)}), received ${describe(x)}`);
    }
    x.forEach((c, i) => walk(c, dim + 1, `${path}[${i}]`));
  };
  walk(data, 0, '');
  return { shape, flat };
}

export interface ArrayOptions {
  dtype?: DType;
  shape?: number[];
}

/**
 * `np.array(data, {dtype, shape})`: JS numbers give float32 unless `dtype` says otherwise, booleans
 * give bool, typed arrays keep their integer kind. `shape` reshapes flat data (the sizes must agree).
 */
export function arrayFromData(fn: string, data: unknown, options: ArrayOptions = {}): NDArray {
  if (options === null || typeof options !== 'object') throw typeError(fn, 'options', 'an options object', options);
  if (options.dtype !== undefined && !isDType(options.dtype)) throw typeError(fn, 'dtype', "one of 'float32', 'int32', 'uint32', 'bool'", options.dtype);
  let shape: number[];
  let dtype: DType;
  let buffer: TypedArray;
  if (data instanceof NDArray) {
    const x = options.dtype ? lax.convert(data, options.dtype) : data;
    if (!(x instanceof ConcreteArray)) return x;
    shape = [...x.aval.shape];
    dtype = x.dtype;
    buffer = x.data();
  } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const inferred = TYPED_DTYPE.get(data.constructor);
    if (!inferred) throw typeError(fn, 'data', 'a Float32Array, Float64Array or integer typed array', data);
    dtype = options.dtype ?? inferred;
    shape = [(data as unknown as ArrayLike<number>).length];
    buffer = allocate(dtype, shape[0]);
    const src = data as unknown as ArrayLike<number>;
    for (let i = 0; i < src.length; i++) buffer[i] = castScalar(Number(src[i]), dtype);
  } else if (typeof data === 'number' || typeof data === 'boolean' || globalThis.Array.isArray(data)) {
    const { shape: s, flat } = flattenNested(fn, data);
    shape = s;
    dtype = options.dtype ?? (flat.length > 0 && flat.every((v) => typeof v === 'boolean') ? 'bool' : 'float32');
    buffer = allocate(dtype, flat.length);
    for (let i = 0; i < flat.length; i++) buffer[i] = castScalar(Number(flat[i]), dtype);
  } else {
    throw typeError(fn, 'data', 'a number, a boolean, nested JS arrays, a typed array or an array', data);
  }
  if (options.shape !== undefined) {
    const target = checkShape(fn, 'shape', options.shape);
    if (sizeOf(target) !== buffer.length) {
      throw new Error(`${fn}: argument \`data\` has ${buffer.length} elements but \`shape\` ${shapeStr(target)} needs ${sizeOf(target)}`);
    }
    shape = target;
  }
  return fromBuffer(shape, dtype, buffer);
}
