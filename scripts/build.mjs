#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ (tsconfig.build.json) and copies
// the other files src/ reads at run time (SQL migrations) beside the compiled
// code. bin/agenthost runs dist/ when it is newer than every file under src/;
// dist/BUILT records when the build began, so an edit made during the build
// counts as newer.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

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

const stamp = join(dist, 'BUILT');
writeFileSync(stamp, `${began.toISOString()}\n`);
utimesSync(stamp, began, began);
