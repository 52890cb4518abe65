import type { Config } from '../config/config.js';
import { createLogger } from '../logger.js';
import { startServer } from '../server.js';

export async function serve(_argv: string[], config: Readonly<Config>): Promise<number> {
  const log = createLogger({ level: config.logLevel, secrets: [config.upstream.apiKey, config.upstream.authToken, config.metricsToken] });
  if (!config.upstream.apiKey && !config.upstream.authToken) {
    log.warn('neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set: sessions will fail to reach the model');
  }
  const server = await startServer(config, log);
  process.stdout.write(`agenthost listening on ${server.url}\npreviews served on ${server.previewsUrl}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await server.close();
  return 0;
}
