/** @file Abstract values: what tracing knows about an array (shape, dtype, weak type), no data. */

import { DType, SHORT_NAME } from './dtype';
import { Shape, sizeOf } from './shape';

export class ShapedArray {
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** True for values that came from JS numbers: they defer to the other operand's dtype. */
    readonly weakType = false,
  ) {}

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  withWeak(weakType: boolean): ShapedArray {
    return weakType === this.weakType ? this : new ShapedArray(this.shape, this.dtype, weakType);
  }
  equals(o: ShapedArray): boolean {
    return this.dtype === o.dtype && this.weakType === o.weakType && this.shape.length === o.shape.length && this.shape.every((d, i) => d === o.shape[i]);
  }
  /** A cache key: `f32[3,4]` (weak types add a `~`); computed once, avals are immutable. */
  toString(): string {
    return (this.key ??= `${SHORT_NAME[this.dtype]}[${this.shape.join(',')}]${this.weakType ? '~' : ''}`);
  }
  private key: string | undefined;
}
