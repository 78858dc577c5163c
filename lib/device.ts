/**
 * @file Devices. This build runs on the native CPU path; a Metal device appears with the Metal
 * backend. `METALGRAD_DEVICE=cpu|metal` chooses the default device.
 */

import { NDArray } from './core/array';
import { typeError } from './core/errors';
import { asArray } from './numpy/util';

export type DeviceName = 'cpu' | 'metal';

export function devices(): DeviceName[] {
  return ['cpu'];
}

function checkDevice(fn: string, arg: string, device: unknown): DeviceName {
  if (device === 'metal' && !devices().includes('metal')) {
    throw new Error(`${fn}: ${arg} 'metal' is not available: ${process.platform === 'darwin' ? 'this build has no Metal backend yet' : `Metal needs macOS on Apple silicon (this is ${process.platform})`}; available devices: [${devices().join(', ')}]`);
  }
  if (typeof device !== 'string' || !(devices() as string[]).includes(device)) {
    throw typeError(fn, arg, `one of the available devices [${devices().join(', ')}]`, device);
  }
  return device as DeviceName;
}

/** The device new arrays go to: `METALGRAD_DEVICE` if set, else the best available. */
export function defaultDevice(): DeviceName {
  const env = process.env.METALGRAD_DEVICE;
  if (env !== undefined && env !== '') return checkDevice('defaultDevice', 'METALGRAD_DEVICE', env);
  return devices()[devices().length - 1];
}

/** Places `x` on `device` (no copy when it is already there). */
export function devicePut(x: unknown, device: string = defaultDevice()): NDArray {
  checkDevice('devicePut', 'device', device);
  return asArray('devicePut', 'x', x);
}
