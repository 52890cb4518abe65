import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MountPathError, checkMountPathsDisjoint, resolveMountPath, uploadFilename } from './names.js';

describe('resolveMountPath', () => {
  it('keeps a relative path, normalized', () => {
    assert.equal(resolveMountPath('data/input.csv', 'x'), 'data/input.csv');
    assert.equal(resolveMountPath('./data//input.csv', 'x'), 'data/input.csv');
    assert.equal(resolveMountPath('data/./sub/', 'x'), 'data/sub');
    assert.equal(resolveMountPath('notes.txt', 'x'), 'notes.txt');
  });

  it('defaults to the filename when absent or null', () => {
    assert.equal(resolveMountPath(undefined, 'report.pdf'), 'report.pdf');
    assert.equal(resolveMountPath(null, 'charts/a.png'), 'charts/a.png');
  });

  it('maps the hosted API prefixes into the workspace', () => {
    assert.equal(resolveMountPath('/workspace/data/in.csv', 'x'), 'data/in.csv');
    assert.equal(resolveMountPath('/mnt/session/uploads/file_1', 'x'), 'uploads/file_1');
  });

  it('refuses other absolute paths', () => {
    for (const path of ['/etc/passwd', '/workspace', '/mnt/other/x', '//workspace/x']) {
      assert.throws(() => resolveMountPath(path, 'x'), MountPathError, path);
    }
  });

  it('refuses .. anywhere, even where it would stay inside', () => {
    for (const path of ['../x', 'a/../../x', 'a/../b', '..', '/workspace/../etc/passwd', 'a/..']) {
      assert.throws(() => resolveMountPath(path, 'x'), /must not contain '\.\.'/, path);
    }
  });

  it('refuses paths that name the workspace itself, empty or odd paths', () => {
    for (const path of ['', '.', './', '/workspace/', '/workspace/.', 'a\u0000b', 'a\nb', 'x'.repeat(1025), `${'y'.repeat(256)}/z`]) {
      assert.throws(() => resolveMountPath(path, 'x'), MountPathError, JSON.stringify(path.slice(0, 20)));
    }
  });

  it('accepts names that only look like dot segments', () => {
    assert.equal(resolveMountPath('..hidden/...', 'x'), '..hidden/...');
    assert.equal(resolveMountPath('.config', 'x'), '.config');
  });
});

describe('checkMountPathsDisjoint', () => {
  it('passes distinct paths, siblings and look-alike prefixes', () => {
    checkMountPathsDisjoint(['a', 'b/c', 'b/d', 'ab/c', 'a.txt']);
    checkMountPathsDisjoint([]);
  });

  it('fails on the same path twice or a file inside another', () => {
    assert.throws(() => checkMountPathsDisjoint(['a/b', 'c', 'a/b']), /two resources are mounted at "a\/b"/);
    assert.throws(() => checkMountPathsDisjoint(['data', 'data/x.csv']), /inside another mounted file, "data"/);
    assert.throws(() => checkMountPathsDisjoint(['a/b/c/d', 'a/b']), /inside another mounted file/);
  });
});

describe('uploadFilename', () => {
  it('keeps only the final path component, with either separator', () => {
    assert.equal(uploadFilename('report.pdf', 'application/pdf'), 'report.pdf');
    assert.equal(uploadFilename('dir/sub/report.pdf', 'application/pdf'), 'report.pdf');
    assert.equal(uploadFilename('C:\\Users\\me\\notes.txt', 'text/plain'), 'notes.txt');
    assert.equal(uploadFilename('../../etc/passwd', 'text/plain'), 'passwd');
  });

  it('names an absent or empty filename unnamed plus the extension of its type', () => {
    assert.equal(uploadFilename(undefined, 'text/plain'), 'unnamed.txt');
    assert.equal(uploadFilename('', 'image/png'), 'unnamed.png');
    assert.equal(uploadFilename('dir/', 'application/pdf'), 'unnamed.pdf');
    assert.equal(uploadFilename('..', 'application/x-unknown'), 'unnamed');
    assert.equal(uploadFilename('a/.', 'text/plain; charset=utf-8'), 'unnamed.txt');
  });

  it('drops control characters and caps the length at 255 bytes', () => {
    assert.equal(uploadFilename('a\u0000b\nc.txt', 'text/plain'), 'abc.txt');
    assert.equal(Buffer.byteLength(uploadFilename('é'.repeat(200), 'text/plain')), 254);
  });
});
