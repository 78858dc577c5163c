/** @file Devices: what is listed, devicePut, and clear errors for unavailable devices. */

import { defaultDevice, devicePut, devices, numpy as np } from 'metalgrad';
import { native } from '../lib/backend/native';

describe('devices', () => {
  const saved = process.env.METALGRAD_DEVICE;
  afterEach(() => {
    if (saved === undefined) delete process.env.METALGRAD_DEVICE;
    else process.env.METALGRAD_DEVICE = saved;
  });

  test('the CPU device is listed and is the default here', () => {
    expect(devices()).toContain('cpu');
    delete process.env.METALGRAD_DEVICE;
    expect(defaultDevice()).toBe(process.platform === 'darwin' ? devices()[devices().length - 1] : 'cpu');
  });

  test('devicePut keeps values and reports the device', () => {
    const y = devicePut(np.array([1, 2, 3]), 'cpu');
    expect(y.device).toBe('cpu');
    expect(y.toArray()).toEqual([1, 2, 3]);
    expect(devicePut([4, 5]).toArray()).toEqual([4, 5]);
  });

  test('an unavailable or unknown device is a clear error', () => {
    const ones = np.ones([2]);
    if (!devices().includes('metal')) {
      console.log(`Metal is not available here, so the errors for it are tested: ${process.platform}`);
      expect(() => devicePut(ones, 'metal')).toThrow(/devicePut: device 'metal' is not available/);
      process.env.METALGRAD_DEVICE = 'metal';
      expect(() => defaultDevice()).toThrow(/METALGRAD_DEVICE 'metal' is not available/);
      delete process.env.METALGRAD_DEVICE;
    }
    expect(() => devicePut(ones, 'tpu')).toThrow(/devicePut: argument `device` must be one of the available devices \[cpu.*received string "tpu"/);
    process.env.METALGRAD_DEVICE = 'gpu';
    expect(() => defaultDevice()).toThrow(/METALGRAD_DEVICE.*received string "gpu"/);
  });

  test('only macOS builds of the addon have the Metal host', () => {
    if (process.platform === 'darwin') expect(typeof native().metal?.open).toBe('function');
    else expect(native().metal).toBeUndefined();
  });

  test('devicePut commits: operations on committed CPU arrays stay on the CPU', () => {
    const x = devicePut(np.array([1, 2]), 'cpu');
    const y = np.multiply(x, 3);
    expect(y.device).toBe('cpu');
    expect(y.toArray()).toEqual([3, 6]);
  });
});
