// Smoke check of the N-API glue: node native/tests/smoke.js (after node-gyp rebuild).
'use strict';
const assert = require('assert');
const path = require('path');
const addon = require(path.join(__dirname, '..', '..', 'build', 'Release', 'metalgrad.node'));

assert.strictEqual(addon.abiVersion, 1);
const ops = addon.scalarOps();
assert.strictEqual(ops.length, 34);
assert.deepStrictEqual(ops.slice(0, 3), ['copy', 'const', 'convert']);
assert.strictEqual(ops[33], 'select');

// out = a + b over 5 float32 elements.
const n = 5;
const add = [1, n, /* nin, nout, nregs, ninstr */ 2, 1, 3, 1,
  0, 0, 0, 1, /* input 0: f32 buf 0 offset 0 stride 1 */
  0, 1, 0, 1, /* input 1 */
  0, 2, 0, 1, 2, /* output: f32 buf 2, reg 2 */
  17, 0, 2, 0, 1, -1 /* add f32 r2 = r0 + r1 */];
const code = Int32Array.from([0x4d47, 1, 1, 1, add.length, ...add]);
const a = Float32Array.from([1, 2, 3, 4, 5]);
const b = Float32Array.from([10, 20, 30, 40, 50]);
const out = new Float32Array(n);
assert.strictEqual(addon.run(code, new Float64Array(0), [a, b, out]), undefined);
assert.deepStrictEqual(Array.from(out), [11, 22, 33, 44, 55]);

// A subarray view uses its byte offset.
const big = new Float32Array(8);
addon.run(code, new Float64Array(0), [a, b, big.subarray(3)]);
assert.deepStrictEqual(Array.from(big), [0, 0, 0, 11, 22, 33, 44, 55]);

assert.throws(() => addon.run(code, new Float64Array(0), [a, b, new Float64Array(n)]), {
  name: 'TypeError',
  message: 'metalgrad native run: bufs[2] must be a Float32Array, Int32Array, Uint32Array or Uint8Array, received Float64Array',
});
assert.throws(() => addon.run(Array.from(code), new Float64Array(0), [a, b, out]), {
  name: 'TypeError', message: /code must be an Int32Array, received an array/,
});
assert.throws(() => addon.run(code, [], [a, b, out]), { name: 'TypeError', message: /consts must be a Float64Array/ });
assert.throws(() => addon.run(code, new Float64Array(0)), { name: 'TypeError', message: /expected 3 arguments/ });
// Engine errors become JS Errors naming the step and field.
assert.throws(() => addon.run(code, new Float64Array(0), [a, b, new Float32Array(4)]), {
  name: 'Error',
  message: 'metalgrad native run: step 0 (elementwise): output 0 view reaches element 4 but buffer 2 has 4 elements',
});
assert.throws(() => addon.run(code, new Float64Array(0), [a, new Int32Array(n), out]), {
  message: /input 1 view has dtype float32 but buffer 1 holds int32/,
});
console.log('native smoke check passed');
