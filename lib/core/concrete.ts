/**
 * @file Arrays that hold data: a contiguous row-major typed array owned by the JS garbage collector,
 * on a device (Metal buffers are typed arrays over shared memory, readable once their work completes).
 */

import { Device, NDArray, NestedArray } from './array';
import { ShapedArray } from './aval';
import { allocate, castScalar, DType, TypedArray } from './dtype';
import { Shape, sizeOf } from './shape';

/** Waits until the host may read buffers of a device (registered by backends whose work is asynchronous). */
const hostSyncs = new Map<Device, () => void>();
export function registerHostSync(device: Device, sync: () => void): void {
  hostSyncs.set(device, sync);
}

export class ConcreteArray extends NDArray {
  constructor(
    readonly aval: ShapedArray,
    /** Row-major storage; shared (never mutated) between arrays that are reshapes of each other. */
    public buffer: TypedArray,
    private readonly place: Device = 'cpu',
    /** Placed explicitly (`devicePut`, or computed from committed arrays): operations follow it (as JAX). */
    readonly committed = false,
  ) {
    super();
  }

  get device(): Device {
    return this.place;
  }

  data(): TypedArray {
    return this.hostBuffer().slice(0, this.size);
  }

  /** The storage, once pending device work that writes it has completed. */
  hostBuffer(): TypedArray {
    if (this.place !== 'cpu') hostSyncs.get(this.place)?.();
    return this.buffer;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`Array.item: the array must have exactly one element, but it has shape [${this.aval.shape.join(', ')}] (${this.size} elements)`);
    return Number(this.scalarAt(this.hostBuffer(), 0));
  }

  toArray(): NestedArray {
    const shape = this.aval.shape;
    const buf = this.hostBuffer();
    if (shape.length === 0) return this.scalarAt(buf, 0);
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = shape[dim];
      const out: NestedArray[] = new globalThis.Array(n);
      const step = sizeOf(shape.slice(dim + 1));
      for (let i = 0; i < n; i++) out[i] = dim === shape.length - 1 ? this.scalarAt(buf, offset + i) : build(dim + 1, offset + i * step);
      return out;
    };
    return build(0, 0);
  }

  toString(): string {
    return formatArray(this);
  }

  override dispose(): void {
    // Dropping the reference lets V8 reclaim the storage even while the wrapper is alive.
    this.buffer = allocate(this.dtype, 0);
  }

  private scalarAt(buf: TypedArray, i: number): number | boolean {
    if (i >= buf.length) throw new Error('Array: this array was disposed');
    const v = buf[i];
    return this.dtype === 'bool' ? v !== 0 : v;
  }
}

export function fromScalar(value: number, dtype: DType, weakType = false): ConcreteArray {
  const buf = allocate(dtype, 1);
  buf[0] = castScalar(value, dtype);
  return new ConcreteArray(new ShapedArray([], dtype, weakType), buf);
}

export function fromBuffer(shape: Shape, dtype: DType, buffer: TypedArray, weakType = false): ConcreteArray {
  return new ConcreteArray(new ShapedArray([...shape], dtype, weakType), buffer);
}

function formatScalar(v: number | boolean, dtype: DType): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (dtype !== 'float32') return String(v);
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.`;
  const s = Number(v.toPrecision(7)).toString();
  return s;
}

/** numpy-like printing: `Array([[1., 2.], [3., 4.]], dtype=float32)`. */
function formatArray(x: ConcreteArray): string {
  const nested = x.toArray();
  const fmt = (v: NestedArray, depth: number): string => {
    if (!globalThis.Array.isArray(v)) return formatScalar(v, x.dtype);
    const sep = depth === x.ndim - 1 ? ', ' : `,\n${' '.repeat(7 + depth)}`;
    if (v.length > 100) return `[${v.slice(0, 3).map((e) => fmt(e, depth + 1)).join(sep)}, ..., ${v.slice(-3).map((e) => fmt(e, depth + 1)).join(sep)}]`;
    return `[${v.map((e) => fmt(e, depth + 1)).join(sep)}]`;
  };
  return `Array(${fmt(nested, 0)}, dtype=${x.dtype})`;
}
