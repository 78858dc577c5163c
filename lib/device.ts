/** @file Devices. This build runs on the native CPU path; the Metal device comes with the Metal backend. */

import { NDArray } from './core/array';
import { typeError } from './core/errors';
import { asArray } from './numpy/util';

export type DeviceName = 'cpu';

export function devices(): DeviceName[] {
  return ['cpu'];
}

export function defaultDevice(): DeviceName {
  return 'cpu';
}

/** Places `x` on `device` (a no-op copy-free move when it is already there). */
export function devicePut(x: unknown, device: string = defaultDevice()): NDArray {
  if (!(devices() as string[]).includes(device)) {
    throw typeError('devicePut', 'device', `one of the available devices [${devices().join(', ')}]`, device);
  }
  return asArray('devicePut', 'x', x);
}
