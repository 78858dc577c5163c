/**
 * @file The machine's limits, from the small C programs in bench/c compiled at bench time: STREAM-like
 * copy bandwidth and OpenBLAS sgemm. Installs libopenblas-dev with apt when it is missing and we are root.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type ChildRun, type Log, errorLine, runChild } from './child';
import type { BenchRecord } from './records';
import type { Absent } from './report';

export type Limit = 'copy' | 'openblas';

export interface LimitsResult {
  records: BenchRecord[];
  /** The limits that could not be measured (copy bounds W1, OpenBLAS W2), and why. */
  absent: Absent[];
  /** What was done to get OpenBLAS, for the report (e.g. "installed libopenblas-dev with apt"). */
  notes: string[];
}

function compile(source: string, output: string, flags: string[], log: Log): string | undefined {
  const r = spawnSync('gcc', ['-O3', '-march=native', '-Wall', '-o', output, source, ...flags], { encoding: 'utf8' });
  log.write(`## gcc ${path.basename(source)} ${flags.join(' ')}: status ${r.status}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.error) return `cannot run gcc: ${r.error.message}`;
  return r.status === 0 ? undefined : `gcc failed on ${path.basename(source)}: ${errorLine(r.stderr)}`;
}

/** apt-get install of libopenblas-dev (with `apt-get update` when the first try fails); a reason when impossible. */
function installOpenBlas(log: Log, notes: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'libopenblas-dev is not installed and the bench is not running as root (install it with apt-get install libopenblas-dev)';
  const apt = (args: string[]): boolean => {
    process.stderr.write(`[bench] apt-get ${args.join(' ')} ...\n`);
    const r = spawnSync('apt-get', args, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    log.write(`## apt-get ${args.join(' ')}: status ${r.status}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    return r.status === 0;
  };
  if (apt(['install', '-y', 'libopenblas-dev']) || (apt(['update']) && apt(['install', '-y', 'libopenblas-dev']))) {
    notes.push('installed libopenblas-dev with apt-get');
    return undefined;
  }
  return 'libopenblas-dev is not installed and apt-get could not install it (see bench/results/latest.log)';
}

interface LimitOptions {
  which: ReadonlySet<Limit>;
  quick: boolean;
  threads: number[];
  matmulSizes: number[];
  buildDir: string;
  sourceDir: string;
  log: Log;
}

/** Runs one measurement into `out`; returns its failure, labelled, if any. */
function collect(run: ChildRun, out: LimitsResult, label: string): string[] {
  out.records.push(...run.records);
  return run.error ? [`${label}: ${run.error}`] : [];
}

function measureCopy(opts: LimitOptions, out: LimitsResult): void {
  const stream = path.join(opts.buildDir, 'stream');
  const error = compile(path.join(opts.sourceDir, 'stream.c'), stream, ['-fopenmp'], opts.log);
  if (error) return void out.absent.push({ workload: 'W1', library: 'copy', reason: error });
  // Arrays of 256 MiB (64 MiB with --quick) are far beyond any cache here.
  const [mib, reps] = opts.quick ? ['64', '5'] : ['256', '11'];
  const failures = opts.threads.flatMap((t) =>
    collect(runChild(`copy bandwidth, ${t} thread(s)`, stream, [mib, reps], opts.log, { env: { OMP_NUM_THREADS: String(t), OMP_PROC_BIND: 'true' }, timeoutS: 120 }), out, `${t} thread(s)`),
  );
  if (failures.length) out.absent.push({ workload: 'W1', library: 'copy', reason: failures.join('; ') });
}

function measureSgemm(opts: LimitOptions, out: LimitsResult): void {
  const sgemm = path.join(opts.buildDir, 'sgemm');
  const source = path.join(opts.sourceDir, 'sgemm.c');
  const error = compile(source, sgemm, ['-lopenblas'], opts.log) && (installOpenBlas(opts.log, out.notes) ?? compile(source, sgemm, ['-lopenblas'], opts.log));
  if (error) return void out.absent.push({ workload: 'W2', library: 'openblas', reason: error });
  const failures = opts.threads.flatMap((t) =>
    opts.matmulSizes.flatMap((n) => {
      const reps = n >= 2048 ? 5 : n >= 1024 ? 9 : 21;
      return collect(runChild(`OpenBLAS sgemm ${n}, ${t} thread(s)`, sgemm, [String(n), String(reps)], opts.log, { env: { OPENBLAS_NUM_THREADS: String(t) }, timeoutS: 120 }), out, `n=${n}, ${t} thread(s)`);
    }),
  );
  if (failures.length) out.absent.push({ workload: 'W2', library: 'openblas', reason: failures.join('; ') });
}

/** Measures the limits in `which` at each thread count. */
export function measureLimits(opts: LimitOptions): LimitsResult {
  const out: LimitsResult = { records: [], absent: [], notes: [] };
  if (opts.which.size) fs.mkdirSync(opts.buildDir, { recursive: true });
  if (opts.which.has('copy')) measureCopy(opts, out);
  if (opts.which.has('openblas')) measureSgemm(opts, out);
  return out;
}
