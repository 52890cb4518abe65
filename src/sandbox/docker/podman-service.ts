import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { ensureTestImage } from './test-image.js';

/**
 * Podman's Docker-compatible API service on a Unix socket in a temporary
 * directory, for tests and development: the docker provider's engine where
 * no Docker daemon runs. Images live in Podman's usual storage, so a test
 * image built once is found again by later runs.
 */
export interface PodmanService {
  /** For AGENTHOST_DOCKER_HOST: unix://<socket>. */
  host: string;
  close(): Promise<void>;
}

/** Why podman cannot be used here, or undefined when it can. */
export function podmanMissing(): string | undefined {
  const r = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `podman is not installed (apt-get install podman crun catatonit runc): ${r.error?.message ?? r.stderr}`;
}

/**
 * `idleTimeoutS`: with no connection for that long (not even a sandbox's
 * attach stream), the service exits, so a test runner that died leaks
 * nothing for long. Default 120; a run that leaves the engine unused for
 * longer (the bench, between its providers) passes more.
 */
export async function startPodmanService(o: { idleTimeoutS?: number } = {}): Promise<PodmanService> {
  const missing = podmanMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'ahpodman-'));
  const socket = join(dir, 'podman.sock');
  // runc where installed: crun 1.8 refuses hosts with cgroup v1 plus a v2 mount that holds a controller.
  const runtime = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  const args = [...(runtime ? ['--runtime', runtime] : []), 'system', 'service', `--time=${o.idleTimeoutS ?? 120}`, `unix://${socket}`];
  // In its own directory: each container's conmon inherits the service's working directory and, when the
  // kernel OOM-kills in the container, creates an empty file named `oom` there (besides the one in its
  // state directory) - in the repository root, for tests run from it.
  const child: ChildProcess = spawn('podman', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`podman system service exited: ${stderr}`);
    if (existsSync(socket) && (await docker.ping().then(() => true, () => false))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`podman system service did not answer in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.unref();
  return {
    host: `unix://${socket}`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        // A ref'd timer: in an `after` hook nothing else may keep the process alive until the SIGKILL.
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Podman service with the test image in it: what the docker provider's tests run against. */
export interface TestEngine {
  host: string;
  image: string;
  close(): Promise<void>;
}

export async function startTestEngine(o: { idleTimeoutS?: number } = {}): Promise<TestEngine> {
  const service = await startPodmanService(o);
  try {
    const image = await ensureTestImage(new Docker({ socketPath: service.host.slice('unix://'.length) }));
    return { host: service.host, image, close: () => service.close() };
  } catch (error) {
    await service.close();
    throw error;
  }
}
