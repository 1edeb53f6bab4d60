// What a config names on this host, checked before anything starts (`shiplog validate`, and
// `shiplog run` before it builds the pipeline): secret/CA/key files readable, the journalctl
// binary there, data_dir creatable and writable. A problem names the component's key and its
// file:line:col, so `run` exits 78 (EX_CONFIG: systemd's RestartPreventExitStatus) instead of
// failing later with a bare ENOENT. Whether http.listen is free is `listenProblem()`: validate
// warns about it (a running daemon holds its own port while `systemctl reload` validates).

import { accessSync, constants, statSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { LOCATE, type Locate } from './load.js';
import type { ShiplogConfig } from './schema.js';

type Path = Array<string | number>;

function describeErr(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (check the owner and mode, and the user shiplog runs as)';
    case 'ENOTDIR':
      return 'a parent of it is not a directory';
    default:
      return err.message;
  }
}

function readableFile(file: string): string | undefined {
  try {
    const st = statSync(file);
    if (st.isDirectory()) return 'is a directory, not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (e) {
    return describeErr(e);
  }
}

function executable(name: string): string | undefined {
  if (name.includes('/')) {
    try {
      accessSync(name, constants.X_OK);
      return statSync(name).isFile() ? undefined : 'is not a file';
    } catch (e) {
      return describeErr(e);
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return undefined;
    } catch {
      /* next */
    }
  }
  return `not found in PATH (${process.env.PATH ?? ''})`;
}

/** Why `dir` could not be created and written to, or undefined if it can. */
export function dirProblem(dir: string): string | undefined {
  let p = path.resolve(dir);
  for (;;) {
    try {
      const st = statSync(p);
      if (!st.isDirectory())
        return p === path.resolve(dir)
          ? 'exists and is not a directory'
          : `${p} is not a directory`;
      accessSync(p, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && path.dirname(p) !== p) {
        p = path.dirname(p);
        continue;
      }
      if (code === 'ENOTDIR') return 'a parent of it is not a directory';
      return `${p}: ${describeErr(e)}`;
    }
  }
}

/** Every `*_file` key (and journalctl_path) a component config sets, with its key path. */
function namedFiles(obj: unknown, at: Path, out: Array<{ at: Path; file: string }>): void {
  if (!obj || typeof obj !== 'object') return;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v === 'string' && k.endsWith('_file')) out.push({ at: [...at, k], file: v });
    else if (v && typeof v === 'object') namedFiles(v, [...at, k], out);
  }
}

/** Problems of this host with what `config` names; empty when everything is there. */
export function hostProblems(config: ShiplogConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const components = [
    ...config.pipeline.inputs,
    ...config.pipeline.filters,
    ...config.pipeline.outputs,
  ] as Array<Record<string, unknown> & { type: string; id: string }>;
  for (const c of components) {
    const locate = (c as { [LOCATE]?: Locate })[LOCATE];
    const where = (rel: Path) =>
      locate ? locate(rel) : { path: `${c.id}.${rel.join('.')}`, where: undefined };
    const files: Array<{ at: Path; file: string }> = [];
    // The kubernetes input runs on without its metadata files (path metadata only, warned and
    // counted in shiplog_kubernetes_metadata_errors_total): not a reason to refuse to start.
    namedFiles(c.type === 'kubernetes' ? { ...c, metadata: undefined } : c, [], files);
    for (const { at, file } of files) {
      const why = readableFile(file);
      if (why)
        problems.push({
          code: 'SHIPLOG_CONFIG_FILE',
          ...where(at),
          message: `${c.type} "${c.id}": cannot read ${file}: ${why}`,
        });
    }
    if (c.type === 'journald' && typeof c.journalctl_path === 'string') {
      const why = executable(c.journalctl_path);
      if (why)
        problems.push({
          code: 'SHIPLOG_CONFIG_FILE',
          ...where(['journalctl_path']),
          message: `journald "${c.id}": journalctl ${c.journalctl_path} ${why}: install systemd's journalctl or set journalctl_path`,
        });
    }
  }
  const why = dirProblem(config.service.data_dir);
  if (why)
    problems.push({
      code: 'SHIPLOG_CONFIG_FILE',
      path: 'service.data_dir',
      message: `cannot create or write ${config.service.data_dir}: ${why} (create it, owned by the user shiplog runs as)`,
    });
  return problems;
}

/** Throws a ConfigError listing every host problem. */
export function checkHost(config: ShiplogConfig): void {
  const problems = hostProblems(config);
  if (problems.length) throw new ConfigError(problems);
}

/** Whether service.http.listen can be bound now (a message if not). */
export async function listenProblem(config: ShiplogConfig): Promise<string | undefined> {
  const listen = config.service.http?.listen;
  if (!listen) return undefined;
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(i + 1));
  if (port === 0) return undefined;
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      resolve(
        `service.http.listen: cannot listen on ${listen}: ${e.code === 'EADDRINUSE' ? 'address in use (another shiplog, or another program; pick another port)' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message}`,
      ),
    );
    s.listen(port, host, () => s.close(() => resolve(undefined)));
  });
}
