/**
 * @file The other libraries metalgrad is compared with: their packages (bench/package.json, installed
 * on demand, never dependencies of metalgrad), their drivers, and the thread counts each is run with.
 */

import fs from 'node:fs';
import path from 'node:path';
import { type Log, runChild } from './child';
import type { WorkloadId } from './data';
import type { Library } from './records';

export interface LibrarySpec {
  library: Library;
  packages: string[];
  /** Driver file in bench/drivers. */
  driver: string;
  /** Driver runs for the thread counts being measured (1 and all). */
  runs: (threads: number[]) => { threads: number; workloads?: WorkloadId[] }[];
}

export const LIBRARIES: LibrarySpec[] = [
  { library: 'onnxruntime', packages: ['onnxruntime-node'], driver: 'onnxruntime.mjs', runs: (ts) => ts.map((threads) => ({ threads })) },
  {
    library: 'jax-js',
    packages: ['@jax-js/jax'],
    driver: 'jax-js.mjs',
    // Workers only pay off for the big workloads; W4/W5 (dispatch overhead) run single-threaded.
    runs: (ts) => ts.map((threads) => (threads === 1 ? { threads } : { threads, workloads: ['W1', 'W2', 'W3'] })),
  },
  // The wasm backend has no threads in Node (it needs cross-origin-isolated SharedArrayBuffer workers).
  { library: 'tfjs-wasm', packages: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'], driver: 'tfjs-wasm.mjs', runs: () => [{ threads: 1 }] },
];

const packageJson = (benchDir: string, pkg: string): string => path.join(benchDir, 'node_modules', pkg, 'package.json');

export interface Installed {
  /** Installed version of every package found. */
  versions: Record<string, string>;
  /** Why each library that cannot run is absent. */
  unavailable: Map<Library, string>;
}

/** Installs bench/package.json's lock file with `npm ci` when a package is missing (no install scripts). */
export function ensureInstalled(benchDir: string, log: Log): Installed {
  const all = LIBRARIES.flatMap((l) => l.packages);
  let installError: string | undefined;
  if (!all.every((p) => fs.existsSync(packageJson(benchDir, p)))) {
    // --ignore-scripts: onnxruntime-node's install script downloads a GPU provider; its CPU binaries ship in the package.
    const run = runChild('installing the comparison libraries (npm ci in bench/)', 'npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], log, {
      cwd: benchDir,
      env: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
      timeoutS: 600,
    });
    installError = run.error;
  }
  const versions: Record<string, string> = {};
  const unavailable = new Map<Library, string>();
  for (const spec of LIBRARIES) {
    for (const pkg of spec.packages) {
      const file = packageJson(benchDir, pkg);
      if (fs.existsSync(file)) versions[pkg] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
      else if (!unavailable.has(spec.library)) unavailable.set(spec.library, `${pkg} is not installed: npm ci in bench/ ${installError ?? 'did not provide it'}`);
    }
  }
  return { versions, unavailable };
}
