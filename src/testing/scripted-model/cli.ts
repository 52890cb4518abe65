/**
 * `agenthost scripted-model --script FILE [--port N] [--host H]`: serves a
 * script file (format in script.ts and README.md) until SIGINT/SIGTERM.
 * Prints the base URL on stdout once listening, so a caller can read one line
 * and export it as ANTHROPIC_BASE_URL.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseScript } from './script.js';
import { startScriptedModel } from './server.js';

const USAGE = 'usage: agenthost scripted-model --script FILE [--port N] [--host HOST]';

/** Resolves with the exit code once the server has stopped. */
export async function runScriptedModelCli(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): Promise<number> {
  let values: { script?: string; port?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        script: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.script) {
    io.stderr.write(`--script is required\n${USAGE}\n`);
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.stderr.write(`--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}\n`);
    return 2;
  }

  let script;
  try {
    script = parseScript(JSON.parse(await readFile(values.script, 'utf8')));
  } catch (error) {
    io.stderr.write(`${values.script}: ${(error as Error).message}\n`);
    return 1;
  }

  const model = await startScriptedModel({ script, port, host: values.host ?? '127.0.0.1' });
  io.stdout.write(`${model.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await model.close();
  return 0;
}
