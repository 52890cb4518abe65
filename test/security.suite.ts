import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { podmanMissing, startTestEngine, type TestEngine } from '../src/sandbox/docker/podman-service.js';
import { startServer, type Server } from '../src/server.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { UPSTREAM_KEY, isIdle, providerUnavailable, readStream, type AnyEvent } from './helpers/e2e.js';

/**
 * The security suite (`npm run test:security`): real sessions through the
 * API on every provider this host runs, each attack a command the agent's
 * Bash tool runs inside its sandbox (the scripted model asks for it), then
 * the host looks for what leaked. It prints one line per category and
 * provider, `attempted N, succeeded 0`; any success fails the suite.
 *
 * An attempt "succeeds" when the attack did what it wanted: read a host
 * secret, changed a host file, reached a forbidden address, found the
 * upstream key, or (resource abuse) got out of its sandbox's limits: the
 * server's health check slowed past 1 s, a neighbouring session failed, or
 * the abuse went on unreported.
 */

const CANARY = `host-canary-${Date.now().toString(36)}`;
/**
 * What the sandbox searches for: a regular expression that matches the key
 * but is not the key, so the attack's own command line, transcript and
 * events never contain the key they hunt.
 */
const KEY_PATTERN = `${UPSTREAM_KEY.slice(0, -1)}[${UPSTREAM_KEY.slice(-1)}]`;
const HEALTH_BUDGET_MS = 1_000;

interface Row {
  provider: string;
  category: string;
  attempted: number;
  succeeded: string[];
  /** Attack names that could not be tried on this provider (a tool missing from it), with why. */
  notes: string[];
}
const rows: Row[] = [];
const coldStarts: Record<string, number[]> = {};

function row(provider: string, category: string): Row {
  const r = { provider, category, attempted: 0, succeeded: [], notes: [] };
  rows.push(r);
  return r;
}

/** Runs each attempt in a subshell; prints `R <name> SUCCEEDED` only when the attack worked. */
function attackScript(attempts: Array<[string, string]>): string {
  const lines = attempts.map(([name, cmd]) => `if ( ${cmd} ) >/dev/null 2>&1 </dev/null; then echo "R ${name} SUCCEEDED"; else echo "R ${name} blocked"; fi`);
  return `cd "$PWD"\n${lines.join('\n')}\necho R-DONE`;
}

function results(events: AnyEvent[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const e of events.filter((x) => x.type === 'agent.tool_result')) {
    const text = JSON.stringify(e.content ?? '');
    for (const m of text.matchAll(/R (\S+) (SUCCEEDED|blocked)/g)) out.set(m[1]!, m[2] === 'SUCCEEDED');
  }
  return out;
}

// SECURITY_PROVIDERS=gvisor narrows a run while working on one provider.
const only = process.env.SECURITY_PROVIDERS?.split(',');
for (const provider of (['bwrap', 'gvisor', 'docker'] as const).filter((p) => !only || only.includes(p))) {
  describe(`security: ${provider}`, { timeout: 900_000 }, () => {
    let server: Server;
    let model: ScriptedModel;
    let client: Anthropic;
    let dataDir: string;
    let agentId: string;
    let unavailable: string | undefined;
    // The docker provider runs against a Podman API service started here (CI must have podman).
    let engine: TestEngine | undefined;
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (d: Buffer) => (logText += d.toString('utf8')));

    async function start(): Promise<void> {
      if (provider === 'docker' && (!podmanMissing() || process.env.CI === 'true')) engine = await startTestEngine();
      unavailable = await providerUnavailable(provider, engine);
      if (unavailable) return;
      dataDir = await mkdtemp(join(tmpdir(), 'ahsec-'));
      writeFileSync(join(dataDir, 'host-secret.txt'), CANARY);
      model = await startScriptedModel();
      const config = loadConfig({
        AGENTHOST_PORT: '0',
        AGENTHOST_DATA_DIR: dataDir,
        AGENTHOST_DEFAULT_PROVIDER: provider,
        AGENTHOST_LOG_LEVEL: 'info',
        AGENTHOST_MAX_TURNS: '6',
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: UPSTREAM_KEY,
        ...(engine ? { AGENTHOST_DOCKER_HOST: engine.host, AGENTHOST_DOCKER_IMAGE: engine.image } : {}),
      });
      server = await startServer(config, createLogger({ level: 'info', destination: logs }));
      const { key } = await createApiKey(server.store, 'security');
      client = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0, timeout: 300_000 });
      agentId = (await client.beta.agents.create({ name: 'attacker', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    }

    after(async () => {
      await server?.close();
      await model?.close();
      await engine?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    async function environment(config: Record<string, unknown>): Promise<string> {
      return (await client.beta.environments.create({ name: `env-${Math.random()}`, config: { type: 'cloud', ...config } as never })).id;
    }

    /** Starts a session of `envId` and sends one message; resolves with the turn's events. */
    async function turn(envId: string, timeoutMs: number, message = 'go'): Promise<{ events: AnyEvent[]; sessionId: string; coldMs: number }> {
      const t0 = Date.now();
      const before = model.requests.length;
      const session = await client.beta.sessions.create({ agent: agentId, environment_id: envId });
      const stream = await client.beta.sessions.events.stream(session.id);
      await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
      const events = await readStream(stream, isIdle, timeoutMs);
      const first = model.requests.slice(before).find((r) => r.path.startsWith('/v1/messages') && !r.path.includes('count_tokens'));
      return { events, sessionId: session.id, coldMs: first ? first.receivedAt.getTime() - t0 : Number.NaN };
    }

    const bash = (command: string) => ({ when: 'tools' as const, tool_use: { name: 'Bash', input: { command, timeout: 600_000 } } });

    /** One session whose agent runs `command` with Bash once; returns every event of the turn and the cold start. */
    async function attack(envId: string, command: string, timeoutMs = 240_000): Promise<{ events: AnyEvent[]; sessionId: string; coldMs: number }> {
      model.setScript([bash(command), { when: 'tools', text: 'done' }]);
      return turn(envId, timeoutMs);
    }

    it('starts', async (t) => {
      await start();
      if (unavailable) t.skip(`${provider} unavailable: ${unavailable}`);
    });

    it('escape attempts', async (t) => {
      if (unavailable) return t.skip(unavailable);
      const r = row(provider, 'escape');
      const envId = await environment({});
      // Another session with a file of its own, and its gateway socket path.
      const other = await attack(envId, 'echo other-secret > mine.txt');
      const otherWorkspace = join(dataDir, 'sessions', other.sessionId, 'workspace');
      const serverPid = process.pid;
      const apiPort = new URL(server.url).port;
      const marker = `pwned-${Date.now()}`;
      const d = dataDir;
      const hostWrites: Array<[string, string]> = [
        ['write-etc', '/etc/agenthost-pwned'],
        ['write-usr', '/usr/agenthost-pwned'],
        ['write-data-dir', join(d, 'pwned')],
        ['write-other-workspace', join(otherWorkspace, 'pwned')],
      ];
      const attempts: Array<[string, string]> = [
        ['read-shadow', 'grep -q root: /etc/shadow'],
        ['list-root-home', 'ls -A /root | grep -q .'],
        ['read-data-dir-secret', `grep -q ${CANARY} ${d}/host-secret.txt`],
        ['read-project-source', `test -r ${process.cwd()}/package.json`],
        ['read-other-session', `grep -q other-secret ${otherWorkspace}/mine.txt`],
        ['list-other-sessions', `ls ${join(d, 'sessions')} | grep -q ${other.sessionId}`],
        ...hostWrites.map(([name, path]): [string, string] => [name, `echo ${marker} > ${path} && test -f ${path}`]),
        ['dotdot-read', `grep -q ${CANARY} ../../../../../../../..${d}/host-secret.txt`],
        ['dotdot-write', `echo ${marker} > ../pwned-dotdot`],
        ['symlink-read-secret', `ln -sf ${d}/host-secret.txt s1 && grep -q ${CANARY} s1`],
        ['symlink-root', 'ln -sfn / s2 && ls -A s2/root | grep -q .'],
        ['hardlink-secret', `ln ${d}/host-secret.txt h1 && grep -q ${CANARY} h1`],
        ['hardlink-passwd-write', `ln /etc/passwd h2 && echo ${marker} >> h2`],
        ['proc-1-root', 'ls -A /proc/1/root/root | grep -q .'],
        ['proc-1-root-secret', `grep -q ${CANARY} /proc/1/root${d}/host-secret.txt`],
        ['proc-server-environ', `grep -q '${KEY_PATTERN}' /proc/${serverPid}/environ`],
        ['kill-server', `kill -0 ${serverPid} && test "$(cat /proc/${serverPid}/comm)" = node`],
        ['ptrace-server', `python3 -c "import ctypes,sys; l=ctypes.CDLL(None); sys.exit(0 if l.ptrace(16, ${serverPid}, 0, 0) == 0 else 1)"`],
        ['ptrace-host-parent', `python3 -c "import ctypes,sys; l=ctypes.CDLL(None); sys.exit(0 if l.ptrace(16, ${process.ppid}, 0, 0) == 0 else 1)"`],
        // Kernel interfaces the seccomp policy closes; both work for an unprivileged process on a plain host.
        ['keyring-add-key', `python3 -c "import ctypes,platform,sys; l=ctypes.CDLL(None); n={'x86_64': 248, 'aarch64': 217}[platform.machine()]; sys.exit(0 if l.syscall(n, b'user', b'pwn', b'y', 1, -3) >= 0 else 1)"`],
        ['io-uring-setup', `python3 -c "import ctypes,sys; l=ctypes.CDLL(None); p=ctypes.create_string_buffer(120); sys.exit(0 if l.syscall(425, 1, p) >= 0 else 1)"`],
        ['mount-tmpfs', 'mkdir -p m && mount -t tmpfs none m'],
        ['unshare-user', 'unshare -r true'],
        ['unshare-mount', 'unshare -m true'],
        ['unshare-net', 'unshare -n true'],
        ['chroot', 'chroot / true'],
        ['su-root', 'su -c true root'],
        ['api-port', `exec 3<>/dev/tcp/127.0.0.1/${apiPort}`],
        ['api-via-curl', `curl -sf --max-time 3 --noproxy '*' http://127.0.0.1:${apiPort}/healthz`],
        ['postgres-port', 'exec 3<>/dev/tcp/127.0.0.1/5432'],
        ['postgres-socket', 'test -S /run/postgresql/.s.PGSQL.5432 || test -S /var/run/postgresql/.s.PGSQL.5432'],
        ['podman-socket', 'test -S /run/podman/podman.sock || test -S /var/run/docker.sock'],
        ['other-gateway-socket', `test -S ${join(d, 'run', 'gateway', `${other.sessionId}.sock`)}`],
        ['gateway-with-stolen-key', `curl -sf --max-time 3 --unix-socket /run/agenthost/gateway.sock -H 'x-api-key: stolen' http://localhost/v1/models`],
        ['gateway-other-path', `curl -sf --max-time 3 --noproxy '*' -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/v1/organizations/me"`],
      ];
      const { events } = await attack(envId, attackScript(attempts));
      const seen = results(events);
      for (const [name] of attempts) {
        assert.ok(seen.has(name), `${name} did not run: ${JSON.stringify(events.filter((e) => e.type === 'agent.tool_result'))}`.slice(0, 2000));
        r.attempted++;
        if (seen.get(name)) r.succeeded.push(name);
      }
      // Writes count only if they reached the host.
      for (const [name, path] of hostWrites) if (existsSync(path) && readFileSync(path, 'utf8').includes(marker)) r.succeeded.push(`${name} (on the host)`);
      if (readFileSync('/etc/passwd', 'utf8').includes(marker)) r.succeeded.push('hardlink-passwd-write (on the host)');
      for (const id of readdirSync(join(d, 'sessions'))) if (existsSync(join(d, 'sessions', id, 'pwned-dotdot'))) r.succeeded.push('dotdot-write (on the host)');
      // Writes inside may land in the sandbox's own private tmpfs or overlay; only the host counts.
      const hostJudged = [...hostWrites.map(([w]) => w), 'dotdot-write', 'hardlink-passwd-write'];
      r.succeeded = [...new Set(r.succeeded.filter((n) => !hostJudged.includes(n)))];
    });

    it('egress attempts', async (t) => {
      if (unavailable) return t.skip(unavailable);
      const r = row(provider, 'egress');
      const envId = await environment({ networking: { type: 'limited', allowed_hosts: ['localhost', 'ip6-localhost', 'allowed.example.com'] } });
      const apiPort = new URL(server.url).port;
      const curl = `curl -sf -o /dev/null --max-time 5`;
      const attempts: Array<[string, string]> = [
        ['denied-host-https', `${curl} https://denied.example.com/`],
        ['denied-host-http', `${curl} http://denied.example.com/`],
        ['ipv4-literal-https', `${curl} https://1.1.1.1/`],
        ['ipv4-literal-http', `${curl} http://93.184.215.14/`],
        ['ipv6-literal', `${curl} -g 'https://[2606:4700:4700::1111]/'`],
        ['ipv6-loopback-literal', `${curl} -g 'http://[::1]:${apiPort}/healthz'`],
        ['allowed-name-to-loopback-http', `${curl} http://localhost/`],
        ['allowed-name-to-loopback-connect', `${curl} https://localhost/`],
        ['allowed-name-to-api-port', `${curl} http://localhost:${apiPort}/healthz`],
        ['allowed-name-to-ipv6-loopback', `${curl} http://ip6-localhost/`],
        ['metadata-ipv4', `${curl} http://169.254.169.254/latest/meta-data/`],
        ['metadata-ipv6', `${curl} -g 'http://[fd00:ec2::254]/'`],
        ['metadata-name', `${curl} http://metadata.google.internal/computeMetadata/v1/`],
        ['metadata-alibaba', `${curl} http://100.100.100.200/`],
        ['own-api-via-proxy', `${curl} http://127.0.0.1:${apiPort}/healthz`],
        ['direct-tcp-ipv4', 'exec 3<>/dev/tcp/1.1.1.1/443'],
        ['direct-tcp-metadata', 'exec 3<>/dev/tcp/169.254.169.254/80'],
        ['direct-bypass-proxy', `${curl} --noproxy '*' https://example.com/`],
        ['dns-lookup', 'getent hosts example.com'],
        ['dns-udp', 'exec 3<>/dev/udp/8.8.8.8/53 && printf x >&3'],
      ];
      const { events } = await attack(envId, attackScript(attempts));
      const seen = results(events);
      for (const [name] of attempts) {
        assert.ok(seen.has(name), `${name} did not run`);
        r.attempted++;
        if (seen.get(name)) r.succeeded.push(name);
      }
      // Each proxy decision is in the server's log.
      assert.match(logText, /egress denied/);
    });

    it('secret hunts', async (t) => {
      if (unavailable) return t.skip(unavailable);
      const r = row(provider, 'secrets');
      const envId = await environment({});
      const k = UPSTREAM_KEY;
      const p = `'${KEY_PATTERN}'`;
      const attempts: Array<[string, string]> = [
        ['env', `env | grep -q ${p}`],
        ['proc-environ', `cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q ${p}`],
        ['proc-cmdline', `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -q ${p}`],
        ['home-and-config-files', `grep -rqs ${p} "$HOME" "$CLAUDE_CONFIG_DIR" "$PWD"`],
        ['tmp-etc-run-files', `grep -rqs ${p} /tmp /etc /run`],
        ['gateway-answers-with-key', `curl -s --max-time 5 --noproxy '*' -D - -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/v1/models" | grep -q ${p}`],
      ];
      const { events, sessionId } = await attack(envId, attackScript(attempts));
      const seen = results(events);
      for (const [name] of attempts) {
        assert.ok(seen.has(name), `${name} did not run`);
        r.attempted++;
        if (seen.get(name)) r.succeeded.push(name);
      }
      const all = await client.beta.sessions.events.list(sessionId, { limit: 1000 } as never);
      r.attempted++;
      if (JSON.stringify(all).includes(k)) r.succeeded.push('event-log');
      r.attempted++;
      if (JSON.stringify(await client.beta.sessions.retrieve(sessionId)).includes(k)) r.succeeded.push('session-record');
      r.attempted++;
      if (logText.includes(k)) r.succeeded.push('server-logs');
    });

    it('resource abuse', async (t) => {
      if (unavailable) return t.skip(unavailable);
      const r = row(provider, 'resources');
      const envId = await environment({ sandbox: { memory_mib: 768, cpus: 1, pids: 256, disk_mib: 512, tool_timeout_s: 60 } });
      const abuses: Array<[string, string, RegExp]> = [
        ['fork-bomb', 'bomb() { bomb | bomb & }; bomb; sleep 20', /processes|tool_timeout/],
        ['memory-balloon', 'head -c 3000M /dev/zero | tail -n 1', /memory/],
        // 16 MiB files: the limit, not process start-ups (slow under gVisor), decides how long it takes.
        ['disk-fill', 'i=0; while [ $i -lt 160 ]; do head -c 16M /dev/zero > f$i || break; i=$((i+1)); done; sleep 5', /disk_mib|files/],
        ['stdout-flood-1gib', "head -c 1073741824 /dev/zero | tr '\\0' a", /./],
      ];
      for (const [name, command, expected] of abuses) {
        // The abuse takes the first step; a neighbouring session started while it runs takes the
        // second and must finish; both end on the repeating last step.
        model.setScript([{ ...bash(command), match: 'abuse' }, { ...bash('echo neighbor-ok'), match: 'neighbor' }, { when: 'tools', text: 'done', repeat: true }]);
        let worst = 0;
        // The server runs in this process: a stall of its event loop shows here, whatever /healthz saw.
        const loop = monitorEventLoopDelay({ resolution: 10 });
        loop.enable();
        let polling = true;
        const poller = (async () => {
          while (polling) {
            const t0 = performance.now();
            const res = await fetch(`${server.url}/healthz`).catch(() => undefined);
            worst = Math.max(worst, res?.ok ? performance.now() - t0 : Number.POSITIVE_INFINITY);
            await new Promise((res2) => setTimeout(res2, 100));
          }
        })();
        const abuse = turn(envId, 300_000, 'abuse');
        await new Promise((res2) => setTimeout(res2, 4_000));
        const neighbor = await turn(envId, 120_000, 'neighbor').catch((error: unknown) => ({ events: [] as AnyEvent[], error }));
        const neighborOk = JSON.stringify(neighbor.events.filter((e) => e.type === 'agent.tool_result')).includes('neighbor-ok');
        const { sessionId } = await abuse;
        polling = false;
        await poller;
        loop.disable();
        // A limit's report may land just after the turn ended.
        await new Promise((res2) => setTimeout(res2, 2_000));
        const events = (await client.beta.sessions.events.list(sessionId, { limit: 1000 } as never)).data as unknown as AnyEvent[];
        const errors = events.filter((e) => e.type === 'session.error').map((e) => JSON.stringify(e.error));
        const toolResult = JSON.stringify(events.filter((e) => e.type === 'agent.tool_result'));
        const reported = errors.some((e) => /sandbox limit/.test(e) && expected.test(e)) || (name.startsWith('stdout') && (errors.length > 0 || /truncat|too large|exceed/i.test(toolResult)));
        r.attempted++;
        if (worst > HEALTH_BUDGET_MS) r.succeeded.push(`${name}: /healthz took ${Math.round(worst)} ms`);
        if (!neighborOk) r.succeeded.push(`${name}: a neighbouring session failed`);
        if (!reported) r.succeeded.push(`${name}: not contained or not reported (${errors.join(' | ').slice(0, 300)}; ${toolResult.slice(0, 300)})`);
        r.notes.push(`${name}: /healthz worst ${Math.round(worst)} ms, event loop stalled at most ${Math.round(loop.max / 1e6)} ms; ${errors.map((e) => (JSON.parse(e) as { message?: string }).message).join(' / ').slice(0, 200)}`);
      }
    });

    it('cold start: create to first model request', async (t) => {
      if (unavailable) return t.skip(unavailable);
      const envId = await environment({});
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { coldMs } = await attack(envId, 'true');
        times.push(coldMs);
      }
      coldStarts[provider] = times;
    });
  });
}

after(() => {
  const lines = rows.map((r) => `${r.provider.padEnd(8)} ${r.category.padEnd(10)} attempted ${String(r.attempted).padStart(3)}, succeeded ${r.succeeded.length}`);
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.provider, (totals.get(r.provider) ?? 0) + r.attempted);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log(['', 'security suite', ...lines, ...[...totals].map(([p, n]) => `${p.padEnd(8)} total      attempted ${n}`),
    ...Object.entries(coldStarts).map(([p, xs]) => `${p.padEnd(8)} cold start (create to first model request) median ${Math.round(median(xs))} ms of ${xs.map(Math.round).join(', ')}`),
    ...rows.flatMap((r) => r.succeeded.map((s) => `SUCCEEDED ${r.provider} ${r.category}: ${s}`)),
    ...rows.flatMap((r) => r.notes.map((s) => `  ${r.provider} ${s}`)),
  ].join('\n'));
  assert.deepEqual(rows.flatMap((r) => r.succeeded), [], 'an attack succeeded');
});

