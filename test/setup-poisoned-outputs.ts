/**
 * @file Jest setup for every suite: CPU kernel outputs come from the backend's output allocator
 * (recycled, uninitialised memory for large ones), so each suite runs with outputs pre-filled with
 * garbage — NaN for float32, a large value for integers, 7 for bool — and any kernel that leaves part
 * of an output unwritten shows up as a wrong result in whatever test uses it.
 */

import { DType, TypedArray } from '../lib/core/dtype';
import { setOutputAllocatorForTests } from '../lib/backend/cpu';

const POISON: Record<DType, number> = { float32: NaN, int32: -123456789, uint32: 0xdeadbeef, bool: 7 };

const unpoisoned = setOutputAllocatorForTests(poisoned);

function poisoned(dtype: DType, size: number): TypedArray {
  const buf = unpoisoned(dtype, size);
  buf.fill(POISON[dtype]);
  return buf;
}
