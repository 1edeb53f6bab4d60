// `file`: tails files matched by globs, surviving rotation (rename and copytruncate), restarts
// and inode reuse without losing or repeating a line. See README.md and input.ts.

import { defineInput, type Input } from '../../../core/component.js';
import { ConfigError } from '../../../core/errors.js';
import { options } from './config.js';
import { FileInput } from './input.js';

export default defineInput({
  kind: 'input',
  type: 'file',
  description:
    'Tails files matched by globs; checkpoints by file identity; handles rotation, truncation and restarts.',
  options,
  create(config, ctx): Input {
    const ml = config.multiline;
    if (ml) {
      if ((ml.start_pattern === undefined) === (ml.continue_pattern === undefined))
        throw new ConfigError([
          {
            code: 'SHIPLOG_CONFIG_INVALID',
            path: `${ctx.id}.multiline`,
            message: 'needs exactly one of start_pattern or continue_pattern',
          },
        ]);
      for (const re of [ml.start_pattern, ml.continue_pattern]) {
        if (re === undefined) continue;
        try {
          new RegExp(re);
        } catch (e) {
          throw new ConfigError([
            {
              code: 'SHIPLOG_CONFIG_INVALID',
              path: `${ctx.id}.multiline`,
              message: `invalid pattern ${re}: ${(e as Error).message}`,
            },
          ]);
        }
      }
    }
    return new FileInput(config, ctx);
  },
});
