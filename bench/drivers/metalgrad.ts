/**
 * @file Benchmark driver for metalgrad (run by bench/run in a child process with
 * METALGRAD_NUM_THREADS set). Usage: `node dist/bench/drivers/metalgrad.js [--quick] [--workloads=W1,W2]`.
 */

import os from 'node:os';
import { SIZES, type Unit, type WorkloadId, repetitions, w1Bytes, w2Flops } from '../data';
import { emit, figures } from '../records';
import { timeSync } from '../timing';
import { type Prepared, w1, w2, w3, w4, w5 } from '../workloads';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--workloads='))?.slice('--workloads='.length).split(',');
const sizes = quick ? SIZES.quick : SIZES.full;
// The thread count asked for; until the addon reads METALGRAD_NUM_THREADS it runs on one thread whatever this says.
const threads = Number(process.env.METALGRAD_NUM_THREADS ?? os.availableParallelism());

function measure(workload: WorkloadId, prepared: Prepared, unit: Unit, amount: number, size?: number): void {
  const timing = timeSync(prepared.step, repetitions(workload, quick, size));
  emit({ workload, library: 'metalgrad', threads, ...(size === undefined ? {} : { size }), ...figures(timing, unit, amount), unit, check: prepared.check });
}

const run = (w: WorkloadId): boolean => !only || only.includes(w);
if (run('W1')) measure('W1', w1(sizes.w1), 'GB/s', w1Bytes(sizes.w1));
if (run('W2')) for (const n of sizes.w2) measure('W2', w2(n), 'GFLOP/s', w2Flops(n), n);
if (run('W3')) measure('W3', w3(sizes.w3.dims, sizes.w3.batch), 'ms', 1);
if (run('W4')) measure('W4', w4(sizes.w4), 'us', 1);
if (run('W5')) measure('W5', w5(sizes.w5.n, sizes.w5.ops), 'us', sizes.w5.ops);
