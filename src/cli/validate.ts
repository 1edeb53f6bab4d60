// `shiplog validate`: parse the config, check what it names on this host, build the whole
// pipeline without starting it, print the warnings; with --healthcheck, reach every output.

import { loadConfigFile, pipelineComponents } from '../config/load.js';
import type { ShiplogConfig } from '../config/schema.js';
import { checkHost, listenProblem } from '../config/host.js';
import { configWarnings } from '../config/warnings.js';
import { getDef, loadComponents } from '../components/registry.js';
import { CheckpointStore } from '../core/checkpoint-store.js';
import { Pipeline } from '../core/pipeline.js';
import { nullLogger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { EXIT, fail } from './exit.js';

/**
 * validate --healthcheck: every output whose type has a check reaches its backend on a client of
 * its own (Loki: an empty push; Elasticsearch: GET / and _has_privileges; S3: HeadBucket). One
 * line per output: `ok` on stdout, the failure and its fix on stderr. False if any failed.
 */
async function checkOutputs(config: ShiplogConfig, quiet: boolean): Promise<boolean> {
  const results = await Promise.all(
    config.pipeline.outputs.map(async (o) => {
      const def = getDef('output', o.type);
      const name = `output ${o.id} (${o.type})`;
      if (!def.healthcheck) return { ok: true, line: `${name}: nothing to check` };
      try {
        const what = await def.healthcheck(o as never);
        return { ok: true, line: `${name}: ok: ${what}` };
      } catch (e) {
        return { ok: false, line: `${name}: FAILED: ${(e as Error).message}` };
      }
    }),
  );
  for (const r of results) {
    if (!r.ok) process.stderr.write(`shiplog: ${r.line}\n`);
    else if (!quiet) process.stdout.write(`${r.line}\n`);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed) process.stderr.write(`shiplog: healthcheck failed for ${failed} output(s)\n`);
  return failed === 0;
}

export async function validate(
  configFile: string,
  quiet: boolean,
  healthcheck: boolean,
  host: boolean,
): Promise<void> {
  try {
    const config = loadConfigFile(configFile);
    if (host) {
      checkHost(config);
      // A warning only: the daemon this config is for may be the one holding the port (reload).
      const busy = await listenProblem(config);
      if (busy) process.stderr.write(`shiplog: warning: ${busy}\n`);
    }
    await loadComponents(config);
    // Build the whole graph (factories validate what schemas cannot) without starting it.
    new Pipeline(config, {
      components: pipelineComponents(),
      log: nullLogger,
      metrics: new Metrics({ defaultMetrics: false }),
      checkpoints: new CheckpointStore('/nonexistent/checkpoints.json', nullLogger),
    });
    // Valid: now what is probably not meant (a match nothing feeds, a glob matching no file).
    for (const w of await configWarnings(config, { files: host }))
      process.stderr.write(`shiplog: warning: ${w}\n`);
    if (healthcheck && !(await checkOutputs(config, quiet))) process.exit(EXIT.RUNTIME);
    if (!quiet) {
      const p = config.pipeline;
      process.stdout.write(
        `${configFile}: ok (${p.inputs.length} input(s), ${p.filters.length} filter(s), ${p.outputs.length} output(s))\n`,
      );
    }
    process.exit(EXIT.OK);
  } catch (e) {
    fail(e);
  }
}
