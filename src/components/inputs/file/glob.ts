// Path globs for the file input, matched segment by segment while walking directories (Node 20
// has no stable fs.glob). `*` and `?` never cross `/`; `**` as a whole segment spans any number
// of directories (depth-limited, so a symlink loop cannot run away); `{a,b}` and `[abc]` work
// within one segment. Hidden files match `*` like any other name.

import { promises as fsp, type Dirent } from 'node:fs';
import * as path from 'node:path';

const MAX_DEPTH = 32;

type Segment = { kind: 'lit'; name: string } | { kind: 're'; re: RegExp } | { kind: 'globstar' };

export interface CompiledGlob {
  pattern: string;
  /** Directory the walk starts from (the longest literal prefix). */
  base: string;
  segments: Segment[];
}

export function hasMagic(s: string): boolean {
  return /[*?[{]/.test(s);
}

/** Regex source for one path segment (or a whole path when `slash` allows `/` in `**`). */
export function segmentRegex(seg: string, slash = false): string {
  let out = '';
  let inBrace = 0;
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '\\' && i + 1 < seg.length) {
      out += escapeRe(seg[++i]);
    } else if (c === '*') {
      if (slash && seg[i + 1] === '*') {
        i++;
        if (seg[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '{') {
      inBrace++;
      out += '(?:';
    } else if (c === '}' && inBrace > 0) {
      inBrace--;
      out += ')';
    } else if (c === ',' && inBrace > 0) out += '|';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end === -1) out += '\\[';
      else {
        let cls = seg.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls[0] === '!') cls = '^' + cls.slice(1);
        out += `[${cls}]`;
        i = end;
      }
    } else out += escapeRe(c);
  }
  while (inBrace-- > 0) out += ')';
  return out;
}

function escapeRe(c: string): string {
  return c.replace(/[.+^${}()|[\]\\/*?]/g, '\\$&');
}

export function compileGlob(pattern: string, cwd = process.cwd()): CompiledGlob {
  const abs = path.resolve(cwd, pattern);
  const parts = abs.split('/').filter((p) => p !== '');
  let i = 0;
  while (i < parts.length - 1 && !hasMagic(parts[i])) i++;
  // The last part is matched as a name even when literal (a file that may not exist yet).
  const base = '/' + parts.slice(0, i).join('/');
  const segments: Segment[] = parts.slice(i).map((p) => {
    if (p === '**') return { kind: 'globstar' };
    if (!hasMagic(p)) return { kind: 'lit', name: p.replace(/\\(.)/g, '$1') };
    return { kind: 're', re: new RegExp(`^${segmentRegex(p)}$`) };
  });
  return { pattern: abs, base, segments };
}

/** Exclude patterns: without `/` they match the base name, otherwise the whole path. */
export function compileExclude(patterns: readonly string[]): (file: string) => boolean {
  if (patterns.length === 0) return () => false;
  const byName: RegExp[] = [];
  const byPath: RegExp[] = [];
  for (const p of patterns) {
    if (p.includes('/')) byPath.push(new RegExp(`^${segmentRegex(path.resolve(p), true)}$`));
    else byName.push(new RegExp(`^${segmentRegex(p)}$`));
  }
  return (file) => {
    const name = path.basename(file);
    return byName.some((r) => r.test(name)) || byPath.some((r) => r.test(file));
  };
}

export interface WalkHooks {
  /** A directory could not be read (EACCES, ENOTDIR, …); ENOENT is not reported. */
  onError(dir: string, err: NodeJS.ErrnoException): void;
  /** Every directory visited (for watching). */
  onDir?(dir: string): void;
}

/** Every existing path matching the glob (files and symlinks; the caller stats them). */
export async function walkGlob(g: CompiledGlob, hooks: WalkHooks): Promise<string[]> {
  const out = new Set<string>();
  await walk(g.base, g.segments, 0, 0, out, hooks);
  return [...out];
}

async function readDir(dir: string, hooks: WalkHooks): Promise<Dirent[] | undefined> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ENOENT') hooks.onError(dir, err);
    return undefined;
  }
}

async function isDir(full: string, d: Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  if (!d.isSymbolicLink()) return false;
  try {
    return (await fsp.stat(full)).isDirectory();
  } catch {
    return false;
  }
}

async function walk(
  dir: string,
  segs: Segment[],
  idx: number,
  depth: number,
  out: Set<string>,
  hooks: WalkHooks,
): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const seg = segs[idx];
  const last = idx === segs.length - 1;
  if (seg.kind === 'globstar') {
    // Zero directories …
    if (last) return; // `dir/**` alone names directories, not files
    await walk(dir, segs, idx + 1, depth, out, hooks);
    // … or one more, staying on `**`.
    const entries = await readDir(dir, hooks);
    if (!entries) return;
    hooks.onDir?.(dir);
    for (const d of entries) {
      const full = joinPath(dir, d.name);
      if (await isDir(full, d)) await walk(full, segs, idx, depth + 1, out, hooks);
    }
    return;
  }
  if (seg.kind === 'lit') {
    const full = joinPath(dir, seg.name);
    if (last) {
      hooks.onDir?.(dir);
      out.add(full);
      return;
    }
    await walk(full, segs, idx + 1, depth + 1, out, hooks);
    return;
  }
  const entries = await readDir(dir, hooks);
  if (!entries) return;
  hooks.onDir?.(dir);
  for (const d of entries) {
    if (!seg.re.test(d.name)) continue;
    const full = joinPath(dir, d.name);
    if (last) {
      if (!d.isDirectory()) out.add(full);
    } else if (await isDir(full, d)) {
      await walk(full, segs, idx + 1, depth + 1, out, hooks);
    }
  }
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
