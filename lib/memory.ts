/**
 * @file Host memory behind CPU arrays. Outputs of 256 KiB and more come from a cache of recycled
 * buffers in the addon (native/cpu/buffer_pool.h): when the garbage collector frees such an array,
 * its memory goes back to the cache (up to a limit, `METALGRAD_BUFFER_CACHE_MB`, default 256) and
 * the next output of that size reuses it instead of paging in fresh memory from the OS.
 */

import { native } from './backend/native';
import { rangeError, typeError } from './core/errors';

export interface HostMemory {
  /** Bytes of cached buffers held by live arrays. */
  active: number;
  /** Bytes of freed buffers kept for reuse. */
  cached: number;
  /** The most bytes `cached` may reach; buffers freed beyond it go back to the OS. */
  cacheLimit: number;
}

/** What the host buffer cache holds now. */
export function hostMemory(): HostMemory {
  const { live, idle, limit } = native().bufferCache();
  return { active: live, cached: idle, cacheLimit: limit };
}

/** Sets the most bytes of freed buffers kept for reuse (a non-negative integer); extra ones are released now. */
export function setCacheLimit(bytes: number): void {
  if (typeof bytes !== 'number') throw typeError('setCacheLimit', 'bytes', 'a non-negative integer', bytes);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw rangeError('setCacheLimit', 'bytes', `must be a non-negative integer, received ${bytes}`);
  native().setBufferCacheLimit(bytes);
}

/** Returns every cached (freed) buffer to the OS; the limit is unchanged. */
export function clearCache(): void {
  const { limit } = native().bufferCache();
  native().setBufferCacheLimit(0);
  native().setBufferCacheLimit(limit);
}
