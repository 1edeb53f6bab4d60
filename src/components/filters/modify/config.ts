import { z } from 'zod';

export const options = z.object({
  rename: z
    .record(z.string().min(1), z.string().min(1))
    .default({})
    .describe('Move fields: { msg: message, "log.level": level }. Applied first.'),
  copy: z
    .record(z.string().min(1), z.string().min(1))
    .default({})
    .describe('Copy fields: { level: severity }. Applied after rename.'),
  set: z
    .record(z.string().min(1), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .default({})
    .describe(
      'Set fields (replacing existing values): static values or {field} templates, { env: prod, where: "{host}/{file}" }. Applied after copy.',
    ),
  lowercase: z
    .array(z.string().min(1))
    .default([])
    .describe('Lowercase string fields: [level]. Applied after set.'),
  remove: z
    .array(z.string().min(1))
    .default([])
    .describe('Remove fields: [context.password_hash, stream]. Applied last.'),
});
