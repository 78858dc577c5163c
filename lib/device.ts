/**
 * @file Devices: `devices()` lists what is available ('cpu', and 'metal' on a Mac with a Metal GPU),
 * `defaultDevice()` is where new work goes (`METALGRAD_DEVICE=cpu|metal` overrides), and
 * `devicePut(x, device)` places an array there. Placement rules: lib/backend/devices.ts.
 */

import { Device, NDArray } from './core/array';
import { ConcreteArray } from './core/concrete';
import { availableDevices, checkDevice, defaultDevice as defaultPlacement, moveTo } from './backend/devices';
import { asArray } from './numpy/util';

export type DeviceName = Device;

export function devices(): DeviceName[] {
  return availableDevices();
}

/** The device new arrays go to: `METALGRAD_DEVICE` if set, else the best available. */
export function defaultDevice(): DeviceName {
  return defaultPlacement();
}

/**
 * Places `x` on `device` (no copy when it is already there). With a device the result is committed:
 * operations on it run there. Without one it goes to the default device, uncommitted (as JAX).
 */
export function devicePut(x: unknown, device?: string): NDArray {
  const target = device === undefined ? defaultPlacement() : checkDevice('devicePut', 'device', device);
  const value = asArray('devicePut', 'x', x);
  return value instanceof ConcreteArray ? moveTo(value, target, device !== undefined) : value;
}
