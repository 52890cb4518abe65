import { describe, expect, it } from 'vitest';
import { age, tokens, usageTotals, usd } from './format';
import { niceScale, usagePerDay } from './usage';

const span = (at: string, input: number, output: number) => ({ processed_at: at, model_usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: 0 } });

describe('usagePerDay', () => {
  const today = new Date('2026-03-10T15:00:00Z');

  it('fills every day of the window and sums tokens by the day of each request', () => {
    const days = usagePerDay(
      [
        { id: 'a', created_at: '2026-03-08T23:00:00Z', costUsd: undefined, spans: [span('2026-03-08T23:30:00Z', 100, 10), span('2026-03-09T00:10:00Z', 50, 5)] },
        { id: 'b', created_at: '2026-03-10T01:00:00Z', costUsd: undefined, spans: [span('2026-03-10T01:00:00Z', 7, 3)] },
      ],
      4,
      today,
    );
    expect(days).toEqual([
      { day: '2026-03-07', input: 0, output: 0, usd: undefined },
      { day: '2026-03-08', input: 100, output: 10, usd: undefined },
      { day: '2026-03-09', input: 50, output: 5, usd: undefined },
      { day: '2026-03-10', input: 7, output: 3, usd: undefined },
    ]);
  });

  it('spreads a session’s cost over its days in proportion to tokens', () => {
    const days = usagePerDay(
      [{ id: 'a', created_at: '2026-03-09T10:00:00Z', costUsd: 1, spans: [span('2026-03-09T10:00:00Z', 300, 0), span('2026-03-10T10:00:00Z', 100, 0)] }],
      2,
      today,
    );
    expect(days.map((d) => d.usd)).toEqual([0.75, 0.25]);
  });

  it('puts the cost of a session without tokens on its creation day', () => {
    const days = usagePerDay([{ id: 'a', created_at: '2026-03-10T10:00:00Z', costUsd: 0.5, spans: [] }], 2, today);
    expect(days.map((d) => d.usd)).toEqual([undefined, 0.5]);
  });

  it('ignores requests outside the window', () => {
    const days = usagePerDay([{ id: 'a', created_at: '2025-01-01T00:00:00Z', costUsd: undefined, spans: [span('2025-01-01T00:00:00Z', 9, 9)] }], 2, today);
    expect(days.every((d) => d.input === 0 && d.output === 0)).toBe(true);
  });
});

describe('niceScale', () => {
  it('rounds up to a readable step', () => {
    expect(niceScale(87)).toEqual({ top: 100, step: 25 });
    expect(niceScale(28_638)).toEqual({ top: 30_000, step: 10_000 });
    expect(niceScale(0)).toEqual({ top: 1, step: 0.25 });
  });
});

describe('format', () => {
  it('formats tokens, dollars and ages', () => {
    expect(tokens(999)).toBe('999');
    expect(tokens(28_638)).toBe('29k');
    expect(tokens(1_500)).toBe('1.5k');
    expect(usd(0.086281)).toBe('$0.09');
    expect(usd(0.0042)).toBe('$0.0042');
    expect(usd(0.00001)).toBe('<$0.0001');
    expect(age('2026-01-01T00:00:00Z', Date.parse('2026-01-01T02:30:00Z'))).toBe('2h');
    expect(usageTotals({ input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 3, cache_creation: { ephemeral_5m_input_tokens: 4 } })).toEqual({ input: 8, output: 2, total: 10 });
  });
});
