/** @file Checks for options objects and their fields, with errors that name the function and the field. */

import { typeError } from './errors';

/** `options` itself: undefined (no options) or a plain options object. */
export function checkOptions<T extends object>(fn: string, options: T | undefined, example: string): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || globalThis.Array.isArray(options)) throw typeError(fn, 'options', `an options object such as ${example}`, options);
  return options;
}

/**
 * A numeric field: `fallback` when absent (pass `undefined` to make it required), else a finite
 * number accepted by `ok`, which `expected` describes.
 */
export function numberOption(fn: string, name: string, value: unknown, fallback: number | undefined, expected = 'a finite number', ok: (v: number) => boolean = () => true): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw typeError(fn, name, expected, value);
  return value;
}

export function booleanOption(fn: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(fn, name, 'a boolean', value);
  return value;
}
