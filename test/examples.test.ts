/** @file The examples run in CI on small settings: each must print progress and actually learn. */

import { main as scanRnn } from '../examples/scan-rnn';

describe('examples', () => {
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
