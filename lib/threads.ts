/**
 * @file Threads of the native CPU path. The addon's pool starts with `METALGRAD_NUM_THREADS`
 * threads (default: the CPUs this process may run on); small work always stays on the calling thread.
 */

import { native } from './backend/native';
import { rangeError, typeError } from './core/errors';

/** The largest thread count `setNumThreads` accepts. */
export const MAX_THREADS = 1024;

/** Threads the native CPU kernels use, the calling thread included. */
export function numThreads(): number {
  return native().numThreads();
}

/** Sets the threads the native CPU kernels use (an integer from 1 to 1024), for the whole process. */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number') throw typeError('setNumThreads', 'n', `an integer from 1 to ${MAX_THREADS}`, n);
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw rangeError('setNumThreads', 'n', `must be an integer from 1 to ${MAX_THREADS}, received ${n}`);
  }
  native().setNumThreads(n);
}
