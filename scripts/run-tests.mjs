#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner.
// Node 20's --test does not expand globs, so the files are listed here.
// The web console's unit tests (vitest, web/src/**/*.test.ts) run first, and
// the console is built before its browser tests, so they test these sources.
// Usage: npm test [-- <path-substring> ...]   (filters the file list; "web"
// selects the console's unit tests)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = ['src', 'test']
  .flatMap((d) => walk(join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const npm = (script) => spawnSync('npm', ['run', '--silent', script], { cwd: root, stdio: 'inherit' }).status ?? 1;

// The console's unit tests: a failure fails the run (before the long suites start).
const runWeb = filters.length === 0 || filters.some((x) => x.startsWith('web'));
if (runWeb) {
  const status = npm('test:web');
  if (status !== 0) {
    console.error('web unit tests failed (npm run test:web)');
    process.exit(status);
  }
}

if (files.length === 0) {
  if (runWeb) process.exit(0);
  console.error('no test files matched');
  process.exit(1);
}

if (files.some((f) => f.startsWith('test/dashboard.'))) {
  const status = npm('build:web');
  if (status !== 0) {
    console.error('building the web console failed (npm run build:web)');
    process.exit(status);
  }
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
