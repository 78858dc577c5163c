/**
 * @file The machine's limits, from the small C programs in bench/c compiled at bench time: STREAM-like
 * copy bandwidth and OpenBLAS sgemm. Installs libopenblas-dev with apt when it is missing and we are root.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type ChildRun, type Log, errorLine, runChild } from './child';
import type { BenchRecord } from './records';

export interface LimitsResult {
  records: BenchRecord[];
  /** Why a limit is missing ('copy' or 'openblas' → reason). */
  missing: Map<'copy' | 'openblas', string>;
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

function collect(run: ChildRun, into: BenchRecord[], label: string, missing: string[]): void {
  into.push(...run.records);
  if (run.error) missing.push(`${label}: ${run.error}`);
}

export function measureLimits(opts: { quick: boolean; threads: number[]; matmulSizes: number[]; buildDir: string; sourceDir: string; log: Log }): LimitsResult {
  const { log, buildDir, sourceDir } = opts;
  const records: BenchRecord[] = [];
  const missing = new Map<'copy' | 'openblas', string>();
  const notes: string[] = [];
  fs.mkdirSync(buildDir, { recursive: true });

  const stream = path.join(buildDir, 'stream');
  const streamError = compile(path.join(sourceDir, 'stream.c'), stream, ['-fopenmp'], log);
  if (streamError) missing.set('copy', streamError);
  else {
    const failures: string[] = [];
    // Arrays of 256 MiB (64 MiB with --quick) are far beyond any cache here.
    const [mib, reps] = opts.quick ? ['64', '5'] : ['256', '11'];
    for (const t of opts.threads) collect(runChild(`copy bandwidth, ${t} thread(s)`, stream, [mib, reps], log, { env: { OMP_NUM_THREADS: String(t), OMP_PROC_BIND: 'true' }, timeoutS: 120 }), records, `${t} thread(s)`, failures);
    if (failures.length) missing.set('copy', failures.join('; '));
  }

  const sgemm = path.join(buildDir, 'sgemm');
  const sgemmSource = path.join(sourceDir, 'sgemm.c');
  let blasError = compile(sgemmSource, sgemm, ['-lopenblas'], log);
  if (blasError) {
    blasError = installOpenBlas(log, notes) ?? compile(sgemmSource, sgemm, ['-lopenblas'], log);
  }
  if (blasError) missing.set('openblas', blasError);
  else {
    const failures: string[] = [];
    for (const t of opts.threads) {
      for (const n of opts.matmulSizes) {
        const reps = n >= 2048 ? 5 : n >= 1024 ? 9 : 21;
        collect(runChild(`OpenBLAS sgemm ${n}, ${t} thread(s)`, sgemm, [String(n), String(reps)], log, { env: { OPENBLAS_NUM_THREADS: String(t) }, timeoutS: 120 }), records, `n=${n}, ${t} thread(s)`, failures);
      }
    }
    if (failures.length) missing.set('openblas', failures.join('; '));
  }
  return { records, missing, notes };
}
