/**
 * @file The Linux emulation of Metal threadgroups (test/msl/threadgroup.h, through the emulated addon)
 * must be able to fail: a read of threadgroup memory nobody wrote, a missing barrier, and a thread
 * that returns while others wait at a barrier all show, and SIMD-group functions combine exactly the
 * lanes that take part. Otherwise a generated kernel with such a bug could pass the MSL tests.
 */

import { isCooperative, runCpu } from './msl/harness';
import { emulatedMetal, EmulatedMetal } from './metal/emulated-addon';
import { ShapedArray } from '../lib/core/aval';
import { mslOpsHeader } from '../lib/compiler/msl';
import { createMetalBackend } from '../lib/backend/metal';
import { Kernel } from '../lib/compiler/kernel';
import { primitiveDef } from '../lib/primitives';

let metal: EmulatedMetal;
beforeAll(() => {
  metal = emulatedMetal();
  metal.open('');
});
afterAll(() => metal.dispose());

/** A kernel named as the emulated addon expects, with the given parameters (after the output) and body. */
const kernel = (out: string, params: string[], body: string[]): string =>
  ['#include <metal_stdlib>', 'using namespace metal;', 'kernel void metalgrad_kernel(', `    device ${out}* out0 [[buffer(0)]],`, ...params.map((p, i) => `    ${p}${i === params.length - 1 ? ') {' : ','}`), ...body, '}', ''].join('\n');

/** Runs `source` over `groups` threadgroups of `size` threads with `memory` bytes of threadgroup memory. */
function run<T extends Float32Array | Int32Array>(source: string, out: T, groups: number, size: number, memory: number[] = [], simdWidth = 0): T {
  const buf = new (out.constructor as new (b: ArrayBuffer) => T)(metal.allocate(out.byteLength));
  buf.set(out);
  const pipeline = metal.compile(source, 'metalgrad_kernel');
  metal.dispatch(Int32Array.from([1, pipeline, groups, size, simdWidth, memory.length, ...memory, 1, 0]), [buf]);
  metal.sync();
  return buf;
}

const positions = ['threadgroup float* scratch [[threadgroup(0)]]', 'uint gid [[thread_position_in_grid]]', 'uint tid [[thread_position_in_threadgroup]]'];

describe('the threadgroup emulation', () => {
  test('threadgroup memory nobody wrote reads as NaN', () => {
    const src = kernel('float', positions, [
      '  if (tid % 2 == 0) scratch[tid] = float(tid);',
      '  threadgroup_barrier(mem_flags::mem_threadgroup);',
      '  out0[gid] = scratch[tid ^ 1u];',
    ]);
    const out = Array.from(run(src, new Float32Array(64), 2, 32, [128]));
    out.forEach((v, i) => (i % 2 === 0 ? expect(v).toBeNaN() : expect(v).toBe((i % 32) - 1)));
  });

  test('a missing barrier shows: a neighbour read without one sees unwritten memory', () => {
    const body = (barrier: boolean) => ['  scratch[tid] = float(gid);', ...(barrier ? ['  threadgroup_barrier(mem_flags::mem_threadgroup);'] : []), '  out0[gid] = scratch[(tid + 1u) % 64u];'];
    const want = Array.from({ length: 128 }, (_, g) => (g - (g % 64)) + ((g % 64) + 1) % 64);
    expect(Array.from(run(kernel('float', positions, body(true)), new Float32Array(128), 2, 64, [256]))).toEqual(want);
    const racy = Array.from(run(kernel('float', positions, body(false)), new Float32Array(128), 2, 64, [256]));
    expect(racy.filter(Number.isNaN).length).toBeGreaterThan(0);
  });

  test('a thread that returns while others wait at a barrier fails the run', () => {
    const src = kernel('float', positions, ['  if (tid == 3) return;', '  threadgroup_barrier(mem_flags::mem_threadgroup);', '  out0[gid] = 1.0f;']);
    expect(() => run(src, new Float32Array(32), 1, 32, [128])).toThrow(/threadgroup 0, thread 3: returned while other threads of its group wait at a threadgroup_barrier/);
  });

  test('SIMD-group functions combine the lanes that take part; a shuffle from an exited lane is poison', () => {
    const src = kernel('int', ['uint gid [[thread_position_in_grid]]', 'uint sg [[simdgroup_index_in_threadgroup]]', 'uint lane [[thread_index_in_simdgroup]]'], [
      '  if (sg == 1 && lane >= 20) return;',
      '  const int sum = simd_sum(int(lane));',
      '  const int down = simd_shuffle_down(int(gid), 4);',
      '  const int top = simd_max(sg == 0 ? int(lane) : -int(lane));',
      '  out0[gid * 3] = sum;',
      '  out0[gid * 3 + 1] = down;',
      '  out0[gid * 3 + 2] = top;',
    ]);
    const out = run(src, new Int32Array(64 * 3).fill(7), 1, 64, [], 32);
    for (let g = 0; g < 64; g++) {
      const [sg, lane] = [Math.floor(g / 32), g % 32];
      const got = Array.from(out.subarray(g * 3, g * 3 + 3));
      if (sg === 1 && lane >= 20) expect(got).toEqual([7, 7, 7]);
      else if (sg === 0) expect(got).toEqual([496, lane < 28 ? g + 4 : g, 31]);
      else expect(got).toEqual([190, lane < 16 ? g + 4 : -1, 0]);
    }
  });

  test('launches beyond the limits of an Apple GPU are rejected', () => {
    const src = kernel('float', positions, ['  out0[gid] = 0.0f;']);
    expect(() => run(src, new Float32Array(4), 1, 2048, [16])).toThrow('metalgrad metal dispatch: launch 0 needs 2048 threads per threadgroup');
    expect(() => run(src, new Float32Array(4), 1, 32, [20])).toThrow('asks for threadgroup memory [20]: each a positive multiple of 16 bytes');
    expect(() => run(src, new Float32Array(4), 1, 32, [16], 64)).toThrow('assumes 64-lane SIMD-groups');
  });

  test('the backend generates SIMD-group functions for Apple7 devices only; both forms match the CPU', () => {
    const A = (shape: number[]) => new ShapedArray(shape, 'float32');
    // A threadgroup per row of 3000, and a SIMD-group per row of 100 (the same buffer seen as [120, 100]).
    const kernels: Kernel[] = [
      ...primitiveDef('reduce_sum').lower([A([4, 3000])], [A([4])], { axes: [1] }).kernels,
      { kind: 'reduce', op: 'max', dtype: 'float32', shape: [120, 100], input: { arg: 0, offset: 0, strides: [100, 1] }, axes: [1], output: { arg: 2, offset: 0 } },
    ];
    const x = Float32Array.from({ length: 12000 }, (_, i) => 1 + Math.sin(i * 0.37));
    const want = [x.slice(), new Float32Array(4), new Float32Array(120)];
    runCpu({ name: 'cpu', bufs: [A([12000]), A([4]), A([120])], kernels, inputs: [0], tol: 'exact' }, want);
    for (const apple7 of [true, false]) {
      const addon = emulatedMetal({ apple7 });
      try {
        const backend = createMetalBackend(addon, '');
        const bufs = [backend.allocate('float32', 12000), backend.allocate('float32', 4), backend.allocate('float32', 120)];
        bufs[0].set(x);
        backend.dispatch(backend.compile(kernels), bufs);
        backend.sync();
        Array.from(bufs[1]).forEach((v, i) => expect(Math.abs(v - want[1][i])).toBeLessThan(1e-5 * Math.abs(want[1][i])));
        expect(Array.from(bufs[2])).toEqual(Array.from(want[2]));
        expect(addon.sources().filter((s) => /simd_sum\(|simd_shuffle_down\(/.test(s))).toHaveLength(apple7 ? 2 : 0);
      } finally {
        addon.dispose();
      }
    }
  });

  test('the ops header synchronises nothing, so element-wise kernels run without fibers', () => {
    expect(isCooperative(mslOpsHeader())).toBe(false);
    expect(isCooperative('  threadgroup_barrier(mem_flags::mem_threadgroup);')).toBe(true);
    expect(isCooperative('  acc = simd_sum(acc);')).toBe(true);
  });
});
