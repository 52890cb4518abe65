import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino redacts wherever they appear in a log object. Credentials reach
 * logs only by accident (a header object, a config dump); this is the net.
 */
export const REDACT_PATHS = [
  'apiKey',
  'token',
  'authorization',
  'password',
  'upstreamApiKey',
  'upstreamAuthToken',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.password',
  'headers.authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'env.ANTHROPIC_API_KEY',
  'env.ANTHROPIC_AUTH_TOKEN',
  '*.env.ANTHROPIC_API_KEY',
  '*.env.ANTHROPIC_AUTH_TOKEN',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'gatewayToken',
  '*.gatewayToken',
  'metricsToken',
  '*.metricsToken',
  'secret',
  '*.secret',
];

/**
 * Credential shapes scrubbed from every line whatever field holds them
 * (an error message, a stderr excerpt): Anthropic keys and agenthost keys.
 */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/sk-ant-[A-Za-z0-9_-]{8,}/g, 'sk-ant-[redacted]'],
  [/sk-ah-[A-Za-z0-9_-]{8,}/g, 'sk-ah-[redacted]'],
];

/**
 * A destination that replaces known secret values (the upstream credential,
 * the metrics token) and credential shapes in each line before it is
 * written: the net under the path-based redaction.
 */
export function scrubbingDestination(destination: NodeJS.WritableStream, secrets: ReadonlyArray<string | undefined>): { write(line: string): boolean } {
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return {
    write(line: string): boolean {
      let out = line;
      for (const value of values) if (out.includes(value)) out = out.split(value).join('[redacted]');
      for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
      return destination.write(out);
    },
  };
}

export function createLogger(options: {
  level: string;
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
  /** Values never to be written, wherever they appear (the upstream credential, tokens). */
  secrets?: ReadonlyArray<string | undefined>;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'agenthost' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    scrubbingDestination(options.destination ?? process.stderr, options.secrets ?? []),
  );
}

/** A logger that writes nothing, for tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
