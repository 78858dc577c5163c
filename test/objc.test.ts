/**
 * @file The Objective-C++ Metal host (native/metal/*.mm) is only built on macOS; here clang checks it
 * in syntax-only mode against minimal Foundation/Metal declarations (test/objc/stubs, written from
 * Apple's documentation), so a misspelt selector or a type error fails on Linux before a Mac sees it.
 */

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLANG } from './msl/harness';

const ROOT = path.join(__dirname, '..');
const METAL_DIR = path.join(ROOT, 'native', 'metal');
const SOURCES = fs.readdirSync(METAL_DIR).filter((f) => f.endsWith('.mm'));

/** Node's headers: next to the running node, or node-gyp's download cache. */
function nodeHeaders(): string {
  const version = process.version.slice(1);
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    path.join(os.homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
    path.join(os.homedir(), 'Library', 'Caches', 'node-gyp', version, 'include', 'node'),
  ];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
  if (!found) throw new Error(`test/objc: Node's headers (node_api.h) are not in any of ${candidates.join(', ')}; run \`npx node-gyp install\``);
  return found;
}

function syntaxCheck(file: string, language: 'objective-c++' | 'c++', extra: string[] = []): { ok: boolean; log: string } {
  const args = ['-fsyntax-only', '-x', language, '-std=c++17', '-Wall', '-Wextra', '-Werror', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS',
    ...(language === 'objective-c++' ? ['-fobjc-arc', '-fobjc-runtime=macosx-13'] : []),
    '-I', path.join(__dirname, 'objc', 'stubs'), '-I', require('node-addon-api').include_dir, '-I', nodeHeaders(), '-I', path.join(ROOT, 'native', 'cpu'), ...extra, file];
  const r = spawnSync(CLANG, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${CLANG} is required to check the Objective-C++ sources (install it with \`apt-get install -y clang-19\`, or point METALGRAD_CLANGXX at a clang++): ${r.error.message}`);
  return { ok: r.status === 0, log: `${r.stdout}${r.stderr}` };
}

describe('native/metal under clang -fsyntax-only', () => {
  test('there are Objective-C++ sources, and binding.gyp builds every one of them on macOS', () => {
    expect(SOURCES.length).toBeGreaterThan(0);
    const gyp = fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
    for (const f of SOURCES) expect(gyp).toContain(`native/metal/${f}`);
  });

  test.each(SOURCES)('%s compiles against the declared API subset', (file) => {
    const { ok, log } = syntaxCheck(path.join(METAL_DIR, file), 'objective-c++');
    expect(log).toBe('');
    expect(ok).toBe(true);
  });

  test('addon.cc compiles with the Metal entry points enabled', () => {
    const { ok, log } = syntaxCheck(path.join(ROOT, 'native', 'addon.cc'), 'c++', ['-DMETALGRAD_METAL']);
    expect(log).toBe('');
    expect(ok).toBe(true);
  });

  test('a misspelt selector or a wrong argument type fails the check', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metalgrad-objc-'));
    try {
      for (const f of fs.readdirSync(METAL_DIR)) fs.copyFileSync(path.join(METAL_DIR, f), path.join(dir, f));
      const host = fs.readFileSync(path.join(dir, 'host.mm'), 'utf8');
      expect(host).toContain('[cb waitUntilCompleted]');
      fs.writeFileSync(path.join(dir, 'host.mm'), host.replace('[cb waitUntilCompleted]', '[cb waitUntilComplete]'));
      const misspelt = syntaxCheck(path.join(dir, 'host.mm'), 'objective-c++');
      expect(misspelt.ok).toBe(false);
      expect(misspelt.log).toMatch(/instance method 'waitUntilComplete' not found/);
      expect(host).toContain('[encoder setBuffer:launch.bindings[b].buffer offset:');
      fs.writeFileSync(path.join(dir, 'host.mm'), host.replace('[encoder setBuffer:launch.bindings[b].buffer offset:', '[encoder setBuffer:launch.pipeline offset:'));
      const wrongType = syntaxCheck(path.join(dir, 'host.mm'), 'objective-c++');
      expect(wrongType.ok).toBe(false);
      expect(wrongType.log).toMatch(/error: cannot initialize a parameter of type 'id<MTLBuffer>' with .*MTLComputePipelineState/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
