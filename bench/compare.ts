/**
 * @file Cross-library result checks: another library's sampled outputs must match metalgrad's for the
 * same inputs, within float32 tolerances that still catch a library computing something else.
 */

import type { WorkloadId } from './data';
import type { BenchRecord } from './records';
import type { Result } from './report';

/** Allowed |a − b| is `rtol · max|reference| + atol`: float32 rounding, libm-level tanh differences, sum order. */
const TOLERANCE: Record<WorkloadId, { rtol: number; atol: number }> = {
  W1: { rtol: 1e-5, atol: 1e-6 },
  W2: { rtol: 1e-4, atol: 1e-5 }, // reductions over up to 2048 products, any summation order
  W3: { rtol: 1e-3, atol: 1e-5 }, // three training steps: losses drift with the gradient sums' order
  W4: { rtol: 1e-5, atol: 1e-6 },
  W5: { rtol: 1e-5, atol: 1e-6 },
};

export interface CheckResult {
  ok: boolean;
  /** Empty when ok; otherwise the first mismatch with both values. */
  detail: string;
}

export function compareChecks(workload: WorkloadId, reference: readonly number[], actual: readonly number[]): CheckResult {
  if (reference.length !== actual.length) return { ok: false, detail: `${actual.length} sampled values, expected ${reference.length}` };
  const { rtol, atol } = TOLERANCE[workload];
  const tol = rtol * reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0) + atol;
  for (let i = 0; i < reference.length; i++) {
    const diff = Math.abs(actual[i] - reference[i]);
    if (!(diff <= tol)) return { ok: false, detail: `sample ${i} is ${actual[i]}, metalgrad has ${reference[i]} (|diff| ${diff.toPrecision(3)} > ${tol.toPrecision(3)})` };
  }
  return { ok: true, detail: '' };
}

/** Marks each library result 'ok' or 'MISMATCH' against metalgrad's single-threaded result for the same workload and size. */
export function checkResults(records: BenchRecord[]): Result[] {
  return records.map((record) => {
    const { check, ...r } = record;
    if (r.library === 'copy' || r.library === 'openblas') return r;
    const same = records.filter((x) => x.library === 'metalgrad' && x.workload === r.workload && x.size === r.size);
    const ref = same.find((x) => x.threads === 1) ?? same[0];
    if (ref === record) return { ...r, check: 'reference' };
    if (!ref?.check) return { ...r, check: 'unchecked: no metalgrad result' };
    if (!check) return { ...r, check: 'unchecked: the driver reported no sampled outputs' };
    const c = compareChecks(r.workload, ref.check, check);
    return { ...r, check: c.ok ? 'ok' : `MISMATCH: ${c.detail}` };
  });
}
