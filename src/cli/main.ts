import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger } from '../logger.js';

const USAGE = `usage: agenthost <command> [options]

commands:
  serve                          start the API server (AGENTHOST_PORT, AGENTHOST_DATA_DIR, AGENTHOST_DATABASE_URL)
  keys create --workspace NAME [--read-only]
                                 create an API key for a workspace; the key is the last word printed
  keys list [--workspace NAME] [--json]
                                 list API keys (ids, scopes, prefixes, dates; never a key or its hash)
  keys revoke KEY_ID | --workspace NAME --all
                                 revoke a key, or every key of a workspace; refused within 1 s everywhere
  run "TASK" [--dir DIR]         run one task in a sandbox over DIR (default: the current directory)
  usage [--workspace W] [--since DATE] [--json]
                                 what workspaces spent on tokens and sandbox time
  cli status [--json]            Claude Code versions: installed, allowed, newest, which sessions run which
  cli update [--major]           install the newest allowed Claude Code side by side for new sessions
  scripted-model --script FILE [--port N]
                                 serve a scripted Anthropic Messages API for offline tests
`;

/** Entry point of `bin/agenthost`. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await (await import('./serve.js')).serve(rest, loadConfig(process.env));
      case 'keys':
        return await (await import('./keys.js')).keys(rest, loadConfig(process.env));
      case 'run':
        return await (await import('./run.js')).run(rest, loadConfig(process.env));
      case 'usage':
        return await (await import('./usage.js')).usage(rest, loadConfig(process.env));
      case 'cli':
        return await (await import('./cli-versions.js')).cli(rest, loadConfig(process.env));
      case 'scripted-model':
        return await (await import('../testing/scripted-model/cli.js')).runScriptedModelCli(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 1;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

export { createLogger };
