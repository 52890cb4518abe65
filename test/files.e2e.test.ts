import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { isIdle, readStream, startE2E, text, waitFor, type AnyEvent, type E2E } from './helpers/e2e.js';

const SIZE_LIMIT = 256 * 1024;

/**
 * The Files API through the official client, session file resources, and
 * the outputs of ephemeral sessions, end to end: real server, real store,
 * the real CLI in bwrap driven by the scripted model.
 */
for (const backend of TEST_BACKENDS) {
  describe(`files end to end (${backend}, bwrap)`, { timeout: 600_000 }, () => {
    let h: E2E;
    let agentId: string;
    let envId: string;

    before(async () => {
      h = await startE2E({ backend, env: { AGENTHOST_FILE_SIZE_LIMIT: String(SIZE_LIMIT) } });
      agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud' } })).id;
    });
    after(() => h?.close());

      const upload = async (bytes: Buffer | string, name: string, type?: string) =>
      h.client.beta.files.upload({ file: await toFile(Buffer.from(bytes), name, type ? { type } : {}) });

    const blobNames = async () => (await readdir(join(h.dataDir, 'files'))).filter((n) => n !== '.tmp').sort();

    it('upload, retrieve, list, download and delete', async () => {
      const before = Date.now();
      const meta = await upload('hello, files\n', 'notes.txt', 'text/plain');
      assert.match(meta.id, /^file_/);
      assert.deepEqual({ ...meta, id: '', created_at: '' }, {
        id: '',
        type: 'file',
        filename: 'notes.txt',
        mime_type: 'text/plain',
        size_bytes: 13,
        created_at: '',
        downloadable: true,
        expires_at: null,
        scope: null,
      });
      assert.ok(Date.parse(meta.created_at) >= before - 1000 && Date.parse(meta.created_at) <= Date.now() + 1000);
      assert.deepEqual(await h.client.beta.files.retrieveMetadata(meta.id), meta);
      assert.deepEqual(await h.client.files.retrieveMetadata(meta.id), meta, 'the non-beta client reads the same file');

      const response = await h.client.beta.files.download(meta.id);
      assert.equal(response.headers.get('content-type'), 'text/plain');
      assert.equal(response.headers.get('content-length'), '13');
      assert.equal(await response.text(), 'hello, files\n');

      const binary = randomBytes(100_000);
      const bin = await upload(binary, 'dir/blob.bin');
      assert.equal(bin.filename, 'blob.bin', 'only the final path component is kept');
      assert.equal(bin.mime_type, 'application/octet-stream');
      assert.equal(bin.size_bytes, binary.length);
      assert.deepEqual(Buffer.from(await (await h.client.beta.files.download(bin.id)).arrayBuffer()), binary);

      const guessed = await upload('{"a":1}', 'data.json');
      assert.equal(guessed.mime_type, 'application/json', 'a generic type is refined by the extension');
      const unnamed = await upload('x', '', 'text/csv');
      assert.equal(unnamed.filename, 'unnamed.csv');

      const expiring = await h.client.beta.files.upload({ file: await toFile(Buffer.from('soon'), 'soon.txt'), expires_in_seconds: 3600 });
      assert.ok(Math.abs(Date.parse(expiring.expires_at!) - (Date.now() + 3600_000)) < 60_000);
      await assert.rejects(
        h.client.beta.files.upload({ file: await toFile(Buffer.from('x'), 'x.txt'), expires_in_seconds: 60 }),
        Anthropic.BadRequestError,
      );

      const listed = [];
      for await (const f of h.client.beta.files.list({ limit: 2 })) listed.push(f.id);
      assert.deepEqual(listed, [expiring.id, unnamed.id, guessed.id, bin.id, meta.id], 'newest first, across pages');
      const page = await h.client.beta.files.list({ limit: 2 });
      assert.equal(page.data.length, 2);
      assert.ok(page.hasNextPage());
      const byIds = await h.client.beta.files.list({ ids: [meta.id, bin.id, 'file_unknown', meta.id] });
      assert.deepEqual(byIds.data.map((f) => f.id), [bin.id, meta.id]);
      assert.equal(byIds.hasNextPage(), false);
      await assert.rejects(h.client.beta.files.list({ ids: [meta.id], limit: 5 }), Anthropic.BadRequestError);

      assert.deepEqual(await h.client.beta.files.delete(meta.id), { id: meta.id, type: 'file_deleted' });
      await assert.rejects(h.client.beta.files.retrieveMetadata(meta.id), Anthropic.NotFoundError);
      await assert.rejects(h.client.beta.files.download(meta.id), Anthropic.NotFoundError);
      await assert.rejects(h.client.beta.files.delete(meta.id), Anthropic.NotFoundError);
      assert.ok(!(await blobNames()).includes(meta.id), 'the bytes are gone too');
      assert.ok((await blobNames()).includes(bin.id));
    });

    it("another workspace's key gets 404 and lists nothing", async () => {
      const mine = await upload('private', 'private.txt');
      const other = await h.newClient(`other-${backend}`);
      await assert.rejects(other.beta.files.retrieveMetadata(mine.id), Anthropic.NotFoundError);
      await assert.rejects(other.beta.files.download(mine.id), Anthropic.NotFoundError);
      await assert.rejects(other.beta.files.delete(mine.id), Anthropic.NotFoundError);
      assert.deepEqual((await other.beta.files.list()).data, []);
      assert.deepEqual((await other.beta.files.list({ ids: [mine.id] })).data, []);
      await assert.rejects(
        other.beta.sessions.create({
          agent: (await other.beta.agents.create({ name: 'a', model: 'claude-sonnet-4-5' })).id,
          environment_id: (await other.beta.environments.create({ name: 'e', config: { type: 'cloud' } })).id,
          resources: [{ type: 'file', file_id: mine.id }],
        }),
        Anthropic.NotFoundError,
      );
      assert.equal((await h.client.beta.files.retrieveMetadata(mine.id)).id, mine.id);
    });

    it('an upload over the size limit is 413 and keeps nothing', async () => {
      const blobs = await blobNames();
      const count = (await h.client.beta.files.list({ limit: 1000 })).data.length;
      await assert.rejects(upload(randomBytes(SIZE_LIMIT + 1), 'big.bin'), (error: unknown) => {
        assert.ok(error instanceof Anthropic.APIError);
        assert.equal(error.status, 413);
        return true;
      });
      const exact = await upload(randomBytes(SIZE_LIMIT), 'exact.bin');
      assert.equal(exact.size_bytes, SIZE_LIMIT);
      assert.equal((await h.client.beta.files.list({ limit: 1000 })).data.length, count + 1);
      assert.deepEqual(await blobNames(), [...blobs, exact.id].sort());
      assert.deepEqual(await readdir(join(h.dataDir, 'files', '.tmp')), []);
    });

    it('a body that is not multipart is a 400', async () => {
      const response = await fetch(`${h.server.url}/v1/files`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': (h.client as unknown as { apiKey: string }).apiKey },
        body: '{}',
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    });

    it('session resources: unknown files 404, other types and bad mount paths 400', async () => {
      const f = await upload('x', 'x.txt');
      const create = (resources: unknown[]) => h.client.beta.sessions.create({ agent: agentId, environment_id: envId, resources: resources as never });
      await assert.rejects(create([{ type: 'file', file_id: 'file_unknown' }]), Anthropic.NotFoundError);
      await assert.rejects(create([{ type: 'github_repository', url: 'https://github.com/a/b' }]), /github_repository resources are not supported/);
      await assert.rejects(create([{ type: 'memory_store', memory_store_id: 'memstore_1' }]), Anthropic.BadRequestError);
      for (const mount_path of ['../x', '/etc/passwd', '.', 'a/../b']) {
        await assert.rejects(create([{ type: 'file', file_id: f.id, mount_path }]), Anthropic.BadRequestError, mount_path);
      }
      await assert.rejects(
        create([
          { type: 'file', file_id: f.id, mount_path: 'a' },
          { type: 'file', file_id: f.id, mount_path: '/workspace/a' },
        ]),
        /two resources are mounted at \\"a\\"/,
      );
    });

    it('a file resource is in the workspace when the agent starts', async () => {
      const input = await upload('PINEAPPLE 42\n', 'input.txt', 'text/plain');
      const notes = await upload('second file\n', 'notes.md');
      const session = await h.client.beta.sessions.create({
        agent: agentId,
        environment_id: envId,
        resources: [
          { type: 'file', file_id: input.id, mount_path: 'data/input.txt' },
          { type: 'file', file_id: notes.id },
        ],
      });
      assert.equal(session.resources.length, 2);
      const [first, second] = session.resources as unknown as Array<Record<string, unknown>>;
      assert.match(String(first!.id), /^sesrsc_/);
      assert.deepEqual({ ...first, id: '' }, { id: '', type: 'file', file_id: input.id, mount_path: 'data/input.txt', created_at: session.created_at, updated_at: session.created_at });
      assert.equal(second!.mount_path, 'notes.md');
      assert.deepEqual((await h.client.beta.sessions.retrieve(session.id)).resources, session.resources);

      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'cat data/input.txt notes.md' } } },
        { when: 'tools', text: 'read it' },
      ]);
      const stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'read the input' }] }] });
      const events: AnyEvent[] = await readStream(stream, isIdle);
      const result = events.find((e) => e.type === 'agent.tool_result');
      assert.ok(result, `no tool result in ${events.map((e) => e.type).join(', ')}`);
      assert.match(text(result), /PINEAPPLE 42\nsecond file/);
    });

    it('ephemeral: files the agent writes under outputs/ become files scoped to the session', async () => {
      const ephemeral = await h.client.beta.environments.create({ name: 'one-shot', config: { type: 'cloud', lifecycle: { pattern: 'ephemeral' } } as never });
      h.model.setScript([
        {
          when: 'tools',
          tool_use: {
            name: 'Bash',
            input: { command: 'mkdir -p outputs/charts && printf "the report\\n" > outputs/report.txt && echo 1,2 > outputs/charts/data.csv && ln -s /etc/hostname outputs/link && echo scratch > scratch.txt' },
          },
        },
        { when: 'tools', text: 'task done' },
      ]);
      const session = await h.client.beta.sessions.create({
        agent: agentId,
        environment_id: ephemeral.id,
        initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'write the report' }] }],
      });
      await waitFor('termination', async () => ((await h.client.beta.sessions.retrieve(session.id)).status === 'terminated' ? true : undefined), 90_000);

      const outputs = [];
      for await (const f of h.client.beta.files.list({ scope_id: session.id })) outputs.push(f);
      const byName = new Map(outputs.map((f) => [f.filename, f]));
      assert.deepEqual([...byName.keys()].sort(), ['charts/data.csv', 'report.txt'], 'regular files only; the symlink is skipped');
      const report = byName.get('report.txt')!;
      assert.deepEqual(report.scope, { id: session.id, type: 'session' });
      assert.equal(report.mime_type, 'text/plain');
      assert.equal(report.size_bytes, 11);
      assert.equal(await (await h.client.beta.files.download(report.id)).text(), 'the report\n');
      assert.equal(byName.get('charts/data.csv')!.mime_type, 'text/csv');

      const all = [];
      for await (const f of h.client.beta.files.list()) all.push(f.id);
      assert.ok(all.includes(report.id), 'outputs are listed with the workspace files too');
      assert.deepEqual((await h.client.beta.files.list({ scope_id: 'sesn_other' })).data, []);
    });
  });
}
