/** @file Array methods (x.add(y), x.sum({axis}), ...), attached to the shared base class of arrays and tracers. */

import { NDArray } from '../core/array';
import { DType } from '../core/dtype';
import * as idx from './indexing';
import * as linalg from './linalg';
import * as math from './math';
import * as red from './reductions';
import * as shape from './shape';
import * as sorting from './sorting';

type Operand = NDArray | number | boolean;

declare module '../core/array' {
  interface NDArray {
    add(y: Operand): NDArray;
    sub(y: Operand): NDArray;
    mul(y: Operand): NDArray;
    div(y: Operand): NDArray;
    pow(y: Operand): NDArray;
    neg(): NDArray;
    abs(): NDArray;
    exp(): NDArray;
    log(): NDArray;
    sqrt(): NDArray;
    tanh(): NDArray;
    sin(): NDArray;
    cos(): NDArray;
    maximum(y: Operand): NDArray;
    minimum(y: Operand): NDArray;
    lt(y: Operand): NDArray;
    le(y: Operand): NDArray;
    gt(y: Operand): NDArray;
    ge(y: Operand): NDArray;
    eq(y: Operand): NDArray;
    ne(y: Operand): NDArray;
    sum(options?: red.ReduceOptions): NDArray;
    mean(options?: red.ReduceOptions): NDArray;
    max(options?: red.ReduceOptions): NDArray;
    min(options?: red.ReduceOptions): NDArray;
    prod(options?: red.ReduceOptions): NDArray;
    argmax(options?: red.ArgOptions): NDArray;
    argmin(options?: red.ArgOptions): NDArray;
    var(options?: red.VarOptions): NDArray;
    reshape(shape: number | number[]): NDArray;
    transpose(axes?: number[]): NDArray;
    /** The transpose (reversed axes). */
    readonly T: NDArray;
    squeeze(options?: { axis?: number | number[] }): NDArray;
    expandDims(axis: number | number[]): NDArray;
    broadcastTo(shape: number[]): NDArray;
    matmul(y: NDArray): NDArray;
    dot(y: NDArray): NDArray;
    astype(dtype: DType): NDArray;
    clip(min?: Operand | null, max?: Operand | null): NDArray;
    flatten(): NDArray;
    /** `x[specs]`: integers, slice strings like '1:5:2' or '::-1', '...', null (new axis), one integer array. */
    slice(...specs: idx.IndexSpec[]): NDArray;
    /** Functional updates like JAX's `x.at[...]`: `x.at(0, '1:3').set(v)`, `.add`, `.mul`, `.min`, `.max`, `.get()`. */
    at(...specs: idx.IndexSpec[]): idx.IndexUpdate;
    take(indices: unknown, options?: idx.TakeOptions): NDArray;
    sort(options?: sorting.SortOptions): NDArray;
    argsort(options?: sorting.SortOptions): NDArray;
    cumsum(options?: sorting.CumulativeOptions): NDArray;
    cumprod(options?: sorting.CumulativeOptions): NDArray;
  }
}

const methods: Record<string, (this: NDArray, ...args: any[]) => NDArray> = {
  add(y) { return math.add(this, y); },
  sub(y) { return math.subtract(this, y); },
  mul(y) { return math.multiply(this, y); },
  div(y) { return math.divide(this, y); },
  pow(y) { return math.power(this, y); },
  neg() { return math.negative(this); },
  abs() { return math.abs(this); },
  exp() { return math.exp(this); },
  log() { return math.log(this); },
  sqrt() { return math.sqrt(this); },
  tanh() { return math.tanh(this); },
  sin() { return math.sin(this); },
  cos() { return math.cos(this); },
  maximum(y) { return math.maximum(this, y); },
  minimum(y) { return math.minimum(this, y); },
  lt(y) { return math.less(this, y); },
  le(y) { return math.lessEqual(this, y); },
  gt(y) { return math.greater(this, y); },
  ge(y) { return math.greaterEqual(this, y); },
  eq(y) { return math.equal(this, y); },
  ne(y) { return math.notEqual(this, y); },
  sum(o) { return red.sum(this, o); },
  mean(o) { return red.mean(this, o); },
  max(o) { return red.max(this, o); },
  min(o) { return red.min(this, o); },
  prod(o) { return red.prod(this, o); },
  argmax(o) { return red.argmax(this, o); },
  argmin(o) { return red.argmin(this, o); },
  var(o) { return red.var_(this, o); },
  reshape(s) { return shape.reshape(this, s); },
  transpose(axes) { return shape.transpose(this, axes); },
  squeeze(o) { return shape.squeeze(this, o); },
  expandDims(axis) { return shape.expandDims(this, axis); },
  broadcastTo(s) { return shape.broadcastTo(this, s); },
  matmul(y) { return linalg.matmul(this, y); },
  dot(y) { return linalg.dot(this, y); },
  astype(d) { return math.astype(this, d); },
  clip(lo, hi) { return math.clip(this, lo, hi); },
  flatten() { return shape.reshape(this, [this.size]); },
  slice(...specs) { return idx.index(this, ...specs); },
  at(...specs) { return idx.at(this, ...specs) as unknown as NDArray; },
  take(i, o) { return idx.take(this, i, o); },
  sort(o) { return sorting.sort(this, o); },
  argsort(o) { return sorting.argsort(this, o); },
  cumsum(o) { return sorting.cumsum(this, o); },
  cumprod(o) { return sorting.cumprod(this, o); },
};

for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(NDArray.prototype, name, { value: fn, writable: true, configurable: true });
}
Object.defineProperty(NDArray.prototype, 'T', {
  get(this: NDArray) {
    return shape.transpose(this);
  },
  configurable: true,
});

