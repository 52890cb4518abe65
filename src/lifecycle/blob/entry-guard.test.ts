import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryGuard, normalize } from './entry-guard.js';

const file = { type: 'File' };
const dir = { type: 'Directory' };
const symlink = (linkpath: string) => ({ type: 'SymbolicLink', linkpath });
const hardlink = (linkpath: string) => ({ type: 'Link', linkpath });

describe('EntryGuard', () => {
  it('admits an ordinary snapshot, symlinks to anywhere included', () => {
    const guard = new EntryGuard();
    assert.equal(guard.check('./', dir), null);
    assert.equal(guard.check('./src/', dir), null);
    assert.equal(guard.check('./src/a.ts', file), null);
    assert.equal(guard.check('./venv/bin/python', symlink('/usr/bin/python3')), null);
    assert.equal(guard.check('./up', symlink('../../etc')), null);
    assert.equal(guard.check('./src/b.ts', hardlink('./src/a.ts')), null);
    assert.equal(guard.check('a/..b/c', file), null, '..b is a name, not a parent reference');
    assert.equal(guard.check('c:x', file), null, 'a colon is part of a name');
    assert.equal(guard.check('a\\..\\b', file), null, 'so is a backslash');
  });

  it('refuses absolute and .. paths', () => {
    for (const path of ['/etc/passwd', '//x', '..', '../x', 'a/../../b', './a/../b', 'a/..']) {
      assert.match(new EntryGuard().check(path, file) ?? '', /absolute or has a \.\. segment/, path);
    }
  });

  it('refuses anything beneath a symlink the archive created', () => {
    const guard = new EntryGuard();
    assert.equal(guard.check('out', symlink('/etc')), null);
    assert.match(guard.check('out/passwd', file) ?? '', /beneath the symlink "out"/);
    assert.match(guard.check('./out//deep/x', dir) ?? '', /beneath the symlink "out"/);
    assert.equal(guard.check('outside', file), null, 'a name that only starts like the symlink');
  });

  it('treats a hard link to a symlink as a symlink', () => {
    const guard = new EntryGuard();
    assert.equal(guard.check('s', symlink('/etc')), null);
    assert.equal(guard.check('h', hardlink('s')), null);
    assert.match(guard.check('h/passwd', file) ?? '', /beneath the symlink "h"/);
  });

  it('refuses hard links to paths that are absolute, escaping, absent or beneath a symlink', () => {
    const guard = new EntryGuard();
    assert.equal(guard.check('s', symlink('/etc')), null);
    assert.match(guard.check('a', hardlink('/etc/passwd')) ?? '', /hard link "a"/);
    assert.match(guard.check('b', hardlink('../x')) ?? '', /hard link "b"/);
    assert.match(guard.check('c', hardlink('not-yet')) ?? '', /not an earlier entry/);
    assert.match(guard.check('d', hardlink('s/passwd')) ?? '', /not an earlier entry/);
    assert.match(guard.check('e', hardlink('')) ?? '', /hard link "e"/);
  });

  it('refuses a path seen twice and a root entry that is not a directory', () => {
    const guard = new EntryGuard();
    assert.equal(guard.check('a', symlink('/etc')), null);
    assert.match(guard.check('./a', file) ?? '', /appears twice/);
    assert.match(guard.check('a/', dir) ?? '', /appears twice/);
    assert.match(new EntryGuard().check('.', symlink('/')) ?? '', /replace the directory itself/);
  });
});

describe('normalize', () => {
  it('drops . and empty segments', () => {
    assert.equal(normalize('./a//b/./c/'), 'a/b/c');
    assert.equal(normalize('./'), '');
    assert.equal(normalize('/a'), null);
    assert.equal(normalize('a/../b'), null);
  });
});
