/** @file The public array type. Concrete arrays and tracers both extend it, so user code sees one type. */

import { ShapedArray } from './aval';
import { DType, TypedArray } from './dtype';

export type Device = 'cpu' | 'metal';

/** Nested JS arrays of numbers, as returned by `toArray()`. */
export type NestedArray = number | boolean | NestedArray[];

/**
 * metalgrad's array. Outside transformations an `NDArray` holds data on a device; inside `jit`, `grad`,
 * `vmap` and friends the same methods act on tracers, so functions work unchanged under every
 * transformation. Arrays are immutable and garbage-collected. Exported as `Array`.
 */
export abstract class NDArray {
  abstract get aval(): ShapedArray;

  /** A plain JS array of the dimensions. */
  get shape(): number[] {
    return [...this.aval.shape];
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  get ndim(): number {
    return this.aval.shape.length;
  }
  get size(): number {
    return this.aval.size;
  }
  get weakType(): boolean {
    return this.aval.weakType;
  }
  abstract get device(): Device;

  /** A copy of the data as a typed array (Float32Array, Int32Array, Uint32Array; Uint8Array for bool). */
  abstract data(): TypedArray;
  /** Nested JS arrays (booleans for bool arrays). */
  abstract toArray(): NestedArray;
  /** The single value of a size-1 array, as a JS number (bool arrays give 1 or 0). */
  abstract item(): number;
  abstract toString(): string;

  /** Releases the data early; optional, the garbage collector does it otherwise. */
  dispose(): void {}
  [Symbol.dispose](): void {
    this.dispose();
  }
}
