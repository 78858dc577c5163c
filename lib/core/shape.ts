/** @file Shape arithmetic: sizes, strides, broadcasting and axis normalisation. */

import { rangeError, typeError } from './errors';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new globalThis.Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeStr(shape: Shape): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/** NumPy broadcasting of several shapes; `fn` names the caller in the error. */
export function broadcastShapes(fn: string, ...shapes: Shape[]): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const out = new globalThis.Array<number>(ndim).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = ndim - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new Error(`${fn}: operands could not be broadcast together with shapes ${shapes.map(shapeStr).join(' ')}`);
      }
    }
  }
  return out;
}

/** Normalises a possibly negative axis for an array of rank `ndim`. */
export function normalizeAxis(fn: string, axis: unknown, ndim: number, arg = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) throw typeError(fn, arg, 'an integer', axis);
  if (axis < -ndim || axis >= ndim) {
    throw rangeError(fn, arg, `is ${axis}, out of range for an array of rank ${ndim} (expected ${-ndim} <= axis < ${ndim})`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Normalises `axis` (undefined = all axes, a number, or a list) to sorted distinct axes. */
export function normalizeAxes(fn: string, axis: unknown, ndim: number): number[] {
  if (axis === undefined || axis === null) return [...globalThis.Array(ndim).keys()];
  const list = globalThis.Array.isArray(axis) ? axis : [axis];
  const axes = list.map((a) => normalizeAxis(fn, a, ndim));
  if (new Set(axes).size !== axes.length) throw rangeError(fn, 'axis', `has repeated axes: [${list.join(', ')}]`);
  return axes.sort((a, b) => a - b);
}

export function checkShape(fn: string, arg: string, shape: unknown): number[] {
  const list = typeof shape === 'number' ? [shape] : shape;
  if (!globalThis.Array.isArray(list)) throw typeError(fn, arg, 'a shape (an array of non-negative integers)', shape);
  for (const d of list) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw typeError(fn, arg, 'a shape (an array of non-negative integers)', shape);
    }
  }
  return [...(list as number[])];
}
