import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SandboxSpec } from '../provider.js';
import { parseTick } from './monitor.js';
import { buildContainerConfig, buildExec, LABELS, parseStat, toolsOf, withDescendants, type ContainerOptions } from './spec.js';

const spec: SandboxSpec = {
  id: 'sesn_1',
  workspaceId: 'wrkspc_1',
  workspaceDir: '/data/sessions/sesn_1/workspace',
  configDir: '/data/sessions/sesn_1/config',
  tmpDir: '/data/sessions/sesn_1/tmp',
  gatewaySocket: '/data/run/gateway/sesn_1.sock',
  gatewayUrl: 'http://127.0.0.1:1',
};
const options: ContainerOptions = {
  image: 'example/image:1',
  name: 'agenthost-abc-sesn_1',
  runtimeKey: 'abc',
  owner: '42:1000',
  uid: 1000,
  gid: 1000,
  homeHostDir: '/data/run/docker/sandboxes/sesn_1/home',
  homeDir: '/home/agent',
  gatewayPort: 4747,
  egressPort: 3128,
  readOnlyPaths: ['/opt/claude'],
  nofile: 16384,
  nproc: 16384,
  seccomp: '/data/run/docker/seccomp.json',
};

describe('docker container config', () => {
  it('is unprivileged, read-only, without network, labelled for start-up cleanup', () => {
    const c = buildContainerConfig(spec, options);
    assert.equal(c.User, '1000:1000');
    assert.equal(c.HostConfig?.NetworkMode, 'none');
    assert.equal(c.HostConfig?.ReadonlyRootfs, true);
    assert.deepEqual(c.HostConfig?.CapDrop, ['ALL']);
    assert.deepEqual(c.HostConfig?.SecurityOpt, ['no-new-privileges', 'seccomp=/data/run/docker/seccomp.json']);
    assert.equal(c.HostConfig?.Init, true);
    assert.equal(c.HostConfig?.Privileged, undefined);
    assert.deepEqual(c.Labels, { [LABELS.provider]: 'docker', [LABELS.runtime]: 'abc', [LABELS.sandbox]: 'sesn_1', [LABELS.workspace]: 'wrkspc_1', [LABELS.owner]: '42:1000' });
    assert.deepEqual(c.HostConfig?.Binds, [
      '/data/run/docker/sandboxes/sesn_1/home:/home/agent:rw',
      '/data/sessions/sesn_1/workspace:/data/sessions/sesn_1/workspace:rw',
      '/data/sessions/sesn_1/config:/data/sessions/sesn_1/config:rw',
      '/data/sessions/sesn_1/tmp:/data/sessions/sesn_1/tmp:rw',
      '/opt/claude:/opt/claude:ro',
      '/data/run/gateway/sesn_1.sock:/run/agenthost/gateway.sock:rw',
    ]);
    assert.match(c.HostConfig?.Tmpfs?.['/run'] ?? '', /^ro,/);
    assert.equal(c.HostConfig?.Memory, undefined);
    // Monitor: gateway bridge only.
    assert.deepEqual(c.Cmd?.slice(2), ['agenthost-monitor', '4747', '128B', '/run/agenthost/gateway.sock']);
  });

  it('maps limits to the engine: memory without swap, CPU quota, pids, file size, tmpfs sizes', () => {
    const c = buildContainerConfig(
      { ...spec, egressSocket: '/data/run/egress/sesn_1.sock', limits: { memoryMib: 512, cpus: 1.5, pids: 100, diskMib: 64, toolTimeoutS: 60 } },
      options,
    );
    const h = c.HostConfig!;
    assert.equal(h.Memory, 512 * 1024 * 1024);
    assert.equal(h.MemorySwap, 512 * 1024 * 1024);
    assert.equal(h.NanoCpus, 1_500_000_000);
    assert.equal(h.PidsLimit, 100);
    assert.deepEqual(h.Ulimits?.find((u) => u.Name === 'fsize'), { Name: 'fsize', Soft: 64 * 1024 * 1024, Hard: 64 * 1024 * 1024 });
    assert.match(h.Tmpfs?.['/tmp'] ?? '', /size=67108864/);
    assert.ok(h.Binds?.includes('/data/run/egress/sesn_1.sock:/run/agenthost/egress.sock:rw'));
    assert.deepEqual(c.Cmd?.slice(6), ['3128', '0C38', '/run/agenthost/egress.sock']);
  });
});

describe('docker exec', () => {
  const o = { seq: 3, uid: 1000, gid: 1000, egressPort: 3128, egress: false, imageEnv: ['PATH', 'LANG'] };

  it('passes exactly the requested environment and removes what the engine and the image add', () => {
    const e = buildExec({ command: '/bin/env', args: ['-0'], cwd: '/w', env: { PATH: '/usr/bin', FOO: 'a b', GONE: undefined } }, o);
    assert.deepEqual(e.Env, ['PATH=/usr/bin', 'FOO=a b']);
    assert.equal(e.WorkingDir, '/w');
    assert.equal(e.User, '1000:1000');
    assert.deepEqual(e.Cmd.slice(3), ['agenthost-exec', '/bin/env', '-0']);
    assert.match(e.Cmd[2]!, /^echo \$\$ >\/run\/agenthost\/exec-3\nunset HOME HOSTNAME LANG OLDPWD PWD TERM container\nexec "\$@"$/);
  });

  it('adds the proxy variables with egress, and refuses variables that cannot be passed', () => {
    const e = buildExec({ command: 'x', args: [], cwd: '/', env: { HOME: '/home/agent' } }, { ...o, egress: true });
    assert.ok(e.Env.includes('HTTPS_PROXY=http://127.0.0.1:3128'));
    assert.doesNotMatch(e.Cmd[2]!, /unset[^\n]*HOME/);
    assert.throws(() => buildExec({ command: 'x', args: [], cwd: '/', env: { 'A=B': '1' } }, o));
  });
});

describe('docker monitor output', () => {
  it('parses stat lines whose command names hold spaces and parentheses', () => {
    assert.deepEqual(parseStat('12 (a) b (c) S 7 12 12 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5555 0'), { pid: 12, comm: 'a) b (c', ppid: 7, startTime: '5555' });
    assert.equal(parseStat('garbage'), undefined);
  });

  it('reads processes and cgroup counters; tools are everything but the machinery and the exec commands', () => {
    const stat = (pid: number, comm: string, ppid: number): string => `p ${pid} (${comm}) S ${ppid} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${pid} 0`;
    const tick = parseTick([stat(1, 'catatonit', 0), stat(2, 'sh', 1), stat(3, 'socat', 2), stat(4, 'socat', 3), stat(9, 'claude', 0), stat(10, 'bash', 9), stat(11, 'sleep', 10), stat(12, 'socat', 1), 'm oom_kill 2', 'x max 5']);
    assert.equal(tick.oomKills, 2);
    assert.equal(tick.pidsMax, 5);
    const tools = toolsOf(tick.procs, new Set([2, 3]));
    // 12 is an orphan named socat adopted by pid 1: a tool all the same.
    assert.deepEqual(tools.map((t) => t.pid), [10, 11, 12]);
    assert.deepEqual(withDescendants(tick.procs, [10], () => true).sort(), [10, 11]);
  });
});
