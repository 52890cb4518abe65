import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import Docker from 'dockerode';
import { podmanMissing, startTestEngine, type TestEngine } from '../src/sandbox/docker/podman-service.js';
import { isIdle, providerUnavailable, readStream, startE2E, text, type AnyEvent, type E2E } from './helpers/e2e.js';

/**
 * One server whose default provider is bwrap and which runs gvisor and docker
 * besides (AGENTHOST_SANDBOX_PROVIDERS): an environment picks its sandbox with
 * `config.sandbox.provider`, and the agent's Bash tool, run in that sandbox,
 * shows from inside what kind of sandbox it is. Under CI a provider that
 * cannot run here fails; elsewhere its test is skipped with the reason.
 */

/** What the tool prints about where it runs: one `P key=value` line each. */
const PROBE = [
  'echo "P pid1=$(cat /proc/1/comm 2>&1)"',
  'echo "P version=$(cat /proc/version 2>&1)"',
  'echo "P dmesg=$(dmesg 2>&1 | head -n 3 | tr "\\n" " ")"',
  'echo "P cgroup=$(tr "\\n" " " < /proc/self/cgroup 2>&1)"',
  'echo "P exec=$(ls -d /run/agenthost/exec-* 2>/dev/null | head -n 1)"',
  'echo "P user=$(id -u)"',
  'echo P-DONE',
].join('\n');

const HOST_KERNEL = readFileSync('/proc/version', 'utf8').trim();
const EXTRA = ['gvisor', 'docker'] as const;
type Extra = (typeof EXTRA)[number];

describe('environments choose their sandbox provider (bwrap by default; gvisor and docker besides)', { timeout: 600_000 }, () => {
  let h: E2E | undefined;
  let engine: TestEngine | undefined;
  let agentId = '';
  const unavailable: Partial<Record<Extra, string>> = {};
  const coldMs: Record<string, number> = {};

  before(async () => {
    // The docker provider runs against a Podman API service started here (CI must have podman).
    if (!podmanMissing() || process.env.CI) engine = await startTestEngine();
    for (const p of EXTRA) {
      const why = await providerUnavailable(p, p === 'docker' ? engine : undefined);
      if (why) unavailable[p] = why;
    }
    const extra = EXTRA.filter((p) => !unavailable[p]);
    h = await startE2E({
      backend: 'sqlite',
      provider: 'bwrap',
      ...(engine && !unavailable.docker ? { engine } : {}),
      env: { AGENTHOST_SANDBOX_PROVIDERS: extra.join(',') },
    });
    agentId = (await h.client.beta.agents.create({ name: 'prober', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });

  after(async () => {
    if (Object.keys(coldMs).length > 0) console.log(`create to first model request: ${Object.entries(coldMs).map(([p, ms]) => `${p} ${ms} ms`).join(', ')}`);
    await h?.close();
    await engine?.close();
  });

  function requireProvider(t: TestContext, p: Extra): boolean {
    const why = unavailable[p];
    if (!why) return true;
    if (process.env.CI) assert.fail(`${p} cannot run here: ${why}`);
    t.skip(`${p} cannot run here: ${why}`);
    return false;
  }

  /** Creates an environment (with `provider`, or none), runs the probe in one session's Bash tool; returns what it printed. */
  async function probe(label: string, provider?: string): Promise<{ probe: Map<string, string>; sessionId: string; runtimeProvider: unknown; envProvider: unknown }> {
    const { client, model } = h!;
    const env = await client.beta.environments.create({
      name: `env-${label}`,
      config: { type: 'cloud', ...(provider ? { sandbox: { provider } } : {}) } as never,
    });
    model.setScript([{ when: 'tools', tool_use: { name: 'Bash', input: { command: PROBE } } }, { when: 'tools', text: 'done' }]);
    const before = model.requests.length;
    const t0 = Date.now();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: env.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'where am I?' }] }] });
    const events: AnyEvent[] = await readStream(stream, isIdle, 240_000);
    const first = model.requests.slice(before).find((r) => r.path.startsWith('/v1/messages') && !r.path.includes('count_tokens'));
    if (first) coldMs[label] = first.receivedAt.getTime() - t0;
    const result = events.find((e) => e.type === 'agent.tool_result');
    assert.ok(result, `no tool result: ${events.map((e) => e.type).join(', ')}`);
    const out = text(result);
    assert.match(out, /P-DONE/, `the probe did not run: ${out}`);
    const lines = new Map([...out.matchAll(/^P (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    const retrieved = (await client.beta.sessions.retrieve(session.id)) as unknown as { runtime?: { provider?: unknown } };
    const envBack = (await client.beta.environments.retrieve(env.id)) as unknown as { config?: { sandbox?: { provider?: unknown } } };
    return { probe: lines, sessionId: session.id, runtimeProvider: retrieved.runtime?.provider, envProvider: envBack.config?.sandbox?.provider };
  }

  /** The engine's containers labelled with this sandbox id. */
  async function containersOf(sessionId: string): Promise<Docker.ContainerInfo[]> {
    if (!engine) return [];
    const docker = new Docker({ socketPath: engine.host.slice('unix://'.length) });
    return docker.listContainers({ all: true, filters: { label: [`dev.agenthost.sandbox=${sessionId}`] } });
  }

  it('an environment that names no provider runs its tools in bwrap, the default', async () => {
    const r = await probe('bwrap');
    assert.equal(r.envProvider, 'bwrap');
    assert.equal(r.runtimeProvider, 'bwrap');
    // bwrap's own init is pid 1 of the tool's pid namespace; the kernel is the host's.
    assert.equal(r.probe.get('pid1'), 'bwrap', JSON.stringify([...r.probe]));
    assert.equal(r.probe.get('version'), HOST_KERNEL);
    assert.doesNotMatch(r.probe.get('dmesg') ?? '', /gVisor/);
    assert.equal(r.probe.get('exec'), '');
    assert.deepEqual(await containersOf(r.sessionId), []);
  });

  it("config.sandbox.provider 'gvisor' runs its tools on a gVisor kernel", async (t) => {
    if (!requireProvider(t, 'gvisor')) return;
    const r = await probe('gvisor', 'gvisor');
    assert.equal(r.envProvider, 'gvisor');
    assert.equal(r.runtimeProvider, 'gvisor');
    // gVisor's kernel log starts "Starting gVisor..."; its /proc/version is its own, not the host's.
    assert.match(r.probe.get('dmesg') ?? '', /gVisor/, JSON.stringify([...r.probe]));
    assert.notEqual(r.probe.get('version'), HOST_KERNEL);
    assert.equal(r.probe.get('exec'), '');
    assert.deepEqual(await containersOf(r.sessionId), []);
  });

  it("config.sandbox.provider 'docker' runs its tools in a container of the engine", async (t) => {
    if (!requireProvider(t, 'docker')) return;
    const r = await probe('docker', 'docker');
    assert.equal(r.envProvider, 'docker');
    assert.equal(r.runtimeProvider, 'docker');
    const detail = JSON.stringify([...r.probe]);
    // The engine has a container for this session, and the tool ran inside it: its cgroup is the container's.
    const containers = await containersOf(r.sessionId);
    assert.equal(containers.length, 1, `containers labelled ${r.sessionId}: ${JSON.stringify(containers)}`);
    assert.ok((r.probe.get('cgroup') ?? '').includes(containers[0]!.Id), `the tool's cgroup does not name container ${containers[0]!.Id}: ${detail}`);
    // The docker provider's exec wrapper records each exec under /run/agenthost; the kernel is the host's.
    assert.match(r.probe.get('exec') ?? '', /^\/run\/agenthost\/exec-\d+$/, detail);
    assert.notEqual(r.probe.get('pid1'), 'bwrap');
    assert.equal(r.probe.get('version'), HOST_KERNEL);
  });
});
