#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/, then the security suite
// (test/security.suite.ts), with node's test runner.
// Node 20's --test does not expand globs, so the files are listed here.
// The web console's unit tests (vitest, web/src/**/*.test.ts) run first, and
// the console is built before its browser tests, so they test these sources.
// Usage: npm test [-- <path-substring> ...]   (filters the file list; "web"
// selects the console's unit tests)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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

const selected = (f) => filters.length === 0 || filters.some((x) => f.includes(x));
// The security suite (real attacks on every provider, printing its table) runs last.
const files = [
  ...['src', 'test']
    .flatMap((d) => walk(join(root, d)))
    .filter(selected)
    .sort(),
  ...['test/security.suite.ts'].filter(selected),
];

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

// The browser tests open the console (previews-browser signs in to it before opening a preview).
if (files.some((f) => f.startsWith('test/dashboard.') || f.startsWith('test/previews-browser.'))) {
  const status = npm('build:web');
  if (status !== 0) {
    console.error('building the web console failed (npm run build:web)');
    process.exit(status);
  }
}

// Claude Code processes (and the sandboxes around them) that a test leaves
// behind are a leak the suite must report, not wait on: each test file's
// process exits when its tests end (--test-force-exit) and whatever it left
// running is listed and fails the run. Only orphans count (no node process
// above them), so that sessions of another test run on this machine do not.
const before = new Set(claudeProcesses().map((p) => p.pid));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit' },
);
let status = result.status ?? 1;
await new Promise((r) => setTimeout(r, 2000));
const leaked = claudeProcesses().filter((p) => !before.has(p.pid) && orphaned(p.pid));
if (leaked.length > 0) {
  console.error(`\n${leaked.length} Claude Code process(es) outlived the tests that started them:`);
  for (const p of leaked) {
    console.error(`  ${p.pid} ${p.cmd.slice(0, 160)}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  status ||= 1;
}
process.exit(status);

/** Whether no node process (a server, a test) is among the process's ancestors. */
function orphaned(pid) {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    let stat;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      return false;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if (comm === 'node' || comm === 'MainThread') return false;
    p = Number(stat.slice(close + 2).split(' ')[1]);
  }
  return true;
}

/** Running processes of the Agent SDK's bundled Claude Code binary. */
function claudeProcesses() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (/claude-agent-sdk[^ ]*\/claude /.test(`${cmd} `) && !cmd.includes('run-tests')) out.push({ pid: Number(name), cmd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
