import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/harness.js';
import { compileExclude, compileGlob, walkGlob } from './glob.js';

describe('file globs', () => {
  it('matches *, ?, **, {a,b} and [abc] per segment', async () => {
    const dir = tempDir();
    for (const p of [
      'a/x.log',
      'a/y.txt',
      'b/c/d/z.log',
      'b/q1.log',
      'e/x.log',
      'a.log',
      'a.log.1',
    ])
      mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    for (const p of [
      'a/x.log',
      'a/y.txt',
      'b/c/d/z.log',
      'b/q1.log',
      'e/x.log',
      'a.log',
      'a.log.1',
    ])
      writeFileSync(path.join(dir, p), '');
    const walk = async (pattern: string) =>
      (await walkGlob(compileGlob(path.join(dir, pattern)), { onError: () => undefined }))
        .map((p) => path.relative(dir, p))
        .sort();
    expect(await walk('*/*.log')).toEqual(['a/x.log', 'b/q1.log', 'e/x.log']);
    expect(await walk('**/*.log')).toEqual([
      'a.log',
      'a/x.log',
      'b/c/d/z.log',
      'b/q1.log',
      'e/x.log',
    ]);
    expect(await walk('{a,b}/*.log')).toEqual(['a/x.log', 'b/q1.log']);
    expect(await walk('b/q?.log')).toEqual(['b/q1.log']);
    expect(await walk('[ab]/*')).toEqual(['a/x.log', 'a/y.txt', 'b/q1.log']);
    expect(await walk('a.log*')).toEqual(['a.log', 'a.log.1']);
    expect(await walk('missing/*.log')).toEqual([]);
  });

  it('excludes by name without a slash, by path with one', () => {
    const ex = compileExclude(['*.gz', '/var/log/skip/**']);
    expect(ex('/var/log/app.log.1.gz')).toBe(true);
    expect(ex('/var/log/skip/a/b.log')).toBe(true);
    expect(ex('/var/log/app.log')).toBe(false);
  });
});
