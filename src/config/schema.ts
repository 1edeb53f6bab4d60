// The root config schema. Component option schemas come from the registry; this file adds the
// `service` section and the pipeline lists. The JSON Schema (`shiplog schema`) and the config
// reference in docs/ are generated from here: nothing is written twice.

import { z } from 'zod';
import { componentSchema, typesOf, getDef } from '../components/registry.js';
import type { CommonFilter, CommonInput, CommonOutput, Kind } from '../core/component.js';
import { duration, size } from '../core/units.js';

export const serviceSchema = z
  .strictObject({
    data_dir: z
      .string()
      .min(1)
      .default('/var/lib/shiplog')
      .describe('Checkpoints and dead letters; created if missing.'),
    http: z
      .strictObject({
        listen: z
          .string()
          .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'host:port, e.g. 127.0.0.1:2020')
          .default('127.0.0.1:2020')
          .describe(
            'Address of /metrics, /healthz and /readyz. Loopback unless you mean otherwise.',
          ),
        tap: z
          .boolean()
          .default(false)
          .describe(
            'Serve /tap (`shiplog tap`): sampled records after the filters, to loopback clients.',
          ),
        tap_remote: z
          .boolean()
          .default(false)
          .describe('Also serve /tap to clients that are not on this host (records leave it).'),
      })
      .optional()
      .describe('Telemetry HTTP server; omit to disable.'),
    log_level: z
      .enum(['debug', 'info', 'warn', 'error'])
      .default('info')
      .describe("shiplog's own logs (JSON lines on stderr)."),
    memory_limit: size('One budget for all buffered records.').prefault('256MiB'),
    queue_max_size: size(
      'Cap on the disk queues of all outputs together (each also has buffer.max_size).',
    ).prefault('1GiB'),
    shutdown_timeout: duration(
      'On SIGTERM/SIGINT: how long to deliver what is buffered before exiting.',
    ).prefault('30s'),
    checkpoint_interval: duration(
      'How often committed positions are written to data_dir with fsync (checkpoints.json; what a power loss can re-read). Between those writes each change is also written within ~10 ms without fsync (checkpoints.json.live.*, used after a process crash in the same boot).',
    ).prefault('1s'),
    dead_letter: z
      .strictObject({
        max_size: size(
          'Cap per component on data_dir/dead_letter/<id>.ndjson and its rotated files (<id>.ndjson.1..3, a quarter each); the oldest file is discarded beyond it (counted).',
        ).prefault('256MiB'),
      })
      .prefault({})
      .describe('Dead-letter files.'),
  })
  .prefault({})
  .describe('Process-wide settings.');

export type ServiceConfig = z.output<typeof serviceSchema>;

export interface ShiplogConfig {
  service: ServiceConfig;
  pipeline: {
    inputs: Array<CommonInput & Record<string, unknown>>;
    filters: Array<CommonFilter & Record<string, unknown>>;
    outputs: Array<CommonOutput & Record<string, unknown>>;
  };
}

/** Top-level keys and the keys of `pipeline`, for unknown-key checks. */
export const TOP_KEYS = ['service', 'pipeline'] as const;
export const PIPELINE_KEYS = ['inputs', 'filters', 'outputs'] as const;

function unionOf(kind: Kind) {
  const schemas = typesOf(kind).map((t) => componentSchema(getDef(kind as 'input', t)));
  if (schemas.length === 0) return z.never();
  if (schemas.length === 1) return schemas[0];
  return z.discriminatedUnion('type', schemas as unknown as [z.ZodObject, ...z.ZodObject[]]);
}

/** The whole config as one zod schema: used for the JSON Schema export. */
export function rootSchema() {
  return z
    .strictObject({
      service: serviceSchema,
      pipeline: z
        .strictObject({
          inputs: z.array(unionOf('input')).min(1).describe('Where records come from.'),
          filters: z
            .array(unionOf('filter'))
            .default([])
            .describe('Transforms applied in order to matching records.'),
          outputs: z
            .array(unionOf('output'))
            .min(1)
            .describe('Where records go; every matching output gets every record.'),
        })
        .describe('Inputs, filters and outputs.'),
    })
    .describe('shiplog configuration');
}

export function jsonSchema(): Record<string, unknown> {
  const js = z.toJSONSchema(rootSchema(), { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return { ...js, $id: 'https://shiplog.dev/schema/shiplog.json', title: 'shiplog configuration' };
}
