import { describe, expect, it } from 'vitest';
import { journalctlArgs, lastEntryArgs, parseReadFrom } from './args.js';
import { options } from './config.js';

const cfg = (o: Record<string, unknown> = {}) => options.parse(o);

describe('journalctl arguments', () => {
  it('follows from a cursor with --no-tail and --merge, never --since', () => {
    const a = journalctlArgs(cfg(), { cursor: 's=1;i=2' }, { follow: true });
    expect(a).toEqual(
      expect.arrayContaining([
        '--follow',
        '--cursor=s=1;i=2',
        '--no-tail',
        '--merge',
        '--output=json',
        '--all',
        '--quiet',
        '--no-pager',
      ]),
    );
    expect(a.some((x) => x.startsWith('--since'))).toBe(false);
    expect(a).not.toContain('--lines=0');
  });

  it('omits --follow in one-shot mode', () => {
    const a = journalctlArgs(cfg(), { head: true }, { follow: false });
    expect(a).not.toContain('--follow');
    expect(a).not.toContain('--no-tail');
  });

  it('turns read_from into --since', () => {
    const t = parseReadFrom('2024-05-01T00:00:00Z')!;
    expect(journalctlArgs(cfg(), { since: t }, { follow: true })).toContain('--since=@1714521600');
    const lb = parseReadFrom('1h')!;
    expect(
      journalctlArgs(cfg(), { since: lb }, { follow: true, now: 1_714_525_200_000 }),
    ).toContain('--since=@1714521600');
    expect(journalctlArgs(cfg(), { since: { kind: 'tail' } }, { follow: true })).toContain(
      '--lines=0',
    );
    expect(parseReadFrom('head')).toEqual({ kind: 'head' });
    expect(parseReadFrom('yesterday-ish')).toBeUndefined();
    expect(parseReadFrom('2024-13-45')).toBeUndefined();
  });

  it('builds source, unit, match and priority arguments', () => {
    const a = journalctlArgs(
      cfg({
        journal_directory: '/host/journal',
        units: ['nginx', 'redis-server.service'],
        matches: { _TRANSPORT: ['stdout', 'journal'], _UID: '0' },
        priority: 'warning',
        current_boot_only: true,
        fields: ['X'],
      }),
      { head: true },
      { follow: true },
    );
    expect(a).toEqual(
      expect.arrayContaining([
        '--directory=/host/journal',
        '--boot',
        '--priority=0..4',
        '_SYSTEMD_UNIT=nginx.service',
        '_SYSTEMD_UNIT=redis-server.service',
        '_TRANSPORT=stdout',
        '_TRANSPORT=journal',
        '_UID=0',
      ]),
    );
    expect(a).not.toContain('--merge');
    expect(a.find((x) => x.startsWith('--output-fields='))).toBe(
      '--output-fields=MESSAGE,PRIORITY,_SYSTEMD_UNIT,_HOSTNAME,_PID,SYSLOG_IDENTIFIER,X',
    );
    const f = journalctlArgs(
      cfg({ files: ['/a.journal', '/b/*.journal'] }),
      { head: true },
      { follow: false },
    );
    expect(f).toEqual(expect.arrayContaining(['--file=/a.journal', '--file=/b/*.journal']));
    expect(lastEntryArgs(cfg())).toContain('--lines=1');
  });

  it('rejects invalid options', () => {
    expect(() => cfg({ matches: { 'lower-case': 'x' } })).toThrow();
    expect(() => cfg({ priority: 9 })).toThrow();
    expect(cfg({ priority: 3 }).priority).toBe(3);
  });
});
