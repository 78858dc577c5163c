/** @file The examples run end to end on small settings and reach their documented results. */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATA_DIR, main as fashionMnist, parseCommandLine, parseIdx } from '../examples/fashion-mnist';
import { main as iris } from '../examples/iris';
import { main as perExample } from '../examples/per-example-gradients';
import { main as scanRnn } from '../examples/scan-rnn';

describe('examples', () => {
  test('iris: the MLP classifies the held-out flowers with accuracy >= 0.9', () => {
    const lines: string[] = [];
    const result = iris({ epochs: 120, log: (l) => lines.push(l) });
    expect(result.testAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.trainAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.loss).toBeLessThan(0.2);
    expect(lines[0]).toMatch(/^Iris: 150 flowers/);
    expect(lines.filter((l) => l.startsWith('epoch'))).toHaveLength(6);
  });

  test('per-example gradients: vmap(grad) matches a loop, clipping is active, and training fits the data', () => {
    const lines: string[] = [];
    const result = perExample({ epochs: 2, log: (l) => lines.push(l) });
    expect(result.loopDifference).toBeLessThan(1e-5);
    expect(result.clippedFraction).toBeGreaterThan(0);
    expect(result.clippedFraction).toBeLessThan(1);
    expect(result.accuracy).toBeGreaterThan(0.8);
    expect(lines.filter((l) => l.startsWith('epoch'))).toHaveLength(2);
    // The noise is drawn from the seed: the same seed repeats the run, no noise changes it.
    expect(perExample({ epochs: 2, log: () => {} }).loss).toBe(result.loss);
    expect(perExample({ epochs: 2, noiseMultiplier: 0, log: () => {} }).loss).not.toBe(result.loss);
  });

  test('scan-rnn trains an RNN through lax.scan and the loss falls', () => {
    const lines: string[] = [];
    const losses = scanRnn({ steps: 60, seqLen: 12, batch: 8, hidden: 8, log: (l) => lines.push(l) });
    expect(losses).toHaveLength(60);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[59]).toBeLessThan(0.2 * losses[0]);
    expect(lines[0]).toMatch(/Training an RNN/);
    expect(lines.some((l) => /^step\s+60\s+loss/.test(l))).toBe(true);
  });

  // CI installs Debian's dataset-fashion-mnist (.ci/run); without it the test fails with the install
  // hint, unless METALGRAD_SKIP_DATASETS=1 asks to skip tests that need data sets.
  const skipFashion = process.env.METALGRAD_SKIP_DATASETS === '1' && !existsSync(DEFAULT_DATA_DIR);
  if (skipFashion) console.warn(`Skipping the Fashion-MNIST example test: METALGRAD_SKIP_DATASETS=1 and ${DEFAULT_DATA_DIR} is missing (apt-get install dataset-fashion-mnist)`);
  (skipFashion ? test.skip : test)('fashion-mnist: both models learn on a subset, and the loss plot is a well-formed SVG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fashion-mnist-'));
    try {
      const plot = join(dir, 'loss.svg');
      const lines: string[] = [];
      const progress: string[] = [];
      const result = fashionMnist({ epochs: 1, limit: 2000, testLimit: 500, batchSize: 64, plot, log: (l) => lines.push(l), progress: { write: (s) => progress.push(s), isTTY: false } });
      const [mlp, cnn] = result.models;
      expect([mlp.model, cnn.model]).toEqual(['mlp', 'cnn']);
      expect(mlp.testAccuracy).toBeGreaterThanOrEqual(0.6);
      expect(cnn.testAccuracy).toBeGreaterThanOrEqual(0.4);
      expect(mlp.trainExamples).toBe(2000);
      expect(cnn.epochLosses[0]).toBeLessThan(Math.log(10));
      expect(lines[0]).toMatch(/^Fashion-MNIST from .*: 2000 training and 500 test images/);
      // Not a TTY: plain lines at every 10% of each epoch, 0% to 100%.
      expect(progress.filter((p) => p.startsWith('mlp epoch 1/1'))).toHaveLength(11);
      expect(progress.every((p) => p.endsWith('\n') && !p.includes('\r'))).toBe(true);

      const svg = readFileSync(plot, 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      const polylines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"\/>/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
      expect(polylines).toHaveLength(2);
      for (const points of polylines) {
        expect(points.length).toBe(31); // one point per step: 2000 / 64 steps
        expect(points.flat().every((v) => Number.isFinite(v) && v >= 0 && v <= 720)).toBe(true);
      }
      // Every element is closed: self-closing, or matched by its closing tag.
      const opened = [...svg.matchAll(/<([a-z]+)[^>]*?(\/?)>/g)].filter((m) => m[2] !== '/').map((m) => m[1]);
      const closed = [...svg.matchAll(/<\/([a-z]+)>/g)].map((m) => m[1]);
      expect(closed.sort()).toEqual(opened.sort());
      expect(svg).toContain('>mlp (2000 images)</text>');

      // On a TTY the bar is redrawn in place with \r, and the epoch ends with a newline.
      const tty: string[] = [];
      fashionMnist({ model: 'mlp', epochs: 1, limit: 256, testLimit: 100, plot: null, log: () => {}, progress: { write: (s) => tty.push(s), isTTY: true } });
      expect(tty.length).toBeGreaterThanOrEqual(2);
      expect(tty.slice(0, -1).every((p) => p.startsWith('\rmlp epoch 1/1 [') && !p.includes('\n'))).toBe(true);
      expect(tty[tty.length - 2]).toContain('2/2');
      expect(tty[tty.length - 1]).toBe('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fashion-mnist: IDX files are checked, and a missing data set says how to get it', () => {
    const idx = (magic: number, dims: number[], bytes: number) => {
      const b = new Uint8Array(4 + 4 * dims.length + bytes);
      const v = new DataView(b.buffer);
      v.setUint32(0, magic);
      dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
      b.fill(7, 4 + 4 * dims.length);
      return b;
    };
    const { dims, data } = parseIdx(idx(0x801, [5], 5), 1, 'labels');
    expect(dims).toEqual([5]);
    expect([...data]).toEqual([7, 7, 7, 7, 7]);
    expect(() => parseIdx(idx(0x803, [5], 5), 1, 'labels')).toThrow('labels has magic number 0x00000803, expected 0x00000801');
    expect(() => parseIdx(idx(0x801, [5], 4), 1, 'labels')).toThrow('labels has dimensions [5] (5 bytes of data) but holds 4 bytes');
    expect(() => parseIdx(new Uint8Array(6), 1, 'labels')).toThrow('too short for an IDX header');
    expect(() => fashionMnist({ data: '/nonexistent/fashion-mnist', log: () => {}, progress: null, plot: null })).toThrow(/apt-get install dataset-fashion-mnist.*--data DIR/);
    expect(() => fashionMnist({ model: 'resnet' as 'mlp', log: () => {} })).toThrow("option `model` should be 'mlp', 'cnn' or 'both', received \"resnet\"");
    expect(() => fashionMnist({ epochs: 0, log: () => {} })).toThrow('option `epochs` should be a positive integer, received 0');
    expect(parseCommandLine(['--model', 'cnn', '--epochs', '2', '--batch-size', '32', '--lr', '0.01', '--plot', 'a.svg'])).toEqual({
      data: undefined, model: 'cnn', epochs: 2, batchSize: 32, limit: undefined, testLimit: undefined, cnnLimit: undefined, learningRate: 0.01, seed: undefined, plot: 'a.svg',
    });
    expect(parseCommandLine(['-h'])).toBe('help');
    expect(() => parseCommandLine(['--epochs', 'many'])).toThrow("fashion-mnist: --epochs should be a number, received 'many'");
    expect(() => parseCommandLine(['--epoch', '2'])).toThrow("fashion-mnist: Unknown option '--epoch'; --help lists the options");
  });
});
