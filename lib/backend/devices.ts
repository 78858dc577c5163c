/**
 * @file Devices: which exist, the backend of each, and where an operation runs. An operation runs
 * where its committed operands (placed by `devicePut`) are; when they disagree, or none is committed,
 * on the default device (Metal on a Mac that has it, else the CPU; `METALGRAD_DEVICE` overrides).
 * Operands elsewhere are copied there first.
 */

import { Device } from '../core/array';
import { ConcreteArray } from '../core/concrete';
import { typeError } from '../core/errors';
import { Backend } from './backend';
import { cpuBackend } from './cpu';
import { createMetalBackend } from './metal';
import { native } from './native';

/** The Metal backend, or why there is none; probed once per process. */
let metal: { backend?: Backend; reason: string } | undefined;

function metalState(): { backend?: Backend; reason: string } {
  if (metal) return metal;
  if (process.platform !== 'darwin') return (metal = { reason: `Metal needs macOS on Apple silicon (this is ${process.platform})` });
  const addon = native().metal;
  if (!addon) return (metal = { reason: 'the native addon was built without Metal (rebuild it on macOS with `npm install`)' });
  try {
    return (metal = { backend: createMetalBackend(addon), reason: '' });
  } catch (e) {
    return (metal = { reason: (e as Error).message });
  }
}

/** Test seam: stands `backend` in for Metal (undefined probes the real one again). */
export function setMetalBackendForTesting(backend: Backend | undefined): void {
  metal = backend ? { backend, reason: '' } : undefined;
}

export function availableDevices(): Device[] {
  return metalState().backend ? ['cpu', 'metal'] : ['cpu'];
}

/** Checks a device name given by the user; `metal` where it is unavailable says why. */
export function checkDevice(fn: string, arg: string, device: unknown): Device {
  if (device === 'metal' && !metalState().backend) {
    throw new Error(`${fn}: ${arg} 'metal' is not available: ${metalState().reason}; available devices: [${availableDevices().join(', ')}]`);
  }
  if (typeof device !== 'string' || !(availableDevices() as string[]).includes(device)) {
    throw typeError(fn, arg, `one of the available devices [${availableDevices().join(', ')}]`, device);
  }
  return device as Device;
}

/** The device new work goes to: `METALGRAD_DEVICE` if set, else Metal where available, else the CPU. */
export function defaultDevice(): Device {
  const env = process.env.METALGRAD_DEVICE;
  if (env !== undefined && env !== '') return checkDevice('defaultDevice', 'METALGRAD_DEVICE', env);
  return metalState().backend ? 'metal' : 'cpu';
}

export function backendFor(device: Device): Backend {
  if (device === 'cpu') return cpuBackend;
  const backend = metalState().backend;
  if (!backend) throw new Error(`metalgrad: the Metal device is not available: ${metalState().reason}`);
  return backend;
}

/** Set once METALGRAD_DEVICE was found valid on a CPU-only machine (reading the environment is slow). */
let cpuOnlyChecked = false;

/** Where an operation on `args` runs (see the file comment). */
export function placement(args: readonly unknown[]): Device {
  if (!metalState().backend) {
    // Everything is on the CPU; only a bad METALGRAD_DEVICE remains to report, the first time.
    if (!cpuOnlyChecked) cpuOnlyChecked = defaultDevice() === 'cpu';
    return 'cpu';
  }
  let device: Device | undefined;
  for (const a of args) {
    if (!(a instanceof ConcreteArray) || !a.committed) continue;
    if (device === undefined) device = a.device;
    else if (device !== a.device) return defaultDevice();
  }
  return device ?? defaultDevice();
}

/** `x` on `device` (copied there unless it is already there). */
export function moveTo(x: ConcreteArray, device: Device, committed = x.committed): ConcreteArray {
  if (x.device === device) return committed === x.committed ? x : new ConcreteArray(x.aval, x.buffer, device, committed);
  const src = x.hostBuffer();
  if (src.length < x.size) throw new Error('Array: this array was disposed');
  const buf = backendFor(device).allocate(x.dtype, x.size);
  (buf as Float32Array).set(src.subarray(0, x.size) as Float32Array);
  return new ConcreteArray(x.aval, buf, device, committed);
}
