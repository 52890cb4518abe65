import { after } from 'node:test';
import { silentLogger } from '../../logger.js';
import { runSandboxContract } from '../contract.js';
import { podmanMissing, startTestEngine, type TestEngine } from './podman-service.js';
import { DockerProvider } from './provider.js';

/**
 * The docker provider against a real Podman API service this test starts,
 * with an image built from the host's packages (cached by content hash).
 * Without podman the suite is skipped with the reason - except under CI,
 * where that is a failure.
 */
let engine: Promise<TestEngine> | undefined;
after(async () => (await engine?.catch(() => undefined))?.close());

runSandboxContract(
  'docker',
  async ({ runtimeDir }) => {
    const missing = podmanMissing();
    if (missing && process.env.CI === 'true') throw new Error(`CI must run the docker provider's tests: ${missing}`);
    if (missing) return new DockerProvider({ runtimeDir, log: silentLogger(), host: 'unix:///nonexistent/podman.sock', image: 'none' });
    engine ??= startTestEngine();
    const { host, image } = await engine;
    return new DockerProvider({ runtimeDir, log: silentLogger(), host, image });
  },
  { isolated: true },
);
