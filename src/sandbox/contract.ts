import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import { collect, hostSleepsWith, waitForOutput, type RunResult } from './contract-helpers.js';
import { waitFor } from './host-processes.js';
import { SandboxUnavailableError, type LimitEvent, type Sandbox, type SandboxLimits, type SandboxProcess, type SandboxProvider, type SandboxSpec } from './provider.js';

/**
 * The behaviour every SandboxProvider shares, as node:test suites. Each
 * provider's test file calls `runSandboxContract`; isolated providers also
 * get the isolation suite (non-isolated ones leave it out and declare
 * `isolated: false`). Nothing is mocked: real processes, a real gateway on a Unix
 * socket and on loopback TCP.
 */

export { collect, hostSleepsWith, waitForOutput, type RunResult } from './contract-helpers.js';

export type MakeProvider = (options: { runtimeDir: string }) => SandboxProvider | Promise<SandboxProvider>;

const token = (): string => String(randomInt(100_000, 999_999));
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface ContractOptions {
  isolated: boolean;
  /** Set when the provider enforces `SandboxLimits`; the limit tests are skipped with this reason otherwise. */
  noLimits?: string;
  /**
   * Live `sleep` processes with `token` in their argument, for providers
   * whose processes are not host processes (gVisor). Default: host /proc.
   */
  sleepsWith?: (token: string) => number[];
  /** Set when CPU time measured inside the sandbox does not show host throttling; the cpus test is skipped with it. */
  virtualCpuTime?: string;
  /** Set when the sandbox's user is the server's own on the host (so root's, for a root server); that test is skipped with it. */
  serverUid?: string;
  /** Set when a command's end takes its tools with it (gVisor: each command is its own kernel); the test of a report at destroy is skipped with it. */
  commandEndTakesTools?: string;
  /** Set when clone3 is not refused (gVisor: Bun aborts when its clone3 fails with EPERM); the seccomp test leaves it out. */
  clone3Allowed?: string;
}

export function runSandboxContract(name: string, makeProvider: MakeProvider, options: ContractOptions): void {
  const sleepsWith = options.sleepsWith ?? hostSleepsWith;
  describe(`sandbox contract: ${name}`, () => {
    let base: string;
    let provider: SandboxProvider;
    let unavailable: string | undefined;
    let gatewaySocket: string;
    let gatewayUrl: string;
    const servers: Server[] = [];
    let hostPort: number;
    const marker = `contract-marker-${randomBytes(8).toString('hex')}`;
    const sandboxes: Sandbox[] = [];
    let seq = 0;

    before(async () => {
      base = mkdtempSync(join(tmpdir(), 'ahsb-'));
      mkdirSync(join(base, 'data'));
      writeFileSync(join(base, 'data', 'server-secret.txt'), marker);
      process.env.AGENTHOST_CONTRACT_MARKER = marker;
      const handler = (req: { method?: string; url?: string }, res: { end(s: string): void }): void =>
        res.end(`gateway-ok ${req.method} ${req.url}`);
      const unix = createHttpServer(handler);
      const tcp = createHttpServer(handler);
      const other = createTcpServer((s) => s.end('host-port'));
      servers.push(unix, tcp);
      gatewaySocket = join(base, 'gw.sock');
      await new Promise<void>((r) => unix.listen(gatewaySocket, r));
      // As the real gateway does: the sandbox user may be another uid; the token guards the socket.
      chmodSync(gatewaySocket, 0o666);
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
      gatewayUrl = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
      hostPort = (other.address() as AddressInfo).port;
      other.unref();
      provider = await makeProvider({ runtimeDir: join(base, 'run') });
      try {
        await provider.check();
      } catch (error) {
        if (!(error instanceof SandboxUnavailableError)) throw error;
        unavailable = `${name} unavailable on this host: ${error.message}`;
      }
    });

    afterEach(async () => {
      await Promise.all(sandboxes.splice(0).map((s) => s.destroy()));
    });

    after(async () => {
      delete process.env.AGENTHOST_CONTRACT_MARKER;
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      if (base) rmSync(base, { recursive: true, force: true });
    });

    async function newSandbox(p: SandboxProvider = provider, extra: Partial<SandboxSpec> = {}): Promise<Sandbox> {
      const id = `sbx-${process.pid}-${++seq}`;
      const dir = join(base, 'data', 'sessions', id);
      const spec: SandboxSpec = {
        id,
        workspaceId: 'wrkspc_contract',
        workspaceDir: join(dir, 'workspace'),
        configDir: join(dir, 'config'),
        tmpDir: join(dir, 'tmp'),
        gatewaySocket,
        gatewayUrl,
        ...extra,
      };
      for (const d of [spec.workspaceDir, spec.configDir, spec.tmpDir]) mkdirSync(d, { recursive: true });
      const sandbox = await p.create(spec);
      sandboxes.push(sandbox);
      return sandbox;
    }

    const workspaceOf = (s: Sandbox): string => join(base, 'data', 'sessions', s.id, 'workspace');
    const baseEnv = (s: Sandbox): Record<string, string> => ({ PATH: '/usr/bin:/bin', HOME: s.homeDir });

    function sh(s: Sandbox, script: string, env: Record<string, string | undefined> = baseEnv(s)): SandboxProcess {
      return s.spawn({ command: '/bin/sh', args: ['-c', script], cwd: workspaceOf(s), env });
    }

    const run = (s: Sandbox, script: string, stdin = ''): Promise<RunResult> => collect(sh(s, script), stdin);

    /**
     * A test of the contract. `notApplicable` leaves it out of this provider's
     * contract (what the provider declares it does not do, see ContractOptions).
     * A provider that cannot run on this host skips, with the reason, except
     * in CI, where that is a failure.
     */
    function test(title: string, fn: (t: TestContext) => Promise<void>, notApplicable?: string): void {
      if (notApplicable) return;
      it(title, async (t) => {
        if (unavailable) {
          if (process.env.CI) assert.fail(unavailable);
          return t.skip(unavailable);
        }
        await fn(t);
      });
    }

    test('runs a command with stdin, stdout, stderr and its exit code', async () => {
      const s = await newSandbox();
      const proc = sh(s, 'read line; echo "out:$line"; echo "err:$line" >&2; exit 3');
      const r = await collect(proc, 'hello\n');
      assert.deepEqual(r, { code: 3, signal: null, stdout: 'out:hello\n', stderr: 'err:hello\n' });
      assert.equal(proc.exitCode, 3);
      assert.equal(typeof proc.pid, 'number');
    });

    test('a command that cannot start is reported as an error or a failed exit', async () => {
      const s = await newSandbox();
      const outcome = await collect(s.spawn({ command: '/nonexistent/command', args: [], cwd: workspaceOf(s), env: baseEnv(s) })).then(
        (r) => r.code !== 0,
        (error: unknown) => error instanceof Error,
      );
      assert.equal(outcome, true);
    });

    test('the environment is exactly the one requested', async () => {
      const s = await newSandbox();
      const env = { PATH: '/usr/bin:/bin', FOO: 'bar baz', EMPTY: '', LINES: 'a\nb', LEFT_OUT: undefined };
      const r = await collect(s.spawn({ command: '/usr/bin/env', args: ['-0'], cwd: workspaceOf(s), env }));
      assert.equal(r.code, 0, r.stderr);
      const seen = Object.fromEntries(
        r.stdout.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      assert.deepEqual(seen, { PATH: '/usr/bin:/bin', FOO: 'bar baz', EMPTY: '', LINES: 'a\nb' });
    });

    test('runs in the requested cwd; workspace, config, tmp and home are writable and shared with the host', async () => {
      const s = await newSandbox();
      const dir = dirname(workspaceOf(s));
      const r = await run(
        s,
        `pwd; echo w > ws.txt && echo c > ${q(join(dir, 'config', 'c.txt'))} && echo t > ${q(join(dir, 'tmp', 't.txt'))} && echo h > "$HOME/h.txt" && cat "$HOME/h.txt"`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${workspaceOf(s)}\nh\n`);
      assert.equal(readFileSync(join(dir, 'workspace', 'ws.txt'), 'utf8'), 'w\n');
      assert.equal(readFileSync(join(dir, 'config', 'c.txt'), 'utf8'), 'c\n');
      assert.equal(readFileSync(join(dir, 'tmp', 't.txt'), 'utf8'), 't\n');
    });

    test('modelBaseUrl reaches the gateway', async () => {
      const s = await newSandbox();
      const url = new URL(s.modelBaseUrl);
      const r = await collect(
        s.spawn({
          command: '/bin/bash',
          args: ['-c', `exec 3<>/dev/tcp/${url.hostname}/${url.port}; printf 'GET /v1/ping HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`],
          cwd: workspaceOf(s),
          env: baseEnv(s),
        }),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /gateway-ok GET \/v1\/ping$/);
    });

    test('kill delivers the signal to the whole process group', async () => {
      const s = await newSandbox();
      const tok = token();
      const proc = sh(s, `trap 'echo got-term; exit 0' TERM; sleep 1000.${tok} & echo started; wait`);
      const result = collect(proc);
      await waitForOutput(proc, 'started');
      assert.ok(await waitFor(() => sleepsWith(`1000.${tok}`).length > 0, 2_000, { keepAlive: true }), 'the grandchild runs');
      assert.equal(proc.kill('SIGTERM'), true);
      const r = await result;
      assert.equal(r.code, 0);
      assert.match(r.stdout, /got-term/);
      assert.ok(await waitFor(() => sleepsWith(`1000.${tok}`).length === 0, 3_000, { keepAlive: true }), 'grandchild got the signal too');
    });

    test('kill(SIGKILL) ends the process with SIGKILL', async () => {
      const s = await newSandbox();
      const tok = token();
      const proc = sh(s, `sleep 1000.${tok} & echo started; wait`);
      const result = collect(proc);
      await waitForOutput(proc, 'started');
      proc.kill('SIGKILL');
      const r = await result;
      assert.equal(r.signal, 'SIGKILL');
      assert.equal(proc.signalCode, 'SIGKILL');
      assert.ok(await waitFor(() => sleepsWith(`1000.${tok}`).length === 0, 3_000, { keepAlive: true }));
    });

    test('destroy kills the whole tree, including backgrounded grandchildren', async () => {
      const s = await newSandbox();
      const tok = token();
      const proc = sh(s, `sleep 1000.${tok} & sh -c 'sleep 1001.${tok}; :' & echo started; wait`);
      const exited = new Promise((r) => proc.once('exit', r));
      await waitForOutput(proc, 'started');
      assert.ok(await waitFor(() => sleepsWith(tok).length === 2, 2_000, { keepAlive: true }), 'both grandchildren run');
      await s.destroy();
      await exited;
      assert.deepEqual(sleepsWith(tok), []);
    });

    test('an abort signal stops the process', async () => {
      const s = await newSandbox();
      const abort = new AbortController();
      const proc = s.spawn({ command: '/bin/sh', args: ['-c', 'echo started; sleep 1000'], cwd: workspaceOf(s), env: baseEnv(s), signal: abort.signal });
      const result = collect(proc);
      await waitForOutput(proc, 'started');
      abort.abort();
      const r = await result;
      assert.ok(r.code !== 0 || r.signal !== null);
    });

    test('destroy is idempotent and later spawns throw', async () => {
      const s = await newSandbox();
      await Promise.all([s.destroy(), s.destroy()]);
      await s.destroy();
      assert.throws(() => sh(s, 'true'));
      assert.ok(!(await provider.list()).some((i) => i.id === s.id));
    });

    test('create rejects an id that is live', async () => {
      const s = await newSandbox();
      const spec = { id: s.id, workspaceId: 'w', workspaceDir: workspaceOf(s), configDir: workspaceOf(s), tmpDir: workspaceOf(s), gatewaySocket, gatewayUrl };
      await assert.rejects(provider.create(spec));
    });

    test('list and destroy by id, also from a new provider on the same runtime dir (start-up cleanup)', async () => {
      const a = await newSandbox();
      const b = await newSandbox();
      const tok = token();
      const proc = sh(b, `sleep 1000.${tok} & echo started; wait`);
      const exited = new Promise((r) => proc.once('exit', r));
      await waitForOutput(proc, 'started');
      const ids = (await provider.list()).map((i) => i.id);
      assert.ok(ids.includes(a.id) && ids.includes(b.id));
      const restarted = await makeProvider({ runtimeDir: join(base, 'run') });
      assert.deepEqual(
        (await restarted.list()).filter((i) => i.id === a.id || i.id === b.id),
        [a.id, b.id].sort().map((id) => ({ id, provider: restarted.name })),
      );
      await restarted.destroy(b.id);
      await exited;
      assert.deepEqual(sleepsWith(tok), []);
      assert.ok(!(await restarted.list()).some((i) => i.id === b.id));
      await restarted.destroy(b.id);
      await restarted.destroy('never-created');
    });

    const notIsolated = options.isolated ? undefined : `${name} does not isolate (isolated: false)`;

    if (!options.isolated) {
      test('declares that it does not isolate, so the isolation tests are not its contract', async () => {
        assert.equal(provider.isolated, false);
      });
    }

    test('isolation: runs as a non-root user', async () => {
      const s = await newSandbox();
      const r = await run(s, 'id -u');
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual(r.stdout.trim(), '0');
    }, notIsolated);

    test("isolation: a root server's sandbox is not root on the host either: its files are a uid no host account has, and it holds no capabilities", async (t) => {
      if (process.getuid?.() !== 0) return t.skip('the server does not run as root here');
      const s = await newSandbox();
      const r = await run(s, 'touch made-inside && grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status');
      assert.equal(r.code, 0, r.stderr);
      const owner = lstatSync(join(workspaceOf(s), 'made-inside')).uid;
      assert.notEqual(owner, 0);
      const account = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.split(':')[2] === String(owner));
      assert.equal(account, undefined, `the sandbox's files belong to a host account`);
      const caps = new Map(r.stdout.trim().split('\n').map((line) => line.split(/:\s+/) as [string, string]));
      // gVisor's /proc has no CapAmb line.
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd']) assert.match(caps.get(set) ?? '', /^0+$/, `${set} in ${r.stdout}`);
      assert.match(caps.get('CapAmb') ?? '0', /^0+$/);
    }, notIsolated ?? options.serverUid);

    test('isolation: writes outside the workspace, config, tmp and home dirs fail', async () => {
      const s = await newSandbox();
      const system = ['/x', '/usr/x', '/etc/x', '/home/x', '/run/x'];
      // Host paths next to the sandbox's dirs. Inside they may be writable when
      // they fall under the sandbox's private /tmp; they must never reach the host.
      const host = [join(base, 'data', 'x'), join(dirname(workspaceOf(s)), 'x')];
      const r = await run(s, [...system, ...host].map((p) => `touch ${q(p)} 2>/dev/null && echo "WROTE ${p}"`).join('; ') + '; true');
      assert.deepEqual(r.stdout.split('\n').filter((l) => system.some((p) => l === `WROTE ${p}`)), []);
      for (const p of host) assert.equal(existsSync(p), false, `${p} reached the host`);
    }, notIsolated);

    test('isolation: host files are invisible (/root, the data dir, the project)', async () => {
      const s = await newSandbox();
      const secret = join(base, 'data', 'server-secret.txt');
      const r = await run(s, `ls -A /root 2>/dev/null; cat ${q(secret)} 2>/dev/null; ls ${q(join(process.cwd(), 'package.json'))} 2>/dev/null; true`);
      assert.equal(r.stdout, '');
    }, notIsolated);

    test('isolation: host processes are invisible', async () => {
      const s = await newSandbox();
      const r = await run(s, `for f in /proc/[0-9]*/cmdline; do tr '\\0\\n' '  ' < "$f"; echo; done`);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n').filter(Boolean);
      assert.ok(lines.length < 10, `only sandbox processes: ${lines.join(' | ')}`);
      assert.ok(!lines.some((l) => l.includes('--test')), 'the test runner is not visible');
    }, notIsolated);

    test("isolation: the server's environment cannot be read from inside", async () => {
      const s = await newSandbox();
      const r = await run(s, `env; cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n'; true`);
      assert.ok(r.stdout.length > 0);
      assert.ok(!r.stdout.includes(marker));
    }, notIsolated);

    test('isolation: no network (host loopback ports, PostgreSQL, the internet)', async () => {
      const s = await newSandbox();
      const targets = [`127.0.0.1/${hostPort}`, '127.0.0.1/5432', '1.1.1.1/443', '8.8.8.8/53'];
      const script = targets.map((t) => `(exec 3<>/dev/tcp/${t}) 2>/dev/null && echo "CONNECTED ${t}"`).join('; ');
      const r = await collect(
        s.spawn({ command: '/bin/bash', args: ['-c', `${script}; getent hosts example.com && echo RESOLVED; true`], cwd: workspaceOf(s), env: baseEnv(s) }),
      );
      assert.equal(r.stdout, '');
    }, notIsolated);

    test('isolation: the seccomp policy refuses namespaces, ptrace, keyrings and io_uring with EPERM, and clone3 with ENOSYS', async () => {
      const s = await newSandbox();
      // Each of these succeeds, or fails otherwise than with EPERM, without the filter.
      const script = [
        'import ctypes, os, platform',
        'libc = ctypes.CDLL(None, use_errno=True)',
        "nr = {'x86_64': {'ptrace': 101, 'keyctl': 250, 'io_uring_setup': 425, 'clone3': 435}, 'aarch64': {'ptrace': 117, 'keyctl': 219, 'io_uring_setup': 425, 'clone3': 435}}[platform.machine()]",
        'def errno(r): return ctypes.get_errno() if r == -1 else 0',
        'params = ctypes.create_string_buffer(120)',
        "print('ptrace', errno(libc.syscall(nr['ptrace'], 0, 0, 0, 0)))",
        "print('keyctl', errno(libc.syscall(nr['keyctl'], 0, -3, 0)))",
        "print('io_uring_setup', errno(libc.syscall(nr['io_uring_setup'], 1, params)))",
        "print('unshare', errno(libc.unshare(0x10000000)))",
        "print('clone3', errno(libc.syscall(nr['clone3'], 0, 0)))",
        "print('getpid', 0 if os.getpid() > 0 else 1)",
      ].join('\n');
      const r = await run(s, `python3 -c ${q(script)}`);
      assert.equal(r.code, 0, r.stderr);
      const errnos = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')));
      if (options.clone3Allowed) delete errnos.clone3;
      assert.deepEqual(errnos, {
        ptrace: '1',
        keyctl: '1',
        io_uring_setup: '1',
        unshare: '1',
        ...(options.clone3Allowed ? {} : { clone3: '38' }),
        getpid: '0',
      });
    }, notIsolated);

    test('isolation: destroy kills processes that left the process group', async () => {
      const s = await newSandbox();
      const tok = token();
      const proc = sh(s, `setsid sleep 1000.${tok} & echo started; wait`);
      await waitForOutput(proc, 'started');
      assert.ok(await waitFor(() => sleepsWith(tok).length > 0, 2_000, { keepAlive: true }));
      await s.destroy();
      assert.deepEqual(sleepsWith(tok), []);
    }, notIsolated);

    const noLimits = options.noLimits;
    const generous: SandboxLimits = { memoryMib: 1024, cpus: 1, pids: 256, diskMib: 1024, toolTimeoutS: null };

    /** A sandbox with limits, and the limit events it reports. */
    async function limited(limits: Partial<SandboxLimits>): Promise<{ s: Sandbox; events: LimitEvent[] }> {
      const events: LimitEvent[] = [];
      const s = await newSandbox(provider, { limits: { ...generous, ...limits }, onLimit: (e) => events.push(e) });
      return { s, events };
    }

    // How long a report may take bounds a wait, not a speed: on a loaded 2-core host a gVisor
    // sandbox's bomb or balloon took over 10 s to be seen (its processes wait for a CPU).
    const waitForEvent = (events: LimitEvent[], kind: LimitEvent['kind'], ms = 60_000): Promise<boolean> =>
      waitFor(() => events.some((e) => e.kind === kind), ms, { keepAlive: true });

    test('limits: a memory balloon is killed and reported; the sandbox goes on', async () => {
      const started = Date.now();
      const { s, events } = await limited({ memoryMib: 256 });
      // tail keeps a line in memory until it ends, and /dev/zero has no newline.
      const r = await run(s, 'head -c 900M /dev/zero | tail -n 1 >/dev/null; echo "balloon exit $?"');
      // The balloon dies, or (gVisor, whose kernel is one host process) the whole spawned process does.
      assert.ok(/balloon exit [1-9]/.test(r.stdout) || r.code !== 0 || r.signal !== null, JSON.stringify(r));
      assert.ok(await waitForEvent(events, 'memory'), `no memory report: ${JSON.stringify(events)}`);
      assert.match(events.find((e) => e.kind === 'memory')!.message, /memory_mib: 256/);
      assert.equal((await run(s, 'echo still-here')).stdout, 'still-here\n');
      // Nothing the engine runs writes where the server was started (Podman's conmon once left an empty `oom` file there).
      const stray = join(process.cwd(), 'oom');
      assert.ok(!existsSync(stray) || statSync(stray).mtimeMs < started, `${stray} appeared`);
    }, noLimits);

    test('limits: a fork bomb is refused and its processes killed; the sandbox goes on', async () => {
      const { s, events } = await limited({ pids: 64 });
      const proc = sh(s, 'bomb() { bomb | bomb & }; bomb; sleep 20; echo survived');
      const result = collect(proc);
      assert.ok(await waitForEvent(events, 'pids'), `no pids report: ${JSON.stringify(events)}`);
      proc.kill('SIGKILL');
      await result;
      assert.match(events.find((e) => e.kind === 'pids')!.message, /limit of 64 processes/);
      const after = await run(s, 'echo still-here');
      assert.equal(after.stdout, 'still-here\n', JSON.stringify(after));
    }, noLimits);

    test('limits: a fork bomb is reported even when the sandbox is destroyed right after its command ends', async () => {
      // As the engine does when the CLI dies of a bomb: the sandbox goes at once, before a watchdog's next tick.
      const { s, events } = await limited({ pids: 64 });
      await run(s, 'bomb() { bomb | bomb & }; bomb; sleep 0.2; exit 3');
      await s.destroy();
      assert.ok(events.some((e) => e.kind === 'pids'), `no pids report: ${JSON.stringify(events)}`);
    }, noLimits ?? options.commandEndTakesTools);

    test('limits: one file larger than the disk limit is refused', async () => {
      const { s } = await limited({ diskMib: 16 });
      const r = await run(s, 'head -c 40M /dev/zero > big; echo "exit $?"; ls -l big');
      assert.doesNotMatch(r.stdout, /exit 0/);
      assert.ok(readFileSync(join(workspaceOf(s), 'big')).length <= 16 * 1024 * 1024);
    }, noLimits);

    test('limits: a writer stopped by the file-size limit is reported, though its file is deleted at once', async () => {
      // As a Bash tool's output under Claude Code: a file in the tmp dir, deleted as soon as the tool has ended.
      // The writer runs for a second or two, then reaches 16 MiB and dies of SIGXFSZ; the file is gone
      // milliseconds later, before a disk scan is likely to see it.
      const { s, events } = await limited({ diskMib: 16 });
      const tmp = join(base, 'data', 'sessions', s.id, 'tmp');
      const out = `${tmp}/tool-${token()}.output`;
      // 500 KiB pieces do not divide 16 MiB: the write that meets the limit is cut short and the next one
      // follows at once. With pieces that fill it exactly, the full file sat there for a pause of the
      // producer, and a disk scan could find the total over the limit and kill the writer first (exit 137).
      const slow = 'i=0; while [ $i -lt 64 ]; do head -c 500K /dev/zero || exit; sleep 0.03; i=$((i+1)); done';
      const r = await run(s, `(${slow}) 2>/dev/null | cat >${out}; echo "writer exit $?"; rm -f ${out}`);
      assert.match(r.stdout, /writer exit 153/, JSON.stringify(r));
      assert.ok(!existsSync(out));
      assert.ok(await waitForEvent(events, 'disk', 5_000), `no report: ${JSON.stringify(events)}`);
      assert.match(events.find((e) => e.kind === 'disk')!.message, /disk_mib \(16\)/);
      assert.equal((await run(s, 'echo still-here')).stdout, 'still-here\n');
    }, noLimits);

    test('limits: filling the disk with many files kills the writer and is reported', async () => {
      const { s, events } = await limited({ diskMib: 32 });
      // The writer is a tool (a child of the command), as it would be under the CLI.
      const r = await run(s, `sh -c 'i=0; while [ $i -lt 400 ]; do head -c 1M /dev/zero > f$i; i=$((i+1)); sleep 0.02; done; echo filled'`);
      assert.doesNotMatch(r.stdout, /filled/);
      assert.ok(await waitForEvent(events, 'disk'), `no disk report: ${JSON.stringify(events)}`);
      assert.match(events.find((e) => e.kind === 'disk')!.message, /disk_mib \(32\)/);
    }, noLimits);

    test('limits: a tool that outlives tool_timeout_s is killed and reported; the command goes on', async () => {
      const { s, events } = await limited({ toolTimeoutS: 1 });
      const tok = token();
      const started = Date.now();
      const r = await run(s, `sleep 30.${tok}; echo "tool exit $?"`);
      assert.ok(Date.now() - started < 10_000);
      assert.match(r.stdout, /tool exit 137/);
      assert.ok(await waitForEvent(events, 'tool_timeout'));
      assert.match(events.find((e) => e.kind === 'tool_timeout')!.message, new RegExp(`tool_timeout_s \\(1 s\\).*sleep`));
    }, noLimits);

    test('limits: cpus caps CPU time', async () => {
      const { s } = await limited({ cpus: 0.25 });
      // Two seconds of a busy loop get about half a second of CPU.
      const r = await run(s, `timeout 2 sh -c 'while :; do :; done'; times`);
      // `times` prints the shell's, then its children's, user and system time.
      const children = r.stdout.trim().split('\n').at(-1) ?? '';
      const cpu = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
      assert.ok(cpu < 1.0, `used ${cpu} s of CPU in 2 s at cpus 0.25: ${r.stdout}`);
    }, noLimits ?? options.virtualCpuTime);

    test('limits: an endless output line is cut off and reported', async () => {
      const { s, events } = await limited({});
      const proc = sh(s, 'head -c 100M /dev/zero; echo after');
      let bytes = 0;
      proc.stdout.on('data', (d: Buffer) => (bytes += d.length));
      const exited = new Promise((r) => proc.once('exit', r));
      proc.stdin.end();
      await exited;
      assert.ok(bytes <= 64 * 1024 * 1024, `${bytes} bytes passed`);
      assert.ok(await waitForEvent(events, 'output', 2_000));
    }, noLimits);

    test('limits: destroy removes everything, even a fork bomb', async () => {
      const { s } = await limited({ pids: 64 });
      const tok = token();
      // The sleep is a command of its own, which the pids watchdog never kills as a tool: only destroy may end it.
      // (Started beside the bomb in one shell, it was a tool: gone with the bomb's tools before a slow look found it.)
      const sleeper = sh(s, `exec sleep 1000.${tok}`);
      const procs = [sleeper, sh(s, `sleep 1001.${tok} & bomb() { bomb | bomb & }; bomb; wait`)];
      const exited = Promise.all(procs.map((p) => new Promise((r) => p.once('exit', r))));
      assert.ok(await waitFor(() => sleepsWith(`1000.${tok}`).length > 0, 60_000, { keepAlive: true }));
      await s.destroy();
      await exited;
      assert.deepEqual(sleepsWith(tok), []);
    }, noLimits);

    test('egress: with an egress socket the proxy variables reach it; nothing else does', async () => {
      const egressSocket = join(base, `egress-${seq}.sock`);
      const proxy = createHttpServer((req, res) => res.end(`egress-ok ${req.method} ${req.url}`));
      servers.push(proxy);
      await new Promise<void>((r) => proxy.listen(egressSocket, r));
      chmodSync(egressSocket, 0o666);
      const s = await newSandbox(provider, { egressSocket });
      const r = await collect(
        s.spawn({
          command: '/bin/bash',
          args: [
            '-c',
            'hp=${HTTP_PROXY#http://}; exec 3<>/dev/tcp/${hp%:*}/${hp##*:}; printf "GET http://example.test/ HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3; echo; echo "$HTTPS_PROXY|$https_proxy|$NO_PROXY"; (exec 4<>/dev/tcp/1.1.1.1/443) 2>/dev/null && echo DIRECT; true',
          ],
          cwd: workspaceOf(s),
          env: baseEnv(s),
        }),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /egress-ok GET http:\/\/example\.test\//);
      assert.match(r.stdout, /\nhttp:\/\/127\.0\.0\.1:\d+\|http:\/\/127\.0\.0\.1:\d+\|127\.0\.0\.1,localhost/);
      assert.doesNotMatch(r.stdout, /DIRECT/);
    }, notIsolated);
  });
}
