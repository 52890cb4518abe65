/**
 * TranscriptStore with the real Claude Code CLI (through the Agent SDK's
 * `query()`) and a scripted model: a session resumes from our store on a
 * "machine" whose Claude config directory is empty.
 *
 * What these tests pin down about the SDK (0.3.330):
 * - the transcript is mirrored under a project key the SDK derives from the
 *   cwd (`/tmp/x/work` → `-tmp-x-work`), and `resume` loads it under the key
 *   of the resuming query's cwd, so a different cwd finds nothing;
 * - `CLAUDE_CODE_PROJECT_DIR_NAME` in `options.env` (next to
 *   `CLAUDE_CONFIG_DIR`) replaces that key for both the mirror and the load,
 *   so the workspace path may differ between runs.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { query, type SDKMessage, type SessionStoreFlush } from '@anthropic-ai/claude-agent-sdk';
import { startScriptedModel, type ScriptedModel } from '../testing/scripted-model/index.js';
import { materializeTranscript, readLocalTranscript, TranscriptStore } from './session-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

interface Machine {
  /** HOME and CLAUDE_CONFIG_DIR: empty at first on every machine. */
  home: string;
  config: string;
  cwd: string;
}

interface Turn {
  messages: SDKMessage[];
  sessionId: string;
  stderr: string;
}

describe('TranscriptStore with the real Claude Code CLI', () => {
  let model: ScriptedModel;
  let root: string;
  let store: SqliteStore;
  let machines = 0;

  before(async () => {
    model = await startScriptedModel();
    root = await mkdtemp(join(tmpdir(), 'agenthost-transcripts-'));
    await mkdir(join(root, 'tmp'));
    store = new SqliteStore(join(root, 'agenthost.db'));
    await store.migrate();
  });
  after(async () => {
    await model.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  async function machine(cwd = join(root, `work-${machines + 1}`)): Promise<Machine> {
    const n = ++machines;
    const [home, config] = [join(root, `home-${n}`), join(root, `config-${n}`)];
    await Promise.all([mkdir(home), mkdir(config), mkdir(cwd, { recursive: true })]);
    return { home, config, cwd };
  }

  async function turn(
    on: Machine,
    prompt: string,
    options: { resume?: string; resumeLocal?: string; env?: Record<string, string>; flush?: SessionStoreFlush } = {},
  ): Promise<Turn> {
    const messages: SDKMessage[] = [];
    let stderr = '';
    const run = query({
      prompt,
      options: {
        cwd: on.cwd,
        permissionMode: 'default',
        tools: [],
        sessionStore: new TranscriptStore(store),
        sessionStoreFlush: options.flush ?? 'batched',
        ...(options.resume ? { resume: options.resume } : {}),
        // A transcript already in the config dir: the CLI's own --resume, as the engine does.
        ...(options.resumeLocal ? { extraArgs: { resume: options.resumeLocal } } : {}),
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: on.home,
          CLAUDE_CONFIG_DIR: on.config,
          CLAUDE_CODE_TMPDIR: join(root, 'tmp'),
          ANTHROPIC_BASE_URL: model.url,
          ANTHROPIC_API_KEY: 'k',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          ...options.env,
        },
        stderr: (data) => {
          stderr += data;
        },
      },
    });
    try {
      for await (const message of run) messages.push(message);
    } catch (error) {
      // After yielding an error result the SDK also throws; the result is what the test checks.
      if (messages.at(-1)?.type !== 'result') throw error;
    }
    const init = messages.find((m) => m.type === 'system' && m.subtype === 'init');
    return { messages, sessionId: init?.session_id ?? '', stderr };
  }

  /** The messages of the last model request, as JSON text. */
  const lastRequest = (): string => JSON.stringify((model.messageRequests().at(-1)?.body as { messages?: unknown })?.messages);

  // `tools: []` sends requests without tools, so steps match on the prompt instead of `when`.
  const script = (): void =>
    model.setScript([
      { match: 'remember the word PAPAYA', text: 'Noted: PAPAYA.' },
      { match: 'which word', text: 'It was PAPAYA.' },
    ]);

  function assertSuccess(t: Turn, text: string): void {
    const result = t.messages.at(-1);
    assert.equal(result?.type, 'result', t.stderr);
    assert.equal(result.subtype, 'success', `${JSON.stringify(result)}\n${t.stderr}`);
    if (result.subtype === 'success') assert.equal(result.result, text);
  }

  it('resumes from the store with an empty config dir at the same workspace path', { timeout: 120_000 }, async () => {
    script();
    const a = await machine();
    const first = await turn(a, 'remember the word PAPAYA', { flush: 'eager' });
    assertSuccess(first, 'Noted: PAPAYA.');
    assert.match(first.sessionId, /^[0-9a-f-]{36}$/);

    // The mirror holds the conversation the CLI wrote to its local JSONL file
    // (the SDK leaves out bookkeeping lines such as `api-request`).
    const projectKey = a.cwd.replace(/[^a-zA-Z0-9]/g, '-');
    const local = await readFile(join(a.config, 'projects', projectKey, `${first.sessionId}.jsonl`), 'utf8');
    const mirrored = await store.loadTranscript({ projectKey, sessionId: first.sessionId });
    const withUuid = (entries: object[]): object[] => entries.filter((e) => 'uuid' in e);
    const localEntries = local.trim().split('\n').map((l) => JSON.parse(l) as object);
    assert.ok(mirrored && withUuid(mirrored).length >= 3);
    assert.deepEqual(withUuid(mirrored), withUuid(localEntries));

    // Another machine: a fresh, empty config dir; the workspace recreated at the same path.
    await rm(a.cwd, { recursive: true });
    const b = await machine(a.cwd);
    const second = await turn(b, 'which word did I ask you to remember?', { resume: first.sessionId });
    assertSuccess(second, 'It was PAPAYA.');
    assert.equal(second.sessionId, first.sessionId);
    assert.match(lastRequest(), /remember the word PAPAYA/);
    assert.match(lastRequest(), /Noted: PAPAYA\./);
    // The resumed turn was mirrored onto the same transcript.
    const after = await store.loadTranscript({ projectKey, sessionId: first.sessionId });
    assert.ok(after && mirrored && after.length > mirrored.length);
  });

  it('resumes from a transcript materialized into its own config dir, and the store gets what the resumed process writes', { timeout: 120_000 }, async () => {
    script();
    const env = { CLAUDE_CODE_PROJECT_DIR_NAME: 'sesn_materialized' };
    const first = await turn(await machine(), 'remember the word PAPAYA', { env, flush: 'eager' });
    assertSuccess(first, 'Noted: PAPAYA.');
    const key = { projectKey: 'sesn_materialized', sessionId: first.sessionId };
    const before = (await store.loadTranscript(key))!;

    const b = await machine();
    assert.equal(await materializeTranscript(new TranscriptStore(store), key, b.config), true);
    const second = await turn(b, 'which word did I ask you to remember?', { resumeLocal: first.sessionId, env, flush: 'eager' });
    assertSuccess(second, 'It was PAPAYA.');
    assert.match(lastRequest(), /remember the word PAPAYA/);
    // The config dir the SDK mirrors from is the one the CLI wrote in: nothing of the second turn is dropped.
    const after = JSON.stringify(await store.loadTranscript(key));
    assert.ok(after.length > JSON.stringify(before).length);
    assert.match(after, /which word did I ask you to remember\?/);
    assert.match(after, /It was PAPAYA\./);
  });

  it('does not find the transcript when the workspace path differs', { timeout: 120_000 }, async () => {
    script();
    const first = await turn(await machine(), 'remember the word PAPAYA');
    assertSuccess(first, 'Noted: PAPAYA.');
    const second = await turn(await machine(), 'which word did I ask you to remember?', { resume: first.sessionId });
    const result = second.messages.at(-1);
    assert.equal(result?.type, 'result');
    assert.equal(result.subtype, 'error_during_execution');
    assert.match(JSON.stringify(result), /No conversation found/);
  });

  it('resumes across workspace paths when CLAUDE_CODE_PROJECT_DIR_NAME fixes the project key', { timeout: 120_000 }, async () => {
    script();
    const env = { CLAUDE_CODE_PROJECT_DIR_NAME: 'sesn_transcript_test' };
    const first = await turn(await machine(), 'remember the word PAPAYA', { env });
    assertSuccess(first, 'Noted: PAPAYA.');
    const sessions = await store.listTranscriptSessions('sesn_transcript_test');
    assert.deepEqual(sessions.map((s) => s.sessionId), [first.sessionId]);

    const second = await turn(await machine(), 'which word did I ask you to remember?', { resume: first.sessionId, env });
    assertSuccess(second, 'It was PAPAYA.');
    assert.match(lastRequest(), /remember the word PAPAYA/);
  });
});

describe('materializeTranscript', () => {
  it('writes the main and subagent transcripts as the files readLocalTranscript reads, and is false for one the store does not have', async () => {
    const root = await mkdtemp(join(tmpdir(), 'agenthost-materialize-'));
    const store = new SqliteStore(join(root, 'agenthost.db'));
    try {
      await store.migrate();
      const transcripts = new TranscriptStore(store);
      const key = { projectKey: 'sesn_m', sessionId: '0b5e3c1e-0000-4000-8000-000000000002' };
      await transcripts.append(key, [{ type: 'user', uuid: 'u1', timestamp: 't' }, { type: 'assistant', uuid: 'a1', timestamp: 't' }]);
      await transcripts.append({ ...key, subpath: 'subagents/agent-y' }, [{ type: 'user', uuid: 's1', timestamp: 't' }]);
      const config = join(root, 'config');
      await mkdir(join(config, 'projects', key.projectKey), { recursive: true });
      await writeFile(join(config, 'projects', key.projectKey, `${key.sessionId}.jsonl`), '{"uuid":"stale"}\n');

      assert.equal(await materializeTranscript(transcripts, key, config), true);
      assert.deepEqual(await readLocalTranscript(config, key), [{ type: 'user', uuid: 'u1', timestamp: 't' }, { type: 'assistant', uuid: 'a1', timestamp: 't' }]);
      assert.deepEqual(await readLocalTranscript(config, { ...key, subpath: 'subagents/agent-y' }), [{ type: 'user', uuid: 's1', timestamp: 't' }]);
      assert.equal(await materializeTranscript(transcripts, { ...key, sessionId: '0b5e3c1e-0000-4000-8000-000000000003' }, config), false);
      await assert.rejects(materializeTranscript(transcripts, { ...key, projectKey: '..' }, config), /not a transcript key/);
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('materializeTranscript with a local file ahead of the store', () => {
  it('keeps a local file that extends the stored transcript, and gives the store the lines it missed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'agenthost-materialize-ahead-'));
    const store = new SqliteStore(join(root, 'agenthost.db'));
    try {
      await store.migrate();
      const transcripts = new TranscriptStore(store);
      const key = { projectKey: 'sesn_k', sessionId: '0b5e3c1e-0000-4000-8000-000000000004' };
      const u1 = { type: 'user', uuid: 'u1', timestamp: 't' };
      const a1 = { type: 'assistant', uuid: 'a1', timestamp: 't' };
      const u2 = { type: 'user', uuid: 'u2', timestamp: 't', message: 'written before the server died, never mirrored' };
      await transcripts.append(key, [u1, a1]);
      const config = join(root, 'config');
      const file = join(config, 'projects', key.projectKey, `${key.sessionId}.jsonl`);
      await mkdir(dirname(file), { recursive: true });
      // Key order differs from the store's copy: entries are matched by uuid.
      await writeFile(file, [{ uuid: 'u1', type: 'user', timestamp: 't' }, a1, u2].map((e) => JSON.stringify(e)).join('\n') + '\n');

      assert.equal(await materializeTranscript(transcripts, key, config), true);
      assert.deepEqual((await readLocalTranscript(config, key))?.map((e) => e.uuid), ['u1', 'a1', 'u2']);
      assert.deepEqual((await transcripts.load(key))?.map((e) => e.uuid), ['u1', 'a1', 'u2']);

      // A local file that does not begin with the store's entries is replaced by them.
      await writeFile(file, [u1, u2].map((e) => JSON.stringify(e)).join('\n') + '\n');
      await transcripts.append(key, [{ type: 'assistant', uuid: 'a2', timestamp: 't' }]);
      assert.equal(await materializeTranscript(transcripts, key, config), true);
      assert.deepEqual((await readLocalTranscript(config, key))?.map((e) => e.uuid), ['u1', 'a1', 'u2', 'a2']);

      // Only a local file: the store gets all of it.
      const other = { ...key, sessionId: '0b5e3c1e-0000-4000-8000-000000000005' };
      const otherFile = join(config, 'projects', key.projectKey, `${other.sessionId}.jsonl`);
      await writeFile(otherFile, JSON.stringify(u1) + '\n');
      assert.equal(await materializeTranscript(transcripts, other, config), true);
      assert.deepEqual((await transcripts.load(other))?.map((e) => e.uuid), ['u1']);
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('readLocalTranscript', () => {
  it('reads main and subagent files, leaves out a last line cut short, and is null for a file that is not there', async () => {
    const config = await mkdtemp(join(tmpdir(), 'agenthost-local-transcript-'));
    try {
      const key = { projectKey: '-work-sesn', sessionId: '0b5e3c1e-0000-4000-8000-000000000001' };
      await mkdir(join(config, 'projects', key.projectKey, key.sessionId, 'subagents'), { recursive: true });
      await writeFile(join(config, 'projects', key.projectKey, `${key.sessionId}.jsonl`), '{"uuid":"a","n":1}\n\n{"uuid":"b","n":2}\n{"uuid":"c","n"');
      await writeFile(join(config, 'projects', key.projectKey, key.sessionId, 'subagents', 'agent-x.jsonl'), '{"uuid":"s"}\n');
      assert.deepEqual(await readLocalTranscript(config, key), [{ uuid: 'a', n: 1 }, { uuid: 'b', n: 2 }]);
      assert.deepEqual(await readLocalTranscript(config, { ...key, subpath: 'subagents/agent-x' }), [{ uuid: 's' }]);
      assert.equal(await readLocalTranscript(config, { ...key, sessionId: 'other' }), null);

      await writeFile(join(config, 'projects', key.projectKey, `${key.sessionId}.jsonl`), '{"uuid":"a"}\nnot json\n{"uuid":"b"}\n');
      await assert.rejects(readLocalTranscript(config, key), /:2 is not JSON/);
      for (const bad of [{ ...key, subpath: '../../escape' }, { ...key, projectKey: '..' }, { ...key, sessionId: 'a/b' }, { ...key, subpath: 'a//b' }]) {
        await assert.rejects(readLocalTranscript(config, bad), /not a transcript key/);
      }
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });
});
