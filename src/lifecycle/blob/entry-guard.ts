/**
 * Decides, entry by entry as an archive streams in, whether unpacking it into
 * an initially empty directory could touch anything outside that directory.
 * Pure bookkeeping, no I/O.
 *
 * The unpacker runs with tar's own path rewriting off (it would rewrite
 * absolute symlink targets, which workspaces hold legitimately, e.g. a
 * Python venv's `bin/python -> /usr/bin/python3`), so these rules carry the
 * whole weight:
 * - an entry's path is relative with no `..` segment, and appears once;
 * - a hard link's target obeys the same rules and already exists;
 * - nothing is placed beneath a symlink the archive created (including a
 *   hard link to such a symlink), so no write is redirected by one.
 * Symlink targets themselves are data: they may point anywhere.
 */
export class EntryGuard {
  private readonly seen = new Set<string>();
  private readonly symlinks = new Set<string>();

  /** Why this entry must not be unpacked, or null when it may; a null also records it. */
  check(path: string, entry: { type: string; linkpath?: string }): string | null {
    const name = normalize(path);
    if (name === null) return `entry ${JSON.stringify(path)} is absolute or has a .. segment`;
    if (name === '') {
      return entry.type === 'Directory' ? null : `entry ${JSON.stringify(path)} would replace the directory itself`;
    }
    if (this.seen.has(name)) return `entry ${JSON.stringify(path)} appears twice`;
    const under = this.symlinkAbove(name);
    if (under !== null) return `entry ${JSON.stringify(path)} lies beneath the symlink ${JSON.stringify(under)}`;
    if (entry.type === 'Link') {
      const target = normalize(entry.linkpath ?? '');
      if (target === null || target === '') {
        return `hard link ${JSON.stringify(path)} points at ${JSON.stringify(entry.linkpath)}`;
      }
      if (!this.seen.has(target) || this.symlinkAbove(target) !== null) {
        return `hard link ${JSON.stringify(path)} points at ${JSON.stringify(entry.linkpath)}, not an earlier entry`;
      }
      // A hard link to a symlink is another symlink.
      if (this.symlinks.has(target)) this.symlinks.add(name);
    }
    if (entry.type === 'SymbolicLink') this.symlinks.add(name);
    this.seen.add(name);
    return null;
  }

  /** The nearest proper ancestor of `name` that is a symlink, or null. */
  private symlinkAbove(name: string): string | null {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (this.symlinks.has(ancestor)) return ancestor;
    }
    return null;
  }
}

/**
 * `a/./b//c/` → `a/b/c`, `./` → ''; null for an absolute path or one with a
 * `..` segment. POSIX rules: a backslash or a colon is part of a name.
 */
export function normalize(path: string): string | null {
  if (path.startsWith('/')) return null;
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  return parts.includes('..') ? null : parts.join('/');
}
