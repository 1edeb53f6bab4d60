import { z } from 'zod';

export const options = z.object({
  add: z
    .record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe(
      'Fields to add (dotted keys nest): static values, ${ENV} (resolved at start-up) and {field} templates, e.g. { env: prod, region: "${REGION}", source: "{kubernetes.namespace_name}/{file}" }.',
    ),
  hostname: z
    .union([z.boolean(), z.string().min(1)])
    .default(false)
    .describe('Add the host name: true adds it as `hostname`, a string names the field.'),
  host_ip: z
    .union([z.boolean(), z.string().min(1)])
    .default(false)
    .describe(
      'Add the first non-loopback IPv4 address (else IPv6): true adds it as `host_ip`, a string names the field.',
    ),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe(
      'Static output labels (Loki stream labels) added to every record, e.g. { cluster: eu-1 }. Names must follow Loki rules ([a-zA-Z_][a-zA-Z0-9_]*).',
    ),
  overwrite: z
    .boolean()
    .default(false)
    .describe('Replace fields and labels that already exist (default: keep the existing value).'),
});
