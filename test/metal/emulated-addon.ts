/**
 * @file A stand-in for the addon's `metal` object on Linux: pipelines are generated MSL compiled as C++
 * by clang++ against test/msl/metal_stdlib (threadgroups run with real barrier and SIMD-group
 * semantics, test/msl/threadgroup.h), and work is deferred like a GPU queue's: `dispatch` only
 * records launches, `sync` runs them. So lib/backend/metal.ts, plans on a second device, placement and
 * "wait before reading" are all exercised without a Mac (a missing sync reads stale zeros). Launches
 * are checked as native/metal/host.mm checks them, against the limits of an Apple GPU.
 */

import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TypedArray } from '../../lib/core/dtype';
import { MetalAddon, MetalCacheStats, MetalDeviceInfo } from '../../lib/backend/metal';
import { CLANG, isCooperative, kernelCallArgs } from '../msl/harness';

const MSL_DIR = path.join(__dirname, '..', 'msl');
/** The limits the emulated device reports, those of Apple-silicon GPUs. */
const MAX_THREADS_PER_GROUP = 1024;
const MAX_THREADGROUP_MEMORY = 32768;
const SIMD_WIDTH = 32;

interface Launch {
  pipeline: number;
  groups: number;
  groupSize: number;
  memory: number[];
  bufs: ArrayBuffer[];
  offsets: number[];
}

export interface EmulatedMetal extends MetalAddon {
  /** Launches dispatched and not yet run by `sync`. */
  pending(): number;
  /** How many command buffers (`dispatch` calls) were committed. */
  commits(): number;
  /** The MSL of each pipeline, by handle. */
  sources(): readonly string[];
  dispose(): void;
}

/** `apple7`: what the device reports, so the backend generates the SIMD-group forms (default false). */
export function emulatedMetal(device: { apple7?: boolean } = {}): EmulatedMetal {
  const sources: string[] = [];
  const handles = new Map<string, number>();
  const allocated = new WeakSet<ArrayBuffer>();
  let queue: Launch[] = [];
  let commits = 0;
  let memoryHits = 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metalgrad-emulated-metal-'));
  let exe: { path: string; pipelines: number } | undefined;

  /** One program holding every pipeline so far: stdin names launches and buffers, stdout returns them. */
  const build = (): string => {
    if (exe && exe.pipelines === sources.length) return exe.path;
    const parts = ['#include <cstdio>', '#include <vector>', '#include <metal_stdlib>', ''];
    const calls: string[] = [];
    sources.forEach((src, h) => {
      // Each pipeline is its own library on a GPU; here they share one program, so the kernel and
      // what the generator names after it (a matmul's store hook) get the pipeline's name.
      const renamed = src.replace(/\bmetalgrad_kernel/g, `k${h}`);
      parts.push(renamed);
      const args = kernelCallArgs(renamed, `k${h}`, (i) => `b[${i}]`);
      calls.push(`    case ${h}: mgemu::dispatch(groups, size, ${isCooperative(src)}, memory, [&](const mgemu::Thread& t, char** tg) { k${h}(${args.join(', ')}); }); break;`);
    });
    parts.push(
      'int main() {',
      '  long nbuf, nlaunch;',
      '  if (std::fread(&nbuf, sizeof nbuf, 1, stdin) != 1) return 2;',
      '  std::vector<long> bytes(nbuf);',
      '  if (nbuf && std::fread(bytes.data(), sizeof(long), nbuf, stdin) != (size_t)nbuf) return 2;',
      '  std::vector<std::vector<char>> data(nbuf);',
      '  for (long i = 0; i < nbuf; ++i) { data[i].resize(bytes[i]); if (bytes[i] && std::fread(data[i].data(), 1, bytes[i], stdin) != (size_t)bytes[i]) return 2; }',
      '  if (std::fread(&nlaunch, sizeof nlaunch, 1, stdin) != 1) return 2;',
      '  for (long l = 0; l < nlaunch; ++l) {',
      '    long head[5];',
      '    if (std::fread(head, sizeof(long), 5, stdin) != 5) return 2;',
      '    const long p = head[0], nmem = head[3], nbind = head[4];',
      '    const uint groups = (uint)head[1], size = (uint)head[2];',
      '    std::vector<long> bytes_tg(nmem);',
      '    if (nmem && std::fread(bytes_tg.data(), sizeof(long), nmem, stdin) != (size_t)nmem) return 2;',
      '    const std::vector<size_t> memory(bytes_tg.begin(), bytes_tg.end());',
      '    std::vector<long> bind(2 * nbind);',
      '    if (nbind && std::fread(bind.data(), sizeof(long), 2 * nbind, stdin) != (size_t)(2 * nbind)) return 2;',
      '    char* b[31];',
      '    for (long i = 0; i < nbind; ++i) b[i] = data[bind[2 * i]].data() + bind[2 * i + 1];',
      '    switch (p) {',
      ...calls,
      '    default: return 3;',
      '    }',
      '  }',
      '  for (auto& d : data) std::fwrite(d.data(), 1, d.size(), stdout);',
      '  return 0;',
      '}',
    );
    const src = path.join(dir, `pipelines${sources.length}.cc`);
    const out = path.join(dir, `pipelines${sources.length}`);
    fs.writeFileSync(src, parts.join('\n'));
    const args = ['-x', 'c++', '-std=c++17', '-O0', '-Wno-unknown-attributes', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-I', MSL_DIR, src, '-o', out];
    try {
      execFileSync(CLANG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(`emulated Metal: the pipelines failed to compile (${src}):\n${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
    }
    exe = { path: out, pipelines: sources.length };
    return out;
  };

  const run = (launches: Launch[]): void => {
    const bufs = [...new Set(launches.flatMap((l) => l.bufs))];
    const ints: number[] = [bufs.length, ...bufs.map((b) => b.byteLength)];
    const head = Buffer.from(new BigInt64Array(ints.map(BigInt)).buffer);
    const tail: number[] = [launches.length];
    for (const l of launches) {
      tail.push(l.pipeline, l.groups, l.groupSize, l.memory.length, l.bufs.length, ...l.memory);
      l.bufs.forEach((b, i) => tail.push(bufs.indexOf(b), l.offsets[i]));
    }
    const input = Buffer.concat([head, ...bufs.map((b) => Buffer.from(b)), Buffer.from(new BigInt64Array(tail.map(BigInt)).buffer)]);
    const r = spawnSync(build(), [], { input, maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`emulated Metal: the pipelines failed (status ${r.status}):\n${r.stderr.toString()}`);
    let at = 0;
    for (const b of bufs) {
      new Uint8Array(b).set(r.stdout.subarray(at, at + b.byteLength));
      at += b.byteLength;
    }
  };

  const stats = (): MetalCacheStats => ({ compiled: sources.length, archiveHits: 0, memoryHits, archivePath: '', archiveError: '' });
  return {
    open(): MetalDeviceInfo {
      return { name: 'emulated (clang on the CPU)', maxBufferLength: 2 ** 31, apple7: device.apple7 ?? false, archivePath: '', archiveError: '' };
    },
    allocate(bytes: number): ArrayBuffer {
      const b = new ArrayBuffer(bytes);
      allocated.add(b);
      return b;
    },
    compile(source: string, functionName: string): number {
      if (functionName !== 'metalgrad_kernel' || !source.includes(`kernel void ${functionName}(`)) throw new Error(`metalgrad metal compile: no kernel function named ${functionName}`);
      const known = handles.get(source);
      if (known !== undefined) {
        memoryHits++;
        return known;
      }
      handles.set(source, sources.length);
      sources.push(source);
      return sources.length - 1;
    },
    dispatch(code: Int32Array, bufs: TypedArray[]): void {
      let at = 1;
      const launches: Launch[] = [];
      for (let l = 0; l < code[0]; l++) {
        const fail = (what: string): never => {
          throw new Error(`metalgrad metal dispatch: launch ${l} ${what}`);
        };
        const [pipeline, groups, groupSize, simdWidth, nmem] = code.subarray(at, at + 5);
        if (!(pipeline >= 0 && pipeline < sources.length)) fail(`has an unknown pipeline ${pipeline}`);
        if (!(groups >= 0)) fail(`has a negative threadgroup count ${groups}`);
        if (!(groupSize >= 1 && groupSize <= MAX_THREADS_PER_GROUP)) fail(`needs ${groupSize} threads per threadgroup; the pipeline allows 1 to ${MAX_THREADS_PER_GROUP}`);
        if (simdWidth !== 0 && simdWidth !== SIMD_WIDTH) fail(`assumes ${simdWidth}-lane SIMD-groups; the device's are ${SIMD_WIDTH} wide`);
        const memory = Array.from(code.subarray(at + 5, at + 5 + nmem));
        if (memory.some((b) => !(b > 0 && b % 16 === 0)) || memory.reduce((a, b) => a + b, 0) > MAX_THREADGROUP_MEMORY) fail(`asks for threadgroup memory [${memory.join(', ')}]: each a positive multiple of 16 bytes, ${MAX_THREADGROUP_MEMORY} in all`);
        at += 5 + nmem;
        const nbind = code[at];
        const bound = Array.from(code.subarray(at + 1, at + 1 + nbind), (i) => bufs[i]);
        for (const t of bound) if (!t || !allocated.has(t.buffer as ArrayBuffer)) fail('binds a buffer that is not a Metal buffer');
        launches.push({ pipeline, groups, groupSize, memory, bufs: bound.map((t) => t.buffer as ArrayBuffer), offsets: bound.map((t) => t.byteOffset) });
        at += 1 + nbind;
      }
      if (at !== code.length) throw new Error('metalgrad metal dispatch: trailing ints after the last launch');
      queue.push(...launches);
      commits++;
    },
    sync(): void {
      const work = queue;
      queue = [];
      if (work.length > 0) run(work);
    },
    stats,
    pending: () => queue.length,
    commits: () => commits,
    sources: () => sources,
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
