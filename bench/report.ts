/**
 * @file The benchmark's output: the one table (figures, ratios to the machine's limits and to metalgrad,
 * result checks, absent rows with reasons) and the issue's targets, met or not.
 */

import { type Unit, WORKLOADS, type WorkloadId } from './data';
import type { BenchRecord, Library } from './records';

/** A record as reported: its sampled outputs replaced by the result of the cross-library check. */
export interface Result extends Omit<BenchRecord, 'check'> {
  /** 'reference' (metalgrad, 1 thread), 'ok', 'MISMATCH: …', or 'unchecked: …'; none for the machine's limits. */
  check?: string;
}

export interface Absent {
  workload: WorkloadId;
  library: Library;
  reason: string;
}

export interface Target {
  workload: WorkloadId;
  target: string;
  reached: string;
  /** null when it could not be evaluated (missing figure, or sizes changed by --quick). */
  met: boolean | null;
}

const LIBRARY_ORDER: Library[] = ['copy', 'openblas', 'metalgrad', 'onnxruntime', 'jax-js', 'tfjs-wasm'];
const higherIsBetter = (unit: Unit): boolean => unit === 'GB/s' || unit === 'GFLOP/s';
/** How much faster `a` is than `b` (> 1: faster), from medians. */
const speedup = (a: Result, b: Result): number => (higherIsBetter(a.unit) ? a.median / b.median : b.median / a.median);
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number): string => `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`;

function find(results: Result[], library: Library, workload: WorkloadId, threads: number, size?: number): Result | undefined {
  return results.find((r) => r.library === library && r.workload === workload && r.threads === threads && r.size === size);
}

/** The ratio cell: limits are limits; metalgrad against its limit; other libraries against metalgrad. */
function ratioCell(r: Result, results: Result[]): string {
  if (r.library === 'copy' || r.library === 'openblas') return `machine limit${r.note ? ` (${r.note})` : ''}`;
  if (r.library === 'metalgrad') {
    const limit = r.workload === 'W1' ? 'copy' : r.workload === 'W2' ? 'openblas' : undefined;
    const l = limit && find(results, limit, r.workload, r.threads, r.size);
    return l ? `${pct(r.median / l.median)} of ${limit === 'copy' ? 'copy bandwidth' : 'OpenBLAS'} (${l.threads} thr)` : '';
  }
  const mg = find(results, 'metalgrad', r.workload, r.threads, r.size) ?? results.find((x) => x.library === 'metalgrad' && x.workload === r.workload && x.size === r.size);
  if (!mg) return `no metalgrad figure to compare${r.note ? `; ${r.note}` : ''}`;
  const s = speedup(mg, r);
  const verdict = s >= 1 ? `metalgrad ${fmt(s)}x faster` : `metalgrad ${fmt(1 / s)}x SLOWER`;
  return `${verdict} (vs ${mg.threads} thr)${r.note ? `; ${r.note}` : ''}`;
}

const checkCell = (check: string | undefined): string => (check === undefined ? '' : check === 'ok' ? 'yes' : check === 'reference' ? check : check.startsWith('MISMATCH') ? '!! NO !!' : 'unchecked');

/** One table of every figure and every absent (library, workload), in workload order. */
export function formatTable(results: Result[], absent: Absent[]): string {
  const header = ['workload', 'size', 'library', 'threads', 'median', 'best', 'unit', 'same result', 'ratio'];
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    const sizes = [...new Set(results.filter((r) => r.workload === w).map((r) => r.size))].sort((a, b) => (a ?? 0) - (b ?? 0));
    for (const size of sizes) {
      const group = results.filter((r) => r.workload === w && r.size === size).sort((a, b) => LIBRARY_ORDER.indexOf(a.library) - LIBRARY_ORDER.indexOf(b.library) || a.threads - b.threads);
      for (const r of group) rows.push([w, size === undefined ? '' : String(size), r.library, String(r.threads), fmt(r.median), fmt(r.best), r.unit, checkCell(r.check), ratioCell(r, results)]);
    }
    for (const a of absent.filter((x) => x.workload === w)) rows.push([w, '', a.library, '', '-', '-', '', '', `absent: ${a.reason}`]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === header.length - 1 ? 0 : r[i].length))));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join(' | ')}`.trimEnd();
  const mismatches = results.filter((r) => r.check?.startsWith('MISMATCH'));
  const out = [line(header), line(widths.map((w, i) => (i === widths.length - 1 ? '---' : '-'.repeat(w)))), ...rows.map(line)];
  for (const r of mismatches) out.push(`!! RESULT MISMATCH: ${r.library} ${r.workload}${r.size ? ` ${r.size}` : ''} (${r.threads} thr) ${r.check?.slice('MISMATCH: '.length)}`);
  return out.join('\n');
}

/** The issue's targets for metalgrad, at `threads` = all threads (the default a user gets). */
export function evaluateTargets(results: Result[], threads: number[], quick: boolean): Target[] {
  const all = Math.max(...threads);
  const targets: Target[] = [];
  const add = (workload: WorkloadId, target: string, value: () => [string, boolean] | undefined, fullSizeOnly = false): void => {
    if (fullSizeOnly && quick) return void targets.push({ workload, target, reached: 'not evaluated: --quick uses smaller sizes', met: null });
    const v = value();
    targets.push(v ? { workload, target, reached: v[0], met: v[1] } : { workload, target, reached: 'no figure (see the table)', met: null });
  };
  add('W1', `>= 85% of copy bandwidth, ${all} thr`, () => {
    const mg = find(results, 'metalgrad', 'W1', all);
    const copy = find(results, 'copy', 'W1', all);
    return mg && copy ? [`${fmt(mg.median)} GB/s = ${pct(mg.median / copy.median)} of ${fmt(copy.median)} GB/s`, mg.median >= 0.85 * copy.median] : undefined;
  }, true);
  for (const n of [1024, 2048]) {
    for (const t of threads) {
      add('W2', `>= 90% of OpenBLAS at ${n}, ${t} thr`, () => {
        const mg = find(results, 'metalgrad', 'W2', t, n);
        const blas = find(results, 'openblas', 'W2', t, n);
        return mg && blas ? [`${fmt(mg.median)} GFLOP/s = ${pct(mg.median / blas.median)} of ${fmt(blas.median)} GFLOP/s`, mg.median >= 0.9 * blas.median] : undefined;
      }, true);
    }
  }
  const atMost = (workload: WorkloadId, limit: number, unit: string): void =>
    add(workload, `<= ${limit} ${unit}, ${all} thr`, () => {
      const mg = find(results, 'metalgrad', workload, all);
      return mg ? [`${fmt(mg.median)} ${unit}`, mg.median <= limit] : undefined;
    });
  atMost('W3', 3, 'ms');
  atMost('W4', 3, 'us');
  atMost('W5', 1.5, 'us');
  return targets;
}

export function formatTargets(targets: Target[]): string {
  const mark = (m: boolean | null): string => (m === null ? '?  ' : m ? 'MET' : 'NOT MET');
  return ['Targets (issue 4), metalgrad medians:', ...targets.map((t) => `  ${t.workload} ${t.target.padEnd(36)} ${mark(t.met).padEnd(7)} ${t.reached}`)].join('\n');
}
