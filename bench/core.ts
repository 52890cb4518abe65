/**
 * agenthost against plain `query()`, in one run, with the real Claude Code CLI
 * and a scripted model. A benchmark, not a test: it prints a table (and with
 * `--json FILE` writes one) and fails only when something breaks.
 *
 * The server runs as a child process (`agenthost serve`, default provider);
 * the scripted model, the plain `query()` runs and the load generators run in
 * this process. Sections:
 *
 *   one-tool task (create → Bash → reply → idle): plain query() vs agenthost, warm pool on and off
 *   create → first model request: cold, and from a warm pool (created with initial events, and created then sent a message);
 *     each warm creation starts with the pool at rest: a member ready and none starting
 *   turn ends are awaited on the session's event stream, as a client would, not by polling
 *   second turn in a live session
 *   events: throughput and fan-out latency with 1 and 100 SSE subscribers
 *   API latency of retrieve and list at fixed rates (autocannon)
 *   density: RSS per live idle session; live sessions before turn latency doubles
 *   1,000 hibernated sessions: the server's RSS. The server is restarted (same
 *   data dir) before it: the one-tool, resume and events sections leave
 *   garbage and grown heaps behind, so their RSS is printed on a row of its own.
 *   resume from hibernation → first model request
 *
 *   with --providers gvisor,docker: each provider's cold start and one-tool task, no pool, on a
 *   server of its own that runs them (docker against a Podman service started for the run),
 *   and the server's CPU per live idle session (what watching a sandbox costs), bwrap's too
 *
 * Usage: npm run bench [-- --quick] [--runs N] [--json FILE] [--cpu-prof DIR] [--providers LIST]
 *   --cpu-prof DIR  the server writes a V8 CPU profile there on exit (open in a flame graph viewer)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startScriptedModel } from '../src/testing/scripted-model/index.js';
import { startServerProcess, type Stats } from './harness.js';
import { startTestEngine } from '../src/sandbox/docker/podman-service.js';
import { apiLatency, density, events, hibernated, oneToolTask, providerColdStarts, resume, type Ctx } from './sections.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
    providers: { type: 'string' },
  },
});
const quick = values.quick;
const runs = Number(values.runs ?? (quick ? 2 : 10));
const started = Date.now();

const model = await startScriptedModel();
const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-bench-'));
const profDir = values['cpu-prof'];
const serverOptions = {
  dataDir,
  model,
  ...(profDir ? { nodeOptions: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
};
let server = await startServerProcess(serverOptions);

const results: Record<string, unknown> = { machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version }, quick, runs };
try {
  const ctx: Ctx = { server, model, quick, runs, log: (m) => process.stderr.write(`  · ${m}\n`) };
  // Each section's wall time, in the JSON and on stderr: where a run's minutes go.
  const sectionS: Record<string, number> = {};
  results.section_s = sectionS;
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      sectionS[name] = Math.round((Date.now() - t0) / 100) / 10;
      ctx.log(`${name}: ${sectionS[name]} s`);
    }
  };
  results.one_tool_task = await timed('one_tool_task', () => oneToolTask(ctx));
  results.resume = await timed('resume', () => resume(ctx));
  results.events = await timed('events', () => events(ctx));
  results.server_rss_after_sections_mib = await server.rssMiB();
  // A restart: the same production server, on the same data dir.
  await timed('restart', async () => {
    await server.close();
    ctx.server = server = await startServerProcess(serverOptions);
  });
  results.hibernated = await timed('hibernated', () => hibernated(ctx, dataDir));
  results.api = await timed('api', () => apiLatency(ctx));
  results.density = await timed('density', () => density(ctx));
  const providers = values.providers?.split(',').filter(Boolean) ?? [];
  if (providers.length > 0) {
    await server.close();
    // Unused while the providers before it are measured, for longer than its default idle timeout.
    const engine = providers.includes('docker') ? await startTestEngine({ idleTimeoutS: 3_600 }) : undefined;
    const providersDir = await mkdtemp(join(tmpdir(), 'agenthost-bench-providers-'));
    try {
      ctx.server = server = await startServerProcess({
        ...serverOptions,
        dataDir: providersDir,
        env: {
          AGENTHOST_SANDBOX_PROVIDERS: providers.join(','),
          ...(engine ? { AGENTHOST_DOCKER_HOST: engine.host, AGENTHOST_DOCKER_IMAGE: engine.image } : {}),
        },
      });
      results.providers = await timed('providers', () => providerColdStarts(ctx, providers));
    } finally {
      await server.close();
      await engine?.close();
      await rm(providersDir, { recursive: true, force: true });
    }
  }
} finally {
  await server.close();
  await model.close();
  await rm(dataDir, { recursive: true, force: true });
}
results.duration_s = Math.round((Date.now() - started) / 1000);

const r = results as unknown as {
  one_tool_task: { plain_query_ms: Stats; agenthost_warm_ms: Stats; agenthost_cold_ms: Stats; plain_live_first_request_ms: Stats; ratio_p50: number; cold_first_request_ms: Stats; warm_first_request_ms: Stats; warm_hits: number; warm_send_first_request_ms: Stats; warm_send_hits: number; second_turn_first_request_ms: Stats; second_turn_ms: Stats };
  resume: { first_request_ms: Stats };
  events: { subscribers: number; events_per_s: number; deliveries_per_s: number; lag_1_ms: Stats; lag_100_ms: Stats; added_p50_ms: number; added_p99_ms: number };
  hibernated: { sessions: number; server_rss_mib: number; server_rss_before_mib: number };
  server_rss_after_sections_mib: number;
  api: Array<{ route: string; rate: number; p50: number; p99: number; non2xx: number; sent: number }>;
  providers?: Awaited<ReturnType<typeof providerColdStarts>>;
  density: { live_idle_rss_mib_per_session: number; live_idle_pss_mib_per_session: number; levels: Array<{ live: number; turn_ms: number }>; max_live_before_doubling: string };
};
const f = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');
const t = r.one_tool_task;
const rows: Array<[string, string, string]> = [
  ['one-tool task, plain query()', `p50 ${f(t.plain_query_ms.p50)} ms  p99 ${f(t.plain_query_ms.p99)} ms`, ''],
  ['one-tool task, agenthost (warm pool)', `p50 ${f(t.agenthost_warm_ms.p50)} ms  p99 ${f(t.agenthost_warm_ms.p99)} ms`, `ratio ${t.ratio_p50.toFixed(2)} (goal ≤ 1.10)`],
  ['one-tool task, agenthost (cold: no pool)', `p50 ${f(t.agenthost_cold_ms.p50)} ms  p99 ${f(t.agenthost_cold_ms.p99)} ms`, `ratio ${(t.agenthost_cold_ms.p50 / t.plain_query_ms.p50).toFixed(2)}`],
  ['create → first model request, cold', `p50 ${f(t.cold_first_request_ms.p50)} ms  p99 ${f(t.cold_first_request_ms.p99)} ms`, ''],
  ['create → first model request, warm (initial_events)', `p50 ${f(t.warm_first_request_ms.p50)} ms  p99 ${f(t.warm_first_request_ms.p99)} ms`, `goal p50 < 50 ms; ${t.warm_hits}/${t.warm_first_request_ms.n} warm`],
  ['create → first model request, warm (create, then send)', `p50 ${f(t.warm_send_first_request_ms.p50)} ms  p99 ${f(t.warm_send_first_request_ms.p99)} ms`, `${t.warm_send_hits}/${t.warm_send_first_request_ms.n} warm`],
  ['plain query(), live process: message → first model request', `p50 ${f(t.plain_live_first_request_ms.p50)} ms  p99 ${f(t.plain_live_first_request_ms.p99)} ms`, 'the floor of a warm start'],
  ['second turn: send → first model request', `p50 ${f(t.second_turn_first_request_ms.p50)} ms  p99 ${f(t.second_turn_first_request_ms.p99)} ms`, ''],
  ['second turn: send → idle', `p50 ${f(t.second_turn_ms.p50)} ms  p99 ${f(t.second_turn_ms.p99)} ms`, ''],
  ['events committed/s (100 subscribers)', `${f(r.events.events_per_s)} ev/s  (${f(r.events.deliveries_per_s)} deliveries/s)`, ''],
  ['fan-out lag, 1 subscriber', `p50 ${f(r.events.lag_1_ms.p50)} ms  p99 ${f(r.events.lag_1_ms.p99)} ms`, ''],
  ['fan-out lag, 100 subscribers', `p50 ${f(r.events.lag_100_ms.p50)} ms  p99 ${f(r.events.lag_100_ms.p99)} ms`, `added p50 ${f(r.events.added_p50_ms)} / p99 ${f(r.events.added_p99_ms)} ms (goal p99 < 10)`],
  ...r.api.map((a): [string, string, string] => [`API ${a.route} @ ${a.rate} req/s`, `p50 ${f(a.p50)} ms  p99 ${f(a.p99)} ms`, `${a.sent} sent, ${a.non2xx} non-2xx${a.route === 'retrieve' && a.rate === 500 ? ' (goal p99 < 20)' : ''}`]),
  ['RSS per live idle session', `${f(r.density.live_idle_rss_mib_per_session)} MiB`, 'sandbox + Claude Code + server share'],
  ['PSS per live idle session', `${f(r.density.live_idle_pss_mib_per_session)} MiB`, 'the same, pages shared between sessions split among them'],
  [`server RSS, ${r.hibernated.sessions} hibernated sessions`, `${f(r.hibernated.server_rss_mib)} MiB`, `restarted; before seeding ${f(r.hibernated.server_rss_before_mib)} MiB (goal < 150)`],
  ['server RSS before that restart', `${f(r.server_rss_after_sections_mib)} MiB`, 'after the one-tool, resume and events sections'],
  ['live sessions before turn latency doubles', r.density.max_live_before_doubling, r.density.levels.map((l) => `${l.live}:${f(l.turn_ms)}ms`).join(' ')],
  ['resume from hibernation → first model request', `p50 ${f(r.resume.first_request_ms.p50)} ms  p99 ${f(r.resume.first_request_ms.p99)} ms`, 'goal p50 < 1500 ms'],
  ...Object.entries(r.providers ?? {}).flatMap(([p, m]): Array<[string, string, string]> => [
    [`${p}: create → first model request, cold`, `p50 ${f(m.first_request_ms.p50)} ms  p99 ${f(m.first_request_ms.p99)} ms`, 'no pool'],
    [`${p}: one-tool task, cold`, `p50 ${f(m.task_ms.p50)} ms  p99 ${f(m.task_ms.p99)} ms`, 'no pool'],
    [`${p}: server CPU per live idle session`, `${f(m.idle.per_session_cpu_ms_per_s)} ms/s`, `${m.idle.sessions} idle: ${f(m.idle.server_cpu_ms_per_s)} ms/s, none: ${f(m.idle.baseline_cpu_ms_per_s)} ms/s`],
  ]),
];
const w0 = Math.max(...rows.map((x) => x[0].length));
const w1 = Math.max(...rows.map((x) => x[1].length));
process.stdout.write(
  [
    `agenthost bench (${quick ? 'quick' : 'full'}, ${runs} runs, real Claude Code, scripted model, ${(results.machine as { cpus: number }).cpus} CPUs, ${results.duration_s} s)`,
    ...rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`),
    '',
  ].join('\n'),
);
if (values.json) await writeFile(values.json, JSON.stringify(results, null, 2));
// Done: the SDK's and autocannon's leftover handles would otherwise hold the process for ~20 s.
process.exit(0);
