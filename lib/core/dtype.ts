/** @file Dtypes, their storage, and JAX's type-promotion lattice (with weak types). */

export type DType = 'float32' | 'int32' | 'uint32' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'uint32', 'bool'];

export type TypedArray = Float32Array | Int32Array | Uint32Array | Uint8Array;

/** The native ABI's dtype codes (native/ABI.md). */
export const DTYPE_CODE: Record<DType, number> = { float32: 0, int32: 1, uint32: 2, bool: 3 };

const STORAGE: Record<DType, new (n: number) => TypedArray> = {
  float32: Float32Array,
  int32: Int32Array,
  uint32: Uint32Array,
  bool: Uint8Array,
};

/*
 * Small-array slabs. A typed array of more than 64 bytes gets its own off-heap ArrayBuffer (~0.5 us);
 * arrays of 65..1024 bytes are carved from shared 8 KiB slabs instead (~0.1 us), as Node does for small
 * Buffers. A live array keeps its slab alive, so the slab is small; arrays of at most 64 bytes
 * (scalars, short vectors) are cheap already and never pin a slab.
 */
const SLAB_BYTES = 8192;
const SLAB_MIN = 65;
const SLAB_MAX = 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabOffset = 0;

/** Zero-filled storage for `size` elements of `dtype`. */
export function allocate(dtype: DType, size: number): TypedArray {
  const Storage = STORAGE[dtype] as unknown as { new (n: number): TypedArray; new (b: ArrayBuffer, offset: number, n: number): TypedArray; BYTES_PER_ELEMENT: number };
  const bytes = size * Storage.BYTES_PER_ELEMENT;
  if (bytes < SLAB_MIN || bytes > SLAB_MAX) return new Storage(size);
  if (slabOffset + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabOffset = 0;
  }
  const out = new Storage(slab, slabOffset, size);
  slabOffset += (bytes + 15) & ~15;
  return out;
}

/** `size` elements of `dtype` viewing `buffer` from its start. */
export function viewOf(buffer: ArrayBuffer, dtype: DType, size: number): TypedArray {
  return new (STORAGE[dtype] as unknown as new (b: ArrayBuffer, offset: number, n: number) => TypedArray)(buffer, 0, size);
}

/** Bytes per element of `dtype`'s storage. */
export function bytesPerElement(dtype: DType): number {
  return (STORAGE[dtype] as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function isFloat(d: DType): boolean {
  return d === 'float32';
}
export function isInteger(d: DType): boolean {
  return d === 'int32' || d === 'uint32';
}

/** Short names used by the IR printer: f32[3,4]. */
export const SHORT_NAME: Record<DType, string> = { float32: 'f32', int32: 'i32', uint32: 'u32', bool: 'bool' };

/**
 * JAX's promotion for our four dtypes. A weak type (a JS number) joins a strong one by taking the
 * strong dtype, unless the weak one is a float and the strong one is not (then float32).
 */
export function promoteTypes(a: DType, aWeak: boolean, b: DType, bWeak: boolean): { dtype: DType; weak: boolean } {
  if (a === b) return { dtype: a, weak: aWeak && bWeak };
  if (aWeak && !bWeak) return { dtype: joinWeak(a, b), weak: false };
  if (bWeak && !aWeak) return { dtype: joinWeak(b, a), weak: false };
  return { dtype: joinStrong(a, b), weak: aWeak && bWeak };
}

function joinWeak(weak: DType, strong: DType): DType {
  if (weak === 'float32' && !isFloat(strong)) return 'float32';
  if (weak === 'bool') return strong;
  if (strong === 'bool') return weak;
  return strong;
}

function joinStrong(a: DType, b: DType): DType {
  if (a === 'bool') return b;
  if (b === 'bool') return a;
  if (isFloat(a) || isFloat(b)) return 'float32';
  // int32 with uint32: JAX promotes to int64; we have no 64-bit types and follow jax_enable_x64=False,
  // where the result is int32.
  return 'int32';
}

/** Converts a JS number to the value the dtype stores (as the native `convert` does). */
export function castScalar(x: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(x);
    case 'bool':
      return x !== 0 ? 1 : 0; // NaN is truthy, as the native convert (and NumPy)
    case 'int32':
      if (Number.isNaN(x)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(x)));
    case 'uint32':
      if (Number.isNaN(x)) return 0;
      return Math.max(0, Math.min(4294967295, Math.trunc(x)));
  }
}
