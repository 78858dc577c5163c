/** @file Devices: what is listed, devicePut, and clear errors for unavailable devices. */

import { defaultDevice, devicePut, devices, numpy as np } from 'metalgrad';

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
    if (!devices().includes('metal' as never)) {
      expect(() => devicePut(np.ones([2]), 'metal')).toThrow(/devicePut: device 'metal' is not available/);
      process.env.METALGRAD_DEVICE = 'metal';
      expect(() => defaultDevice()).toThrow(/METALGRAD_DEVICE 'metal' is not available/);
    }
    expect(() => devicePut(np.ones([2]), 'tpu')).toThrow(/devicePut: argument `device` must be one of the available devices \[cpu.*received string "tpu"/);
    process.env.METALGRAD_DEVICE = 'gpu';
    expect(() => defaultDevice()).toThrow(/METALGRAD_DEVICE.*received string "gpu"/);
  });
});
