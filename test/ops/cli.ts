// Run the real CLI (bin/shiplog.js) without blocking the event loop (receivers live in the test).

import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, ROOT } from '../helpers/proc.js';

export function runCli(
  args: string[],
  opts: { onStart?: (child: ChildProcess) => void; stdin?: string } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    opts.onStart?.(child);
  });
}
