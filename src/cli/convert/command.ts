// The `convert` subcommand's action: config on stdout (or -o FILE), report on stderr.
// Exit codes: 0 converted (the report may list what was not), 78 the Fluent Bit config cannot
// be read (syntax, missing file or include), 1 anything else.

import { writeFileSync } from 'node:fs';
import { convert, formatReport, FluentBitConfigError } from './index.js';

export function runConvert(file: string, o: { json?: boolean; output?: string }): never {
  try {
    const r = convert(file);
    if (o.output) writeFileSync(o.output, r.yaml);
    else process.stdout.write(r.yaml);
    process.stderr.write(formatReport(r.report, { file, ...r.counts }, o.json ?? false));
    process.exit(0);
  } catch (e) {
    if (e instanceof FluentBitConfigError) {
      if (o.json)
        process.stderr.write(
          JSON.stringify({ file, error: e.message, errorFile: e.file, line: e.line }) + '\n',
        );
      else process.stderr.write(`shiplog convert: invalid Fluent Bit config\n${e.message}\n`);
      process.exit(78);
    }
    const msg = (e as Error).message;
    process.stderr.write(
      o.json ? JSON.stringify({ file, error: msg }) + '\n' : `shiplog convert: ${msg}\n`,
    );
    process.exit(1);
  }
}
