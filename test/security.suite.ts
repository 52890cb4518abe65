import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { after, before, describe, it, type TestContext } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { podmanMissing, startTestEngine, type TestEngine } from '../src/sandbox/docker/podman-service.js';
import { startServer, type Server } from '../src/server.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { UPSTREAM_KEY, isIdle, providerUnavailable, readStream, type AnyEvent } from './helpers/e2e.js';
import { startOps, type OpsServer } from './ops-helpers.js';
import { connectionAttempts, errorAttempts, keyAttempts, previewAttempts, registrationAttempts, textAttempts, type Attempt } from './security-api.js';

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
  /** Positive controls run in the same sandbox and turn (tools present, allowed paths working); all must pass. */
  controls: number;
  /** Attack names that could not be tried on this provider (a tool missing from it), with why. */
  notes: string[];
}
const rows: Row[] = [];
const coldStarts: Record<string, number[]> = {};

function row(provider: string, category: string): Row {
  const r = { provider, category, attempted: 0, succeeded: [], controls: 0, notes: [] };
  rows.push(r);
  return r;
}

/**
 * Runs each positive control, then each attempt, in a subshell of the same
 * shell: `C <name> ok|FAILED` for a control (it must work: the tool an attack
 * uses exists, the allowed path next to a forbidden one is open), `R <name>
 * SUCCEEDED` only when an attack worked. A "blocked" is worth something only
 * when the controls beside it passed.
 */
function attackScript(attempts: Array<[string, string]>, controls: Array<[string, string]> = []): string {
  const run = (cmd: string) => `( ${cmd} ) >/dev/null 2>&1 </dev/null`;
  const c = controls.map(([name, cmd]) => `if ${run(cmd)}; then echo "C ${name} ok"; else echo "C ${name} FAILED"; fi`);
  const lines = attempts.map(([name, cmd]) => `if ${run(cmd)}; then echo "R ${name} SUCCEEDED"; else echo "R ${name} blocked"; fi`);
  // The system dirs on PATH too: chroot, for one, is in /usr/sbin, where the tool's PATH may not look.
  return `cd "$PWD"\nexport PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"\n${[...c, ...lines].join('\n')}\necho R-DONE`;
}

/** `command -v` of each tool the attacks run: a missing one would make its attacks look blocked. */
const toolControls = (...tools: string[]): Array<[string, string]> => tools.map((tool) => [`tool-${tool}`, `command -v ${tool}`]);

function results(events: AnyEvent[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const e of events.filter((x) => x.type === 'agent.tool_result')) {
    const text = JSON.stringify(e.content ?? '');
    for (const m of text.matchAll(/R (\S+) (SUCCEEDED|blocked)/g)) out.set(m[1]!, m[2] === 'SUCCEEDED');
  }
  return out;
}

/** Fails unless every control ran in the turn and passed; counts them on the row. */
function checkControls(r: Row, events: AnyEvent[], controls: Array<[string, string]>): void {
  const seen = new Map<string, boolean>();
  for (const e of events.filter((x) => x.type === 'agent.tool_result')) {
    for (const m of JSON.stringify(e.content ?? '').matchAll(/C (\S+) (ok|FAILED)/g)) seen.set(m[1]!, m[2] === 'ok');
  }
  const failed = controls.filter(([name]) => seen.get(name) !== true).map(([name, cmd]) => `${name} (${seen.has(name) ? 'failed' : 'did not run'}: ${cmd})`);
  assert.deepEqual(failed, [], `${r.provider} ${r.category}: positive controls failed, so "blocked" could be an artefact: ${failed.join('; ')}`);
  r.controls += controls.length;
}

/**
 * The allowed destination of the egress controls. No network leaves this
 * host, and the proxy rightly refuses any name that resolves to this host
 * (loopback, private or its own addresses), so a local origin is reachable
 * only the way a public one would be: a host name in the environment's
 * `allowed_hosts` (under `.test`, which never resolves on the Internet) that
 * the server's egress resolver answers with a public address, and a route
 * from that address, port 80, to the origin below. Both go in through
 * `startServer`'s `egress` option, for that name and that address only; the
 * proxy's checks (name, every resolved address, the one address dialled)
 * run unchanged.
 */
const ORIGIN_NAME = 'allowed-origin.agenthost.test';
const ORIGIN_ADDRESS = '93.184.215.14';
const originRequests: string[] = [];
const origin = createHttpServer((req, res) => {
  originRequests.push(`${req.method} ${req.headers.host} ${req.url}`);
  res.end(`origin-ok ${req.url}\n`);
});
let originPort = 0;

const egress = {
  resolve: async (host: string): Promise<string[]> =>
    host === ORIGIN_NAME ? [ORIGIN_ADDRESS] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address),
  connect: (address: string, port: number): net.Socket =>
    address === ORIGIN_ADDRESS && port === 80 ? net.connect({ host: '127.0.0.1', port: originPort }) : net.connect({ host: address, port }),
};

before(async () => {
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as AddressInfo).port;
});

// SECURITY_PROVIDERS=gvisor narrows a run while working on one provider.
const only = process.env.SECURITY_PROVIDERS?.split(',');
const PROVIDERS = (['bwrap', 'gvisor', 'docker'] as const).filter((p) => !only || only.includes(p));
/** Providers skipped because this host cannot run them (never under CI, where that fails). */
const unavailableHere = new Map<string, string>();
const MIN_ATTEMPTS = 40;
for (const provider of PROVIDERS) {
  // Room for a loaded machine: the resource abuses alone may take ten minutes of it.
  describe(`security: ${provider}`, { timeout: 1_800_000 }, () => {
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
      server = await startServer(config, createLogger({ level: 'info', destination: logs }), { egress });
      const { key } = await createApiKey(server.store, 'security');
      client = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0, timeout: 300_000 });
      agentId = (await client.beta.agents.create({ name: 'attacker', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    }

    after(async () => {
      // SECURITY_LOG_FILE=/tmp/x keeps each provider's server log in /tmp/x.<provider>, for a failure's story.
      if (process.env.SECURITY_LOG_FILE) writeFileSync(`${process.env.SECURITY_LOG_FILE}.${provider}`, logText);
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

    /** An unavailable provider fails under CI and is skipped, with the reason, elsewhere. Returns whether to go on. */
    function available(t: TestContext): boolean {
      if (!unavailable) return true;
      if (process.env.CI) assert.fail(`${provider} unavailable: ${unavailable}`);
      unavailableHere.set(provider, unavailable);
      t.skip(`${provider} unavailable: ${unavailable}`);
      return false;
    }

    it('starts', async (t) => {
      await start();
      available(t);
    });

    it('escape attempts', async (t) => {
      if (!available(t)) return;
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
      const arch = `{'x86_64': 39, 'aarch64': 172}[platform.machine()]`;
      const controls: Array<[string, string]> = [
        ...toolControls('curl', 'python3', 'grep', 'ln', 'unshare', 'mount', 'chroot', 'su'),
        ['workspace-write', 'echo ctl > ctl-file && grep -q ctl ctl-file'],
        ['symlink-own-file', 'ln -sf ctl-file ctl-sym && grep -q ctl ctl-sym'],
        ['hardlink-own-file', 'ln -f ctl-file ctl-hard && grep -q ctl ctl-hard'],
        ['proc-self-root', 'ls -A /proc/self/root/ | grep -q .'],
        // The syscall and io_uring attempts go through ctypes: it works (getpid by number).
        ['python-ctypes-syscall', `python3 -c "import ctypes,os,platform,sys; l=ctypes.CDLL(None); sys.exit(0 if l.syscall(${arch}) == os.getpid() else 1)"`],
        // bash's /dev/tcp connects where something listens (the sandbox's gateway bridge).
        ['dev-tcp-gateway-bridge', 'exec 3<>/dev/tcp/127.0.0.1/4747'],
        // The gateway answers a stolen key with 401 (so the attempt was refused, not unreachable) ...
        ['gateway-socket-answers-401', `test "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --unix-socket /run/agenthost/gateway.sock -H 'x-api-key: stolen' http://localhost/v1/models)" = 401`],
        // ... and the sandbox's own token is accepted, so a path it refuses is refused by path.
        ['gateway-token-accepted', `c=$(curl -s --max-time 5 --noproxy '*' -o /dev/null -w '%{http_code}' -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/v1/models"); test "$c" != 000 && test "$c" != 401`],
      ];
      const { events } = await attack(envId, attackScript(attempts, controls));
      checkControls(r, events, controls);
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
      if (!available(t)) return;
      const r = row(provider, 'egress');
      const envId = await environment({ networking: { type: 'limited', allowed_hosts: ['localhost', 'ip6-localhost', 'allowed.example.com', ORIGIN_NAME] } });
      const apiPort = new URL(server.url).port;
      // Through the proxy even for loopback names, which NO_PROXY would otherwise send straight to the sandbox's own loopback.
      const curl = `curl -sf -o /dev/null --max-time 5 --noproxy ''`;
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
      const nonce = `${provider}-${Date.now().toString(36)}`;
      const controls: Array<[string, string]> = [
        ...toolControls('curl', 'getent'),
        ['proxy-in-env', 'test -n "$HTTP_PROXY" && test -n "$HTTPS_PROXY"'],
        // An allowed name through the same proxy: plain HTTP, and a CONNECT tunnel (-p).
        ['allowed-http', `${curl.replace(' -o /dev/null', '')} http://${ORIGIN_NAME}/ctl-http-${nonce} | grep -q 'origin-ok /ctl-http-${nonce}'`],
        ['allowed-connect', `${curl.replace(' -o /dev/null', '')} -p http://${ORIGIN_NAME}/ctl-connect-${nonce} | grep -q 'origin-ok /ctl-connect-${nonce}'`],
        // Direct sockets work where something listens (the egress bridge), and UDP sends work on loopback.
        ['dev-tcp-egress-bridge', 'exec 3<>/dev/tcp/127.0.0.1/3128'],
        ['dev-udp-loopback', 'exec 3<>/dev/udp/127.0.0.1/53 && printf x >&3'],
        ['getent-files', 'getent hosts localhost'],
      ];
      const { events, sessionId } = await attack(envId, attackScript(attempts, controls));
      checkControls(r, events, controls);
      const seen = results(events);
      for (const [name] of attempts) {
        assert.ok(seen.has(name), `${name} did not run`);
        r.attempted++;
        if (seen.get(name)) r.succeeded.push(name);
      }
      // The origin saw both allowed requests (so the controls' answers came from it, through the proxy).
      assert.ok(originRequests.includes(`GET ${ORIGIN_NAME} /ctl-http-${nonce}`), `origin saw: ${originRequests.join(', ')}`);
      assert.ok(originRequests.includes(`GET ${ORIGIN_NAME} /ctl-connect-${nonce}`), `origin saw: ${originRequests.join(', ')}`);
      // Each proxy decision is in the server's log, allowed and denied, with its host.
      const decisions = logText.split('\n').filter((l) => /"msg":"egress (allowed|denied)"/.test(l)).map((l) => JSON.parse(l) as { msg: string; sessionId: string; host: string; method: string; reason?: string; address?: string })
        .filter((d) => d.sessionId === sessionId);
      const allowed = decisions.filter((d) => d.msg === 'egress allowed' && d.host === ORIGIN_NAME);
      assert.ok(allowed.some((d) => d.method === 'GET' && d.address === ORIGIN_ADDRESS), `no allowed GET logged: ${JSON.stringify(allowed)}`);
      assert.ok(allowed.some((d) => d.method === 'CONNECT' && d.address === ORIGIN_ADDRESS), `no allowed CONNECT logged: ${JSON.stringify(allowed)}`);
      for (const host of ['denied.example.com', '1.1.1.1', 'localhost', 'metadata.google.internal']) {
        assert.ok(decisions.some((d) => d.msg === 'egress denied' && d.host === host && d.reason), `no denial of ${host} logged`);
      }
      assert.ok(!decisions.some((d) => d.msg === 'egress allowed' && d.host !== ORIGIN_NAME), `something else was allowed: ${JSON.stringify(decisions.filter((d) => d.msg === 'egress allowed' && d.host !== ORIGIN_NAME))}`);
    });

    it('secret hunts', async (t) => {
      if (!available(t)) return;
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
      const controls: Array<[string, string]> = [
        ...toolControls('env', 'grep', 'tr', 'cat', 'curl'),
        // The same searches find what is there: the gateway's URL in env and in other processes' environ,
        // this very shell in the command lines, a key-shaped string in a file, the gateway's answer.
        ['env-readable', 'env | grep -q ^ANTHROPIC_BASE_URL='],
        ['proc-environ-readable', `cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q ^ANTHROPIC_BASE_URL=`],
        ['proc-cmdline-readable', `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -q 'R-DON[E]'`],
        ['files-searchable', `printf 'sk-ant-ctl-%s' xyz > ctl-key && grep -rqs 'sk-ant-ctl-xy[z]' "$PWD"`],
        ['gateway-answers', `curl -s --max-time 5 --noproxy '*' -D - -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/v1/models" | grep -q '^HTTP/'`],
        // A request the proxy refuses (a .test name never resolves), so the server's log holds this session.
        ['proxy-answers', `curl -s --max-time 5 http://nx.agenthost.test/ | grep -q 'agenthost egress'`],
      ];
      const { events, sessionId } = await attack(envId, attackScript(attempts, controls));
      checkControls(r, events, controls);
      const seen = results(events);
      for (const [name] of attempts) {
        assert.ok(seen.has(name), `${name} did not run`);
        r.attempted++;
        if (seen.get(name)) r.succeeded.push(name);
      }
      const all = await client.beta.sessions.events.list(sessionId, { limit: 1000 } as never);
      // What is searched holds the hunt itself: its tool result in the events, the session in the logs.
      assert.match(JSON.stringify(all), /R-DONE/);
      assert.ok(logText.includes(sessionId), 'the server log says nothing of the session');
      r.attempted++;
      if (JSON.stringify(all).includes(k)) r.succeeded.push('event-log');
      r.attempted++;
      if (JSON.stringify(await client.beta.sessions.retrieve(sessionId)).includes(k)) r.succeeded.push('session-record');
      r.attempted++;
      if (logText.includes(k)) r.succeeded.push('server-logs');
    });

    it('resource abuse', async (t) => {
      if (!available(t)) return;
      const r = row(provider, 'resources');
      const limits = { memory_mib: 768, cpus: 1, pids: 256, disk_mib: 512 };
      // An abuse whose report must name one limit runs where no other limit can end it first, however slow the
      // machine: a balloon on a loaded two-core host grew by 5 MiB/s under gVisor (the sandboxes' CPU weight is
      // an eighth of a process) and met a 60 s tool timeout long before its 768 MiB. There the tool timeout is
      // the API's default, 600 s, beyond what this test waits for the turn. The others accept the tool timeout.
      const clocked = await environment({ sandbox: { ...limits, tool_timeout_s: 60 } });
      const unclocked = await environment({ sandbox: { ...limits, tool_timeout_s: 600 } });
      const abuses: Array<[string, string, RegExp, string]> = [
        ['fork-bomb', 'bomb() { bomb | bomb & }; bomb; sleep 20', /processes|tool_timeout/, clocked],
        ['memory-balloon', 'head -c 3000M /dev/zero | tail -n 1', /memory/, unclocked],
        // 16 MiB files: the limit, not process start-ups (slow under gVisor), decides how long it takes.
        // Two allocations over the total at once, then the loop.
        ['disk-fill', 'fallocate -l 300M fa; fallocate -l 300M fb; i=0; while [ $i -lt 160 ]; do head -c 16M /dev/zero > f$i || break; i=$((i+1)); done; sleep 5', /disk_mib|files/, unclocked],
        // agenthost's report, whichever of its limits stopped the flood (the output line, the disk, memory, the clock).
        ['stdout-flood-1gib', "head -c 1073741824 /dev/zero | tr '\\0' a", /output|disk_mib|memory_mib|tool_timeout_s/, clocked],
      ];
      // SECURITY_ABUSES=memory-balloon narrows a run to some abuses (the suite's totals then fail).
      const onlyAbuses = process.env.SECURITY_ABUSES?.split(',');
      for (const [name, command, expected, envId] of abuses.filter(([n]) => !onlyAbuses || onlyAbuses.includes(n))) {
        // The abuse takes the first step; a neighbouring session started while it runs takes the
        // second and must finish; both end on the repeating last step.
        // Named after the abuse: a late request of an earlier abuse's sessions (slow on a loaded host) cannot take these steps.
        model.setScript([{ ...bash(command), match: `abuse-${name}` }, { ...bash('echo neighbor-ok'), match: `neighbor-${name}` }, { when: 'tools', text: 'done', repeat: true }]);
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
        // Less than the unclocked tool timeout: the limit under test, or nothing, ends the abuse.
        const abuseStarted = Date.now();
        const steps = model.pending;
        const abuse = turn(envId, 570_000, `abuse-${name}`);
        let abuseEnded = false;
        void abuse.then(() => {}, () => {}).finally(() => (abuseEnded = true));
        // The neighbour starts once the abuse has its step and runs: on a loaded host the abuse's Claude Code
        // reached the model after a neighbour started a fixed 4 s later, which then met the abuse's step and got
        // the default reply (only the step at the cursor can match).
        while (model.pending === steps && !abuseEnded) await new Promise((res2) => setTimeout(res2, 100));
        await new Promise((res2) => setTimeout(res2, 4_000));
        const neighbor = await turn(envId, 120_000, `neighbor-${name}`).catch((error: unknown) => ({ events: [] as AnyEvent[], error }));
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
        // Only agenthost's own report counts ("sandbox limit: ..."), not what Claude Code says of the output.
        // For the flood, the file-size limit agenthost sets (RLIMIT_FSIZE = disk_mib) stopping the writer also
        // counts when the tool result shows it: SIGXFSZ (exit 153), or EFBIG ("File too large") where the signal
        // is ignored. Under Claude Code it does not: the tool's output is a file, the shell writes its notice of
        // the killed writer into that full file and dies of SIGXFSZ too ("Exit code 1"), and the file is deleted
        // at once - the report comes from the sandbox, which holds files being written open (written-files.ts).
        const fsizeStopped = name.startsWith('stdout') && /exit code 153|file size limit exceeded|file too large/i.test(toolResult);
        const reported = errors.some((e) => /sandbox limit/.test(e) && expected.test(e)) || fsizeStopped;
        r.attempted++;
        if (worst > HEALTH_BUDGET_MS) r.succeeded.push(`${name}: /healthz took ${Math.round(worst)} ms`);
        if (!neighborOk) {
          const seen = 'error' in neighbor ? String(neighbor.error) : neighbor.events.map((e) => (e.type === 'session.error' ? JSON.stringify(e.error) : e.type)).join(', ');
          r.succeeded.push(`${name}: a neighbouring session failed (${seen.slice(0, 600)})`);
        }
        if (!reported) r.succeeded.push(`${name}: not contained or not reported (${errors.join(' | ').slice(0, 300)}; ${toolResult.slice(0, 300)})`);
        const report = events.find((e) => e.type === 'session.error' && /sandbox limit/.test(JSON.stringify(e.error)) && expected.test(JSON.stringify(e.error)));
        const reportedAfter = report ? `, reported ${((Date.parse(String(report.processed_at)) - abuseStarted) / 1000).toFixed(0)} s after the session's creation` : '';
        r.notes.push(`${name}: /healthz worst ${Math.round(worst)} ms, event loop stalled at most ${Math.round(loop.max / 1e6)} ms${reportedAfter}; ${errors.map((e) => (JSON.parse(e) as { message?: string }).message).join(' / ').slice(0, 200)}${fsizeStopped ? '; the writer died of SIGXFSZ at the file-size limit' : ''}`);
        if (name.startsWith('stdout')) r.notes.push(`${name}: tool result ${toolResult.slice(0, 60)} ... ${toolResult.replace(/a{20,}/g, 'a...').slice(-400)}`);
      }
    });

    it('cold start: create to first model request', async (t) => {
      if (!available(t)) return;
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

// The API itself, attacked from outside any sandbox: another workspace, a read-only key, no key at all.
const API_SECTION = !only || only.includes('api');
const API_CATEGORIES = ['connections', 'keys', 'previews', 'registry', 'requests', 'text'];
/** Short bounds, so the slow clients' attempt takes seconds; the rules are the same at the defaults. */
const SLOW_CLIENT_BOUNDS = { AGENTHOST_MAX_CONNECTIONS_PER_ADDRESS: '64', AGENTHOST_HEADERS_TIMEOUT_MS: '2000', AGENTHOST_BODY_TIMEOUT_MS: '2000' };
const MIN_API_ATTEMPTS = 40;
if (API_SECTION) describe('security: api', { timeout: 900_000 }, () => {
  let h: OpsServer;
  const record = (category: string, attempts: Attempt[]) => {
    const r = row('api', category);
    r.attempted += attempts.length;
    r.succeeded.push(...attempts.filter((a) => a.succeeded).map((a) => `${a.name}: ${a.detail ?? ''}`));
  };
  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_BODY_LIMIT: String(8 * 1024 * 1024), ...SLOW_CLIENT_BOUNDS } });
  });
  after(() => h?.close());
  it('previews', async () => record('previews', await previewAttempts(h)));
  it('malformed requests', async () => record('requests', await errorAttempts(h)));
  it('webhooks and triggers', async () => record('registry', await registrationAttempts(h)));
  it('stored text', async () => record('text', await textAttempts(h)));
  it('revoked keys', async () => record('keys', await keyAttempts(h)));
  it('slow clients', async () =>
    record('connections', await connectionAttempts(h, { perAddress: 64, headerTimeoutMs: 2_000, bodyIdleTimeoutMs: 2_000 })));
});

after(async () => {
  await new Promise((r) => origin.close(r));
  const lines = rows.map((r) => `${r.provider.padEnd(8)} ${r.category.padEnd(10)} attempted ${String(r.attempted).padStart(3)}, succeeded ${r.succeeded.length}${r.controls ? `, controls passed ${r.controls}` : ''}`);
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.provider, (totals.get(r.provider) ?? 0) + r.attempted);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log(['', 'security suite', ...lines, ...[...totals].map(([p, n]) => `${p.padEnd(8)} total      attempted ${n}`),
    ...Object.entries(coldStarts).map(([p, xs]) => `${p.padEnd(8)} cold start (create to first model request) median ${Math.round(median(xs))} ms of ${xs.map(Math.round).join(', ')}`),
    ...rows.flatMap((r) => r.succeeded.map((s) => `SUCCEEDED ${r.provider} ${r.category}: ${s}`)),
    ...rows.flatMap((r) => r.notes.map((s) => `  ${r.provider} ${s}`)),
  ].join('\n'));
  assert.deepEqual(rows.flatMap((r) => r.succeeded), [], 'an attack succeeded');
  // An empty table passes nothing: every provider this run covers attacked in every category, 40 times or more.
  // Only a provider this host cannot run is left out, and never under CI (its tests failed).
  for (const provider of PROVIDERS.filter((p) => process.env.CI || !unavailableHere.has(p))) {
    const mine = rows.filter((r) => r.provider === provider);
    assert.deepEqual(mine.map((r) => r.category).sort(), ['egress', 'escape', 'resources', 'secrets'], `${provider}: categories with rows`);
    const attempted = mine.reduce((n, r) => n + r.attempted, 0);
    assert.ok(attempted >= MIN_ATTEMPTS, `${provider}: ${attempted} attempts, fewer than ${MIN_ATTEMPTS}`);
    assert.ok(mine.filter((r) => r.category !== 'resources').every((r) => r.controls > 0), `${provider}: a category ran without its positive controls`);
    assert.ok((coldStarts[provider] ?? []).length > 0, `${provider}: no cold start measured`);
  }
  if (API_SECTION) {
    const api = rows.filter((r) => r.provider === 'api');
    assert.deepEqual(api.map((r) => r.category).sort(), API_CATEGORIES, 'api: categories with rows');
    const attempted = api.reduce((n, r) => n + r.attempted, 0);
    assert.ok(attempted >= MIN_API_ATTEMPTS, `api: ${attempted} attempts, fewer than ${MIN_API_ATTEMPTS}`);
  }
  for (const [provider, why] of unavailableHere) console.log(`${provider} was not run: ${why}`);
});

