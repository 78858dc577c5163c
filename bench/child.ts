/** @file Runs one benchmark program as a child process, logs its output and collects its records. */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { type BenchRecord, type Skip, parseDriverOutput } from './records';

export interface ChildRun {
  records: BenchRecord[];
  skips: Skip[];
  /** Why the program failed (exit code or signal and its last error line); undefined when it succeeded. */
  error?: string;
}

/** Appends everything the children print to one log file, so a failure in the table can be looked up. */
export class Log {
  constructor(readonly file: string) {
    fs.writeFileSync(file, `# npm run bench, ${new Date().toISOString()}\n`);
  }
  write(text: string): void {
    fs.appendFileSync(this.file, text.endsWith('\n') ? text : `${text}\n`);
  }
}

const shorten = (line: string, max = 160): string => (line.length > max ? `${line.slice(0, max - 1)}…` : line);

/** The most telling line of a failed program's output: a JS error, a compiler error, npm's error code, else the last line. */
export function errorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Node\.js v|A complete log of this run/.test(l));
  const pick = lines.find((l) => /^[\w.]*(Error|Exception)\b[^:]*:/.test(l)) ?? lines.find((l) => /\berror:/i.test(l)) ?? lines.find((l) => /FetchError|npm error code/.test(l)) ?? lines.pop() ?? '';
  return shorten(pick);
}

/** Runs `command args` synchronously (benchmarks must not overlap) with `env` added to this process's environment. */
export function runChild(label: string, command: string, args: string[], log: Log, options: { env?: Record<string, string>; timeoutS: number; cwd?: string }): ChildRun {
  const started = performance.now();
  process.stderr.write(`[bench] ${label} ...`);
  const r = spawnSync(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: options.timeoutS * 1000, maxBuffer: 256 << 20 });
  const seconds = (performance.now() - started) / 1000;
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  log.write(`## ${label}: ${command} ${args.join(' ')} ${JSON.stringify(options.env ?? {})} (${seconds.toFixed(1)} s, status ${r.status}, signal ${r.signal})\n${stdout}${stderr}`);
  let error: string | undefined;
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') error = `cannot run ${command}: ${r.error.message}`;
  else if (r.signal) error = r.signal === 'SIGTERM' && seconds >= options.timeoutS - 1 ? `timed out after ${options.timeoutS} s` : `killed by ${r.signal}`;
  else if (r.status !== 0) error = `exited with code ${r.status}: ${errorLine(stderr) || errorLine(stdout) || 'no output'}`;
  process.stderr.write(error ? ` FAILED (${seconds.toFixed(1)} s): ${error}\n` : ` ${seconds.toFixed(1)} s\n`);
  return { ...parseDriverOutput(stdout), error };
}
