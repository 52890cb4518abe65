import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../config/config.js';
import { PriceTable, parsePriceFile } from './pricing.js';
import { sessionCost, addCost } from './cost.js';

const usage = (input: number, output: number, write = 0, read = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: write,
  cache_read_input_tokens: read,
});

describe('PriceTable', () => {
  const table = new PriceTable();

  it('matches exactly, without a date suffix, by longest prefix, by family, then *', () => {
    assert.equal(table.modelPrice('claude-sonnet-4-5').input, 3);
    assert.equal(table.modelPrice('claude-opus-4-1-20250805').input, 15);
    assert.equal(table.modelPrice('claude-opus-4-5-20251101').input, 5);
    assert.equal(table.modelPrice('claude-3-5-haiku-latest').input, 0.8);
    assert.equal(table.modelPrice('claude-haiku-5').input, 1, 'an unknown haiku costs what the newest haiku costs');
    assert.equal(table.modelPrice('mystery-model').input, 3);
  });

  it('prices tokens per million, cache writes at 1.25× and reads at 0.1× input', () => {
    // 1M input at $3, 1M output at $15, 1M cache writes at $3.75, 1M cache reads at $0.30
    assert.equal(table.tokensUsd('claude-sonnet-4-5', usage(1e6, 1e6, 1e6, 1e6)), 3 + 15 + 3.75 + 0.3);
    assert.equal(table.tokensUsd('claude-sonnet-4-5', usage(1000, 200)), 0.006);
  });

  it('sandbox time costs $0.05 an hour by default', () => {
    assert.equal(table.sandboxUsd('bwrap', 3600), 0.05);
    assert.equal(table.sandboxUsd('process', 36), 0.0005);
  });

  it('a price file overrides models and per-provider rates', () => {
    const t = parsePriceFile(
      JSON.stringify({ models: { 'claude-sonnet-4-5': { input: 2, output: 10, cache_read: 0.1 } }, sandbox_usd_per_hour: { bwrap: 0.2, default: 0.01 } }),
      'prices.json',
    );
    assert.deepEqual(t.modelPrice('claude-sonnet-4-5-20250929'), { input: 2, output: 10, cache_write: 2.5, cache_read: 0.1 });
    assert.equal(t.modelPrice('claude-haiku-4-5').input, 1, 'models the file does not name keep their defaults');
    assert.equal(t.sandboxUsdPerHour('bwrap'), 0.2);
    assert.equal(t.sandboxUsdPerHour('process'), 0.01);
  });

  it('a bad price file is a ConfigError that names the file and every problem', () => {
    assert.throws(() => parsePriceFile('{', 'p.json'), (e: unknown) => e instanceof ConfigError && /p\.json is not valid JSON/.test(e.message));
    assert.throws(
      () => parsePriceFile(JSON.stringify({ models: { x: { input: -1, output: 'a' } }, extra: 1 }), 'p.json'),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 3 && e.problems.every((p) => p.startsWith('AGENTHOST_PRICES_FILE: p.json')),
    );
  });
});

describe('session cost', () => {
  it('adds recorded cost and a live sandbox’s time up to now', () => {
    let body = addCost({ runtime: { sandbox_state: 'live' } }, { tokens_usd: 0.01 }, { since: '2025-01-01T00:00:00.000Z', usd_per_hour: 0.36 });
    body = addCost(body, { tokens_usd: 0.005, sandbox_usd: 0.001 });
    assert.deepEqual(sessionCost(body, new Date('2025-01-01T00:00:10.000Z')), { tokens_usd: 0.015, sandbox_usd: 0.002, total_usd: 0.017 });
    body = addCost(body, { sandbox_usd: 0.001 }, null);
    assert.deepEqual(sessionCost(body, new Date('2025-01-02T00:00:00.000Z')), { tokens_usd: 0.015, sandbox_usd: 0.002, total_usd: 0.017 });
    assert.deepEqual(sessionCost({}, new Date()), { tokens_usd: 0, sandbox_usd: 0, total_usd: 0 });
  });
});
