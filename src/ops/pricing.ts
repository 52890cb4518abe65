import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../config/config.js';
import type { TokenUsage } from './metrics.js';

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Writing the prompt cache (5-minute entries). */
  cache_write: number;
  cache_read: number;
}

const price = (input: number, output: number): ModelPrice => ({ input, output, cache_write: input * 1.25, cache_read: input / 10 });

/**
 * List prices of the current models. An id is matched exactly, then without
 * a date suffix (`-20250929`), then by the longest key it starts with, then
 * by family (`opus`, `sonnet`, `haiku`: the newest model's price), then `*`.
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': price(5, 25),
  'claude-opus-4-1': price(15, 75),
  'claude-opus-4': price(15, 75),
  'claude-sonnet-4-5': price(3, 15),
  'claude-sonnet-4': price(3, 15),
  'claude-3-7-sonnet': price(3, 15),
  'claude-haiku-4-5': price(1, 5),
  'claude-3-5-haiku': price(0.8, 4),
  'claude-3-haiku': price(0.25, 1.25),
  opus: price(5, 25),
  sonnet: price(3, 15),
  haiku: price(1, 5),
  '*': price(3, 15),
};

export const DEFAULT_SANDBOX_USD_PER_HOUR = 0.05;

const FAMILIES = ['opus', 'sonnet', 'haiku'] as const;

/** Prices model tokens and sandbox time. Immutable; built once at start. */
export class PriceTable {
  private readonly models: Record<string, ModelPrice>;

  constructor(
    models: Record<string, ModelPrice> = {},
    private readonly sandboxRates: { default: number; byProvider: Record<string, number> } = { default: DEFAULT_SANDBOX_USD_PER_HOUR, byProvider: {} },
  ) {
    this.models = { ...DEFAULT_MODEL_PRICES, ...models };
  }

  modelPrice(model: string): ModelPrice {
    const m = this.models;
    const exact = m[model] ?? m[model.replace(/-\d{8}$/, '')];
    if (exact) return exact;
    let best: string | undefined;
    for (const key of Object.keys(m)) {
      if (key.startsWith('claude-') && model.startsWith(key) && (!best || key.length > best.length)) best = key;
    }
    if (best) return m[best]!;
    const family = FAMILIES.find((f) => model.includes(f));
    return (family && m[family]) || m['*']!;
  }

  /** Cost of one model request's tokens, USD. */
  tokensUsd(model: string, u: TokenUsage): number {
    const p = this.modelPrice(model);
    return (u.input_tokens * p.input + u.output_tokens * p.output + u.cache_creation_input_tokens * p.cache_write + u.cache_read_input_tokens * p.cache_read) / 1e6;
  }

  sandboxUsdPerHour(provider: string): number {
    return this.sandboxRates.byProvider[provider] ?? this.sandboxRates.default;
  }

  sandboxUsd(provider: string, seconds: number): number {
    return (seconds / 3600) * this.sandboxUsdPerHour(provider);
  }
}

const usd = z.number().finite().min(0);
const priceFileSchema = z
  .object({
    /** Model id (or prefix, family, `*`) → USD per million tokens; cache prices default to 1.25× and 0.1× input. */
    models: z
      .record(z.string().min(1), z.object({ input: usd, output: usd, cache_write: usd.optional(), cache_read: usd.optional() }).strict())
      .default({}),
    /** Provider → USD per sandbox hour; `default` for providers not named. */
    sandbox_usd_per_hour: z.record(z.string().min(1), usd).default({}),
  })
  .strict();

/** Parses a price file's text (see README); throws ConfigError naming the file and every problem. */
export function parsePriceFile(text: string, path: string, defaultSandboxRate = DEFAULT_SANDBOX_USD_PER_HOUR): PriceTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`AGENTHOST_PRICES_FILE: ${path} is not valid JSON: ${(error as Error).message}`]);
  }
  const parsed = priceFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `AGENTHOST_PRICES_FILE: ${path}: ${i.path.join('.')}: ${i.message}`));
  }
  const models: Record<string, ModelPrice> = {};
  for (const [id, p] of Object.entries(parsed.data.models)) {
    models[id] = { input: p.input, output: p.output, cache_write: p.cache_write ?? p.input * 1.25, cache_read: p.cache_read ?? p.input / 10 };
  }
  const { default: fallback, ...byProvider } = parsed.data.sandbox_usd_per_hour;
  return new PriceTable(models, { default: fallback ?? defaultSandboxRate, byProvider });
}

/** The price table: the defaults, overridden by the file at `path` when given. */
export async function loadPriceTable(path: string | undefined, defaultSandboxRate = DEFAULT_SANDBOX_USD_PER_HOUR): Promise<PriceTable> {
  if (!path) return new PriceTable({}, { default: defaultSandboxRate, byProvider: {} });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`AGENTHOST_PRICES_FILE: cannot read ${path}: ${(error as Error).message}`]);
  }
  return parsePriceFile(text, path, defaultSandboxRate);
}
