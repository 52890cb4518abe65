import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SandboxSpec } from '../provider.js';
import { buildBwrapArgs, GATEWAY_SOCKET_INSIDE, shellQuote, type BwrapArgsOptions, type HostLayout } from './args.js';

const spec: SandboxSpec = {
  id: 'sesn_1',
  workspaceId: 'wrkspc_1',
  workspaceDir: '/srv/agenthost/sessions/sesn_1/workspace',
  configDir: '/srv/agenthost/sessions/sesn_1/workspace/.claude-config',
  tmpDir: '/tmp/agenthost/sesn_1',
  gatewaySocket: '/srv/agenthost/run/gateway/sesn_1.sock',
  gatewayUrl: 'http://127.0.0.1:8700',
};

const layout: HostLayout = {
  rootEntries: [{ path: '/bin', symlinkTarget: 'usr/bin' }, { path: '/lib64' }],
  etcPaths: ['/etc/ssl', '/etc/nsswitch.conf'],
  generatedEtcDir: '/srv/agenthost/run/bwrap/etc',
  socat: '/usr/bin/socat',
  setsid: '/usr/bin/setsid',
  sleep: '/usr/bin/sleep',
  setpriv: '/usr/bin/setpriv',
};

function options(overrides: Partial<BwrapArgsOptions['request']> = {}): BwrapArgsOptions {
  return {
    layout,
    request: {
      command: '/opt/sdk/claude',
      args: ['--output-format', 'stream-json'],
      cwd: spec.workspaceDir,
      env: { PATH: '/usr/bin:/bin', ANTHROPIC_API_KEY: 'session-token', UNSET: undefined },
      ...overrides,
    },
    readOnlyPaths: ['/opt/sdk'],
    homeHostDir: '/srv/agenthost/run/bwrap/sandboxes/sesn_1/home',
    homeDir: '/home/agent',
    identity: 'user-namespace',
    uid: 1000,
    gid: 1000,
    hostname: 'sandbox',
    gatewayPort: 4747,
    egressPort: 3128,
    infoFd: 4,
    seccompFd: 5,
  };
}

/** [flag, src, dest] for every mount-ish option, in order. */
function mounts(args: string[]): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  args.forEach((a, i) => {
    if (['--bind', '--ro-bind', '--ro-bind-try', '--symlink'].includes(a)) out.push([a, args[i + 1]!, args[i + 2]!]);
    if (['--tmpfs', '--proc', '--dev', '--remount-ro'].includes(a)) out.push([a, '', args[i + 1]!]);
  });
  return out;
}

const indexOfPair = (args: string[], a: string, b: string): number => args.findIndex((x, i) => x === a && args[i + 1] === b);

describe('buildBwrapArgs', () => {
  const { options: args, command } = buildBwrapArgs(spec, options());

  it('unshares every namespace, dies with its parent, filters system calls and drops to an unprivileged user', () => {
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session']) {
      assert.ok(args.includes(flag), flag);
    }
    assert.ok(indexOfPair(args, '--seccomp', '5') >= 0, 'under the seccomp filter');
    assert.ok(indexOfPair(args, '--uid', '1000') >= 0);
    assert.ok(indexOfPair(args, '--gid', '1000') >= 0);
    assert.ok(!args.includes('--share-net'));
  });

  it('as a host user (a root server): no user namespace; setpriv drops the command to the uid, keeping no capability', () => {
    const hostUser = buildBwrapArgs(spec, { ...options(), identity: 'host-user', uid: 65536, gid: 65536 });
    for (const flag of ['--unshare-user', '--unshare-all', '--disable-userns', '--uid', '--gid']) assert.ok(!hostUser.options.includes(flag), flag);
    for (const flag of ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup', '--die-with-parent']) {
      assert.ok(hostUser.options.includes(flag), flag);
    }
    const caps = hostUser.options.flatMap((a, i) => (a === '--cap-drop' || a === '--cap-add' ? [`${a} ${hostUser.options[i + 1]}`] : []));
    assert.deepEqual(caps, ['--cap-drop ALL', '--cap-add CAP_SETUID', '--cap-add CAP_SETGID', '--cap-add CAP_SETPCAP']);
    assert.deepEqual(hostUser.command.slice(0, 11), [
      '/usr/bin/setpriv', '--reuid=65536', '--regid=65536', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
      '/bin/sh', '-c', command[2],
    ]);
    assert.deepEqual(hostUser.command.slice(11), command.slice(3));
    assert.ok(indexOfPair(hostUser.options, '--seccomp', '5') >= 0, 'the filter covers setpriv and all after it');
  });

  it("makes each mount point's missing parents 0755 before mounting, and nothing inside a host bind", () => {
    const made = args.flatMap((a, i) => (a === '--dir' ? [`${args[i - 1]} ${args[i + 1]}`] : []));
    assert.deepEqual(made, [
      '0755 /etc',
      '0755 /var',
      '0755 /opt',
      '0755 /home',
      '0755 /tmp/agenthost',
      '0755 /srv',
      '0755 /srv/agenthost',
      '0755 /srv/agenthost/sessions',
      '0755 /srv/agenthost/sessions/sesn_1',
      '0755 /run',
      '0755 /run/agenthost',
    ]);
    for (const [dir, mount] of [['/etc', '/etc/ssl'], ['/tmp/agenthost', spec.tmpDir], ['/run/agenthost', GATEWAY_SOCKET_INSIDE], ['/var', '/var/tmp']] as const) {
      assert.ok(args.indexOf(dir) < args.lastIndexOf(mount), `${dir} before ${mount}`);
    }
    assert.ok(args.indexOf('/tmp/agenthost') > indexOfPair(args, '--tmpfs', '/tmp'), 'made in the private /tmp, not under it');
    assert.deepEqual(args.slice(indexOfPair(args, '--tmpfs', '/tmp') - 2, indexOfPair(args, '--tmpfs', '/tmp')), ['--perms', '1777']);
  });

  it('binds read-write exactly the workspace, config, tmp and home dirs, at their paths', () => {
    const rw = mounts(args).filter(([flag]) => flag === '--bind');
    assert.deepEqual(rw, [
      ['--bind', options().homeHostDir, '/home/agent'],
      ['--bind', spec.tmpDir, spec.tmpDir],
      ['--bind', spec.workspaceDir, spec.workspaceDir],
      ['--bind', spec.configDir, spec.configDir],
    ]);
  });

  it('shows only system paths, chosen /etc files, the command dir and the gateway socket from the host', () => {
    const sources = mounts(args)
      .filter(([flag]) => flag === '--ro-bind' || flag === '--ro-bind-try')
      .map(([, src]) => src);
    assert.deepEqual(sources, [
      '/usr',
      '/lib64',
      '/etc/ssl',
      '/etc/nsswitch.conf',
      ...['passwd', 'group', 'hosts', 'hostname'].map((n) => `${layout.generatedEtcDir}/${n}`),
      '/opt/sdk',
      spec.gatewaySocket,
    ]);
    assert.ok(indexOfPair(args, spec.gatewaySocket, GATEWAY_SOCKET_INSIDE) >= 0);
    assert.ok(indexOfPair(args, 'usr/bin', '/bin') >= 0, 'merged-/usr symlinks are recreated');
  });

  it('mounts fresh /proc, /dev and private tmpfs before binding anything under them, then makes / read-only', () => {
    const order = mounts(args).map(([flag, , dest]) => `${flag} ${dest}`);
    const at = (m: string): number => order.indexOf(m);
    assert.ok(at('--proc /proc') >= 0 && at('--dev /dev') >= 0);
    assert.ok(at('--tmpfs /tmp') < at(`--bind ${spec.tmpDir}`));
    assert.ok(at(`--bind ${spec.workspaceDir}`) < at(`--bind ${spec.configDir}`), 'parent before nested');
    assert.equal(order.at(-1), '--remount-ro /');
  });

  it('clears the environment and sets exactly the defined variables', () => {
    const clear = args.indexOf('--clearenv');
    assert.ok(clear >= 0);
    const setenv = args.flatMap((a, i) => (a === '--setenv' ? [[args[i + 1], args[i + 2]]] : []));
    assert.deepEqual(setenv, [
      ['PATH', '/usr/bin:/bin'],
      ['ANTHROPIC_API_KEY', 'session-token'],
    ]);
    assert.ok(args.indexOf('--setenv') > clear);
  });

  it('runs the command through the gateway bridge script, which restores PWD', () => {
    assert.deepEqual(command.slice(0, 2), ['/bin/sh', '-c']);
    assert.deepEqual(command.slice(3), ['agenthost-sandbox', '4747', '128B', GATEWAY_SOCKET_INSIDE, '/opt/sdk/claude', '--output-format', 'stream-json']);
    assert.match(command[2]!, /socat TCP-LISTEN:"\$1",bind=127\.0\.0\.1,fork,reuseaddr UNIX-CONNECT:"\$3"/);
    assert.match(command[2]!, /unset PWD\nexec "\$@"$/);
    const withPwd = buildBwrapArgs(spec, options({ env: { PWD: "/it's" } })).command[2]!;
    assert.match(withPwd, /PWD='\/it'\\''s'; export PWD\nexec "\$@"$/);
    assert.ok(indexOfPair(args, '--chdir', spec.workspaceDir) >= 0);
    assert.ok(indexOfPair(args, '--info-fd', '4') >= 0);
  });

  it('bridges the egress proxy and sets the proxy variables only when the spec has one', () => {
    const withEgress = buildBwrapArgs({ ...spec, egressSocket: '/srv/egress/sesn_1.sock' }, options());
    assert.ok(indexOfPair(withEgress.options, '/srv/egress/sesn_1.sock', '/run/agenthost/egress.sock') >= 0);
    const setenv = new Map(withEgress.options.flatMap((a, i) => (a === '--setenv' ? [[withEgress.options[i + 1]!, withEgress.options[i + 2]!]] : [])));
    assert.equal(setenv.get('HTTPS_PROXY'), 'http://127.0.0.1:3128');
    assert.equal(setenv.get('http_proxy'), 'http://127.0.0.1:3128');
    assert.match(setenv.get('NO_PROXY')!, /127\.0\.0\.1/);
    assert.deepEqual(withEgress.command.slice(3, 10), ['agenthost-sandbox', '4747', '128B', '/run/agenthost/gateway.sock', '3128', '0C38', '/run/agenthost/egress.sock']);
    assert.match(withEgress.command[2]!, /shift 6/);
    assert.ok(!args.includes('HTTPS_PROXY'));
  });

  it('rejects variables that cannot be passed', () => {
    assert.throws(() => buildBwrapArgs(spec, options({ env: { 'A=B': 'x' } })), /cannot be passed/);
    assert.throws(() => buildBwrapArgs(spec, options({ env: { A: 'x\0y' } })), /cannot be passed/);
  });

  it('quotes for sh', () => {
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});
