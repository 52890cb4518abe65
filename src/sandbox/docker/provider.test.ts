import { after } from 'node:test';
import Docker from 'dockerode';
import { silentLogger } from '../../logger.js';
import { runSandboxContract } from '../contract.js';
import { engineAddress, DockerProvider } from './provider.js';
import { podmanMissing, startPodmanService, type PodmanService } from './podman-service.js';
import { ensureTestImage } from './test-image.js';

/**
 * The docker provider against a real Podman API service this test starts,
 * with an image built from the host's packages (cached by content hash).
 * Without podman the suite is skipped with the reason - except under CI,
 * where that is a failure.
 */
let service: Promise<{ service: PodmanService; image: string }> | undefined;
after(async () => (await service?.catch(() => undefined))?.service.close());

runSandboxContract(
  'docker',
  async ({ runtimeDir }) => {
    const missing = podmanMissing();
    if (missing && process.env.CI === 'true') throw new Error(`CI must run the docker provider's tests: ${missing}`);
    if (missing) return new DockerProvider({ runtimeDir, log: silentLogger(), host: 'unix:///nonexistent/podman.sock', image: 'none' });
    service ??= (async () => {
      const s = await startPodmanService();
      return { service: s, image: await ensureTestImage(new Docker(engineAddress(s.host))) };
    })();
    const { service: s, image } = await service;
    return new DockerProvider({ runtimeDir, log: silentLogger(), host: s.host, image });
  },
  { isolated: true },
);
