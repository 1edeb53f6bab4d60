// The command line: the commands and their options (commander). The only modules that exit the
// process are this one and those of the commands it runs (exit.ts: the exit codes); `run` is in
// run.ts, `validate` in validate.ts, the others in their own modules.

import './v8-flags.js';
import './process-log.js';
import { Command, CommanderError } from 'commander';
import type { ShiplogConfig } from '../config/schema.js';
import { setBuildVersion } from '../telemetry/metrics.js';
import { defaultConfig, EXIT, fail, UsageError, version } from './exit.js';

// Each command's module is imported by its action (issue #22): `run` loads the daemon and what
// its config uses, not the converter, backfill, replay, status, tap and test modules.

export { EXIT } from './exit.js';

/** What a one-shot command (backfill, replay) writes to and how it learns of SIGINT/SIGTERM. */
interface OneShotIo {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  onInterrupt(fn: () => void): void;
}

/**
 * Load the config and the components it names, run `command` with SIGINT/SIGTERM handed to the
 * handlers it registers, and exit with its code (a usage error: 64, prefixed with its name).
 */
async function oneShot(
  name: string,
  configFile: string | undefined,
  command: (config: ShiplogConfig, io: OneShotIo) => Promise<{ code: number }>,
): Promise<never> {
  let code: number;
  try {
    const { loadConfigFile } = await import('../config/load.js');
    const { loadComponents } = await import('../components/registry.js');
    const config = loadConfigFile(configFile ?? defaultConfig());
    await loadComponents(config);
    const handlers: Array<() => void> = [];
    const onSignal = (): void => {
      for (const h of handlers) h();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Alive until the command returns, even while it only waits for a signal or a timer.
    setInterval(() => undefined, 1 << 30);
    ({ code } = await command(config, {
      out: process.stdout,
      err: process.stderr,
      onInterrupt: (fn) => handlers.push(fn),
    }));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`shiplog ${name}: ${e.message}\n`);
      process.exit(EXIT.USAGE);
    }
    fail(e);
  }
  process.exit(code);
}

/** The daemon's telemetry URL from its config (loopback when it listens on every address). */
async function telemetryUrl(configFile: string | undefined): Promise<string> {
  const { loadConfigFile } = await import('../config/load.js');
  let listen = '127.0.0.1:2020';
  try {
    const config = loadConfigFile(configFile ?? defaultConfig());
    if (!config.service.http) {
      process.stderr.write(
        'shiplog: the config has no service.http: the daemon serves no /status\n',
      );
      process.exit(EXIT.USAGE);
    }
    listen = config.service.http.listen;
  } catch (e) {
    if (configFile !== undefined) fail(e);
  }
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  return `http://${host}:${listen.slice(i + 1)}`;
}

export async function main(argv: string[]): Promise<void> {
  setBuildVersion(version());
  const program = new Command();
  program
    .name('shiplog')
    .description(
      'Node-resident log collector: tail files, pod logs and the journal; ship to Loki, Elasticsearch, S3, stdout.',
    )
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('run')
    .description('Run the daemon.')
    .option(
      '-c, --config <file>',
      'config file (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .action(async (o: { config?: string }) =>
      (await import('./run.js')).run(o.config ?? defaultConfig()),
    );

  program
    .command('validate')
    .description(
      'Parse the config and build the pipeline without starting it; exit 0, or 78 if invalid.',
    )
    .option(
      '-c, --config <file>',
      'config file (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .option('-q, --quiet', 'print nothing when valid')
    .option(
      '--config-only',
      "check the config alone, not this host's files, journalctl, data_dir and port (a config meant for another machine)",
    )
    .option(
      '--healthcheck',
      'also check that each output is reachable and accepts our credentials (exit 1 if not)',
    )
    .action(
      async (o: {
        config?: string;
        quiet?: boolean;
        healthcheck?: boolean;
        configOnly?: boolean;
      }) =>
        (await import('./validate.js')).validate(
          o.config ?? defaultConfig(),
          o.quiet ?? false,
          o.healthcheck ?? false,
          !o.configOnly,
        ),
    );

  program
    .command('backfill')
    .description(
      "Read files (or an input's files) to their end through the pipeline, wait for every ack, exit 0 (or 3 if anything was dead-lettered or dropped).",
    )
    .argument('[paths...]', 'files or globs to read (default: the configured file inputs)')
    .option(
      '-c, --config <file>',
      'config file (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .option('--input <id>', 'read the files of this configured input only')
    .option('--since <time>', 'skip records before this time (RFC 3339, or a duration ago: 7d)')
    .option('--until <time>', 'skip records at or after this time')
    .option('--tag <tag>', "routing tag for the records (default: the input's tag)")
    .option('--dry-run', 'print what would be read and exit')
    .action(
      async (
        paths: string[],
        o: {
          config?: string;
          input?: string;
          since?: string;
          until?: string;
          tag?: string;
          dryRun?: boolean;
        },
      ) => {
        const { runBackfill } = await import('./backfill.js');
        await oneShot('backfill', o.config, (config, io) =>
          runBackfill(
            config,
            {
              paths,
              input: o.input,
              since: o.since,
              until: o.until,
              tag: o.tag,
              dryRun: o.dryRun ?? false,
            },
            io,
          ),
        );
      },
    );

  program
    .command('convert')
    .description(
      'Convert a Fluent Bit config (classic .conf with @INCLUDE/@SET/Parsers_File, or YAML) to a shiplog config on stdout; report what has no equivalent on stderr (exit 0, or 78 if the file cannot be read).',
    )
    .argument('<file>', 'the Fluent Bit config (.conf, or .yaml/.yml for the YAML format)')
    .option('-o, --output <file>', 'write the shiplog config to this file instead of stdout')
    .option('--json', 'print the report as one JSON object on stderr')
    .action(async (file: string, o: { json?: boolean; output?: string }) =>
      (await import('./convert/command.js')).runConvert(file, o),
    );

  program
    .command('replay')
    .description(
      'Send dead letters (data_dir/dead_letter/<output>.ndjson) again through their output, as they were; safe while the daemon runs and to interrupt and rerun (exit 0, 3 if any record was dead-lettered again, 130 interrupted).',
    )
    .option(
      '-c, --config <file>',
      'config file (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .option('--output <id>', 'replay the dead letters of this output (or filter) only')
    .option('--to <id>', 'send them through this output instead')
    .option(
      '--since <time>',
      'only dead letters written at or after this time (RFC 3339, or a duration ago: 2h); the others stay',
    )
    .option('--dry-run', 'print what would be replayed (counts, reasons) and exit')
    .option('--json', 'print the summary as one JSON object')
    .action(
      async (o: {
        config?: string;
        output?: string;
        to?: string;
        since?: string;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const { runReplay } = await import('./replay.js');
        await oneShot('replay', o.config, (config, io) =>
          runReplay(
            config,
            {
              output: o.output,
              to: o.to,
              since: o.since,
              dryRun: o.dryRun ?? false,
              json: o.json ?? false,
            },
            io,
          ),
        );
      },
    );

  program
    .command('status')
    .description(
      "One screen from the running daemon's /status: per input and tag read / filtered / dropped / delivered / dead-lettered / in flight, per output sent, retried, queued, oldest, state and last error (exit 0 ready, 3 not ready, 1 unreachable).",
    )
    .option(
      '-c, --config <file>',
      'config file, for service.http.listen (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .option('--url <url>', 'the telemetry endpoint instead (e.g. http://127.0.0.1:2020)')
    .option('--json', 'print the /status JSON')
    .option('-w, --watch [seconds]', 'refresh every N seconds (default 2), like top')
    .action(
      async (o: { config?: string; url?: string; json?: boolean; watch?: string | boolean }) => {
        const watch = o.watch === undefined ? undefined : o.watch === true ? 2 : Number(o.watch);
        if (watch !== undefined && !(watch > 0)) {
          process.stderr.write('shiplog status: --watch takes a number of seconds > 0\n');
          process.exit(EXIT.USAGE);
        }
        const url = o.url ?? (await telemetryUrl(o.config));
        const { runStatus } = await import('./status.js');
        process.exit(await runStatus({ url, json: o.json ?? false, watch }, process.stdout));
      },
    );

  program
    .command('tap')
    .description(
      "Print samples of the records leaving the running daemon's filters, live (service.http.tap: true; loopback only unless tap_remote). Exit 0 at --limit or Ctrl-C, 1 unreachable or tap off, 2 bad query.",
    )
    .option(
      '-c, --config <file>',
      'config file, for service.http.listen (default: $SHIPLOG_CONFIG or /etc/shiplog/shiplog.yaml)',
    )
    .option('--url <url>', 'the telemetry endpoint instead (e.g. http://127.0.0.1:2020)')
    .option(
      '--component <id>',
      'records of this input, going through this filter, or to this output',
    )
    .option('--match <tag>', 'records whose tag matches this glob')
    .option('--limit <n>', 'stop after n records')
    .option('--rate <n>', 'records per second at most (1..1000, default 100)')
    .option(
      '--json',
      'print each sample as a JSON line (time, input, tag, outputs, labels, record)',
    )
    .action(
      async (o: {
        config?: string;
        url?: string;
        component?: string;
        match?: string;
        limit?: string;
        rate?: string;
        json?: boolean;
      }) => {
        const limit = o.limit === undefined ? undefined : Number(o.limit);
        const rate = o.rate === undefined ? undefined : Number(o.rate);
        if (
          (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) ||
          (rate !== undefined && !(rate >= 1 && rate <= 1000))
        ) {
          process.stderr.write('shiplog tap: --limit takes an integer > 0, --rate 1..1000\n');
          process.exit(EXIT.USAGE);
        }
        const url = o.url ?? (await telemetryUrl(o.config));
        const { runTap } = await import('./tap.js');
        const handlers: Array<() => void> = [];
        process.on('SIGINT', () => handlers.forEach((h) => h()));
        process.on('SIGTERM', () => handlers.forEach((h) => h()));
        const code = await runTap(
          { url, component: o.component, match: o.match, limit, rate, json: o.json ?? false },
          process.stdout,
          process.stderr,
          (fn) => handlers.push(fn),
        );
        process.exit(code);
      },
    );

  program
    .command('test')
    .description(
      "Config unit tests: hand each test's lines or records to the config's real filters (no input read, nothing sent) and check what each output receives and what is dropped (exit 0 passed, 1 failed, 78 invalid test file or config).",
    )
    .argument('<file>', 'the YAML test file (see docs/operator-tools.md)')
    .option('-c, --config <file>', "the config to test (default: the test file's config:)")
    .option('--json', 'print the results as one JSON object')
    .action(async (file: string, o: { config?: string; json?: boolean }) => {
      let code: number;
      const { runTests, TestFileError } = await import('./test-command.js');
      try {
        code = await runTests(file, { config: o.config, json: o.json ?? false }, process.stdout);
      } catch (e) {
        if (e instanceof TestFileError) {
          process.stderr.write(`shiplog test: invalid test file\n${e.message}\n`);
          process.exit(EXIT.CONFIG);
        }
        fail(e);
      }
      process.exit(code);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of the config (for editor completion).')
    .action(async () => {
      const { jsonSchema } = await import('../config/schema.js');
      process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n');
    });

  if (argv.length <= 2) {
    // No command: the help, on stderr, and a usage error (a script that forgot the command fails).
    program.outputHelp({ error: true });
    process.exit(EXIT.USAGE);
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        process.exit(EXIT.OK);
      process.exit(EXIT.USAGE);
    }
    fail(e);
  }
}
