/** @file Error helpers: every message names the function, the argument, and expected vs received. */

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return `number ${x}`;
  if (typeof x === 'string') return `string ${JSON.stringify(x)}`;
  if (typeof x === 'function') return 'a function';
  if (globalThis.Array.isArray(x)) return `a JS array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === 'object') {
    const aval = (x as { aval?: { toString(): string } }).aval;
    if (aval !== undefined) return `an array ${aval.toString()}`;
    const name = (x as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof x;
}

export function typeError(fn: string, arg: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${fn}: argument \`${arg}\` must be ${expected}, received ${describe(received)}`);
}

export function rangeError(fn: string, arg: string, problem: string): RangeError {
  return new RangeError(`${fn}: argument \`${arg}\` ${problem}`);
}
