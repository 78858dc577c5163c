/**
 * @file `npm run bench`: measures the machine's limits, metalgrad (1 thread and all threads) and the
 * other libraries on workloads W1–W5, each in its own child process; checks every library's results
 * against metalgrad's; prints one table and the targets; writes bench/results/latest.json.
 * Usage: npm run bench [-- --quick] [-- --libraries=copy,openblas,onnxruntime,jax-js,tfjs-wasm]
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log, runChild } from './child';
import { checkResults } from './compare';
import { SIZES, WORKLOADS, type WorkloadId } from './data';
import { LIBRARIES, ensureInstalled } from './libraries';
import { measureLimits } from './limits';
import type { BenchRecord } from './records';
import { type Absent, type Result, evaluateTargets, formatTable, formatTargets } from './report';

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');
const RESULTS = path.join(BENCH, 'results');
const SELECTABLE = ['copy', 'openblas', ...LIBRARIES.map((l) => l.library)];

const USAGE = `usage: npm run bench [-- --quick] [-- --libraries=${SELECTABLE.join(',')}]
  --quick       smaller W1/W2 sizes and fewer repetitions (a smoke run; W1/W2 targets are not judged)
  --libraries   measure only these limits and libraries (metalgrad always runs)`;

function parseArgs(argv: string[]): { quick: boolean; selected: Set<string>; help: boolean } {
  let quick = false;
  let selected = new Set(SELECTABLE);
  for (const a of argv) {
    if (a === '--help' || a === '-h') return { quick, selected, help: true };
    if (a === '--quick') quick = true;
    else if (a.startsWith('--libraries=')) {
      const names = a.slice('--libraries='.length).split(',').filter(Boolean);
      const unknown = names.filter((n) => !SELECTABLE.includes(n));
      if (unknown.length) throw new Error(`bench: argument \`--libraries\` must list names among ${SELECTABLE.join(', ')}, received ${unknown.join(', ')}`);
      selected = new Set(names);
    } else throw new Error(`bench: unknown argument \`${a}\`\n${USAGE}`);
  }
  return { quick, selected, help: false };
}

function gitCommit(): string | undefined {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

interface Collected {
  records: BenchRecord[];
  absent: Absent[];
}

/** metalgrad through its public API from dist/, in one child per thread count asked for in METALGRAD_NUM_THREADS. */
function runMetalgrad(threads: number[], flags: string[], log: Log): Collected {
  const out: Collected = { records: [], absent: [] };
  for (const t of threads) {
    const run = runChild(`metalgrad, METALGRAD_NUM_THREADS=${t}`, process.execPath, [path.join(__dirname, 'drivers', 'metalgrad.js'), ...flags], log, { env: { METALGRAD_NUM_THREADS: String(t) }, timeoutS: 600 });
    out.records.push(...run.records.map((r) => ({ ...r, threads: t })));
    if (run.error) for (const w of WORKLOADS.filter((w) => !run.records.some((r) => r.workload === w))) out.absent.push({ workload: w, library: 'metalgrad', reason: `${t} thr: ${run.error}` });
  }
  return out;
}

/** The selected other libraries, installed on demand into bench/node_modules, each driver once per thread count it supports. */
function runLibraries(selected: Set<string>, threads: number[], flags: string[], log: Log): Collected & { versions: Record<string, string> } {
  const wanted = LIBRARIES.filter((l) => selected.has(l.library));
  const out: Collected = { records: [], absent: [] };
  if (!wanted.length) return { ...out, versions: {} };
  const installed = ensureInstalled(BENCH, log);
  for (const spec of wanted) {
    // A workload with no figure at any thread count gets one absent row: why the library cannot run it, or how it failed.
    const reported = new Set<WorkloadId>();
    const markAbsent = (workload: WorkloadId, reason: string): void => {
      if (reported.has(workload)) return;
      reported.add(workload);
      out.absent.push({ workload, library: spec.library, reason });
    };
    const unavailable = installed.unavailable.get(spec.library);
    if (unavailable) {
      for (const w of WORKLOADS) markAbsent(w, unavailable);
      continue;
    }
    for (const { threads: t, workloads } of spec.runs(threads)) {
      const args = [path.join(BENCH, 'drivers', spec.driver), `--threads=${t}`, ...flags, ...(workloads ? [`--workloads=${workloads.join(',')}`] : [])];
      const run = runChild(`${spec.library}, ${t} thread(s)`, process.execPath, args, log, { timeoutS: 600 });
      out.records.push(...run.records);
      for (const r of run.records) reported.add(r.workload);
      for (const s of run.skips) markAbsent(s.workload, s.reason);
      if (run.error) for (const w of workloads ?? WORKLOADS) markAbsent(w, `${t} thr: ${run.error}`);
    }
  }
  return { ...out, versions: installed.versions };
}

function main(): void {
  const { quick, selected, help } = parseArgs(process.argv.slice(2));
  if (help) return void console.log(USAGE);
  fs.mkdirSync(RESULTS, { recursive: true });
  const log = new Log(path.join(RESULTS, 'latest.log'));
  const all = os.availableParallelism();
  const threads = all > 1 ? [1, all] : [1];
  const sizes = quick ? SIZES.quick : SIZES.full;
  const flags = quick ? ['--quick'] : [];
  const started = new Date();
  const loadBefore = os.loadavg();

  const which = new Set((['copy', 'openblas'] as const).filter((l) => selected.has(l)));
  const limits = measureLimits({ which, quick, threads, matmulSizes: sizes.w2, buildDir: path.join(BENCH, 'build'), sourceDir: path.join(BENCH, 'c'), log });
  const metalgrad = runMetalgrad(threads, flags, log);
  const libraries = runLibraries(selected, threads, flags, log);

  const results = checkResults([...limits.records, ...metalgrad.records, ...libraries.records]);
  const absent = [...limits.absent, ...metalgrad.absent, ...libraries.absent];
  const targets = evaluateTargets(results, threads, quick);
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    logicalCpus: os.cpus().length,
    availableParallelism: all,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    metalgrad: { version: (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version, commit: gitCommit() },
    libraries: libraries.versions,
    date: started.toISOString(),
    seconds: Math.round((Date.now() - started.getTime()) / 1000),
    loadAverage: { before: loadBefore, after: os.loadavg() },
    quick,
    notes: limits.notes,
  };
  const jsonFile = path.join(RESULTS, 'latest.json');
  fs.writeFileSync(jsonFile, `${JSON.stringify({ machine, results, absent, targets }, null, 2)}\n`);

  const load = (l: number[]): string => l.map((v) => v.toFixed(1)).join(' ');
  const mlp = `${sizes.w3.dims.join('-')}, batch ${sizes.w3.batch}`;
  console.log(`metalgrad ${machine.metalgrad.version}${machine.metalgrad.commit ? ` (${machine.metalgrad.commit})` : ''} on ${machine.cpu}, ${all} threads, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}${quick ? ', --quick sizes' : ''}`);
  console.log(`load average ${load(loadBefore)} before, ${load(machine.loadAverage.after)} after; ${machine.seconds} s${machine.notes.length ? `; ${machine.notes.join('; ')}` : ''}`);
  console.log(`W1 jitted tanh chain on ${sizes.w1 / 2 ** 20}Mi f32 (GB/s at 8 B/elem); W2 square matmul (GFLOP/s); W3 MLP ${mlp} training step; W4 jitted 10 ops on ${sizes.w4} f32 + read-back, per call; W5 eager add of ${sizes.w5.n} f32, per op.`);
  console.log('"same result": sampled outputs equal metalgrad\'s (1 thread) for the same inputs. "ratio": metalgrad vs the machine limit, or metalgrad\'s speed vs that library (medians).\n');
  console.log(formatTable(results, absent));
  console.log(`\n${formatTargets(targets)}\n\nWritten ${path.relative(ROOT, jsonFile)}; children's output in ${path.relative(ROOT, log.file)}.`);
  if (results.some((r) => r.check?.startsWith('MISMATCH'))) process.exitCode = 1;
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 2;
}
