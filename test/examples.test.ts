/** @file The examples run end to end on small settings and reach their documented results. */

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
});
