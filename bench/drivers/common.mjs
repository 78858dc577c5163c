// @file What the drivers for other libraries share: arguments, the shared workload data and records
// (from metalgrad's dist/bench, built by `npm run bench`), and emitting a timed figure.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const data = require('../../dist/bench/data.js');
const records = require('../../dist/bench/records.js');
export const timing = require('../../dist/bench/timing.js');
export { require };

const args = process.argv.slice(2);
export const arg = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
export const quick = args.includes('--quick');
export const sizes = quick ? data.SIZES.quick : data.SIZES.full;
const only = arg('workloads', undefined)?.split(',');
export const wants = (w) => !only || only.includes(w);

/** Emits one record for `timing` (ms per call) converted to `unit` with `amount` of work per call. */
export function emit(library, threads, workload, t, unit, amount, check, extra = {}) {
  records.emit({ workload, library, threads, ...extra, ...records.figures(t, unit, amount), unit, check: Array.from(check, Number) });
}
export const skip = (library, workload, reason) => records.emitSkip({ workload, library, reason });
