#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ (tsconfig.build.json) and copies
// the other files src/ reads at run time (SQL migrations) beside the compiled
// code. bin/agenthost runs dist/ when it is newer than every file under src/;
// dist/BUILT records when the build began, so an edit made during the build
// counts as newer.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');
const dist = join(root, 'dist');
const began = new Date();

rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  // A half-written dist/ must not be run: remove it, so bin/agenthost uses the sources.
  rmSync(dist, { recursive: true, force: true });
  process.exit(tsc.status ?? 1);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
for (const file of walk(src)) {
  if (file.endsWith('.ts') || file.endsWith('.md')) continue;
  const to = join(dist, relative(src, file));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(file, to);
}

// Kysely ships some 280 ES modules: loaded one by one they cost the server
// about 11 MiB of resident memory, bundled into one file about 1 MiB. Node
// looks for dist's imports of 'kysely' in dist/node_modules first.
const kysely = join(dist, 'node_modules/kysely');
mkdirSync(kysely, { recursive: true });
const { buildSync } = await import('esbuild');
buildSync({ entryPoints: [fileURLToPath(import.meta.resolve('kysely'))], bundle: true, format: 'esm', platform: 'node', outfile: join(kysely, 'index.js'), logLevel: 'warning' });
writeFileSync(join(kysely, 'package.json'), `${JSON.stringify({ name: 'kysely', type: 'module', exports: './index.js' })}\n`);

const stamp = join(dist, 'BUILT');
writeFileSync(stamp, `${began.toISOString()}\n`);
utimesSync(stamp, began, began);
