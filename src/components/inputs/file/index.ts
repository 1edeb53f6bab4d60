// `file`: tails files matched by globs, surviving rotation (rename and copytruncate), restarts
// and inode reuse without losing or repeating a line. See README.md and input.ts.

import { defineInput, type Input } from '../../../core/component.js';
import { compileMultiline } from '../../_shared/multiline/index.js';
import { options } from './config.js';
import { FileInput } from './input.js';

export default defineInput({
  kind: 'input',
  type: 'file',
  description:
    'Tails files matched by globs; checkpoints by file identity; handles rotation, truncation and restarts.',
  options,
  create(config, ctx): Input {
    if (config.multiline) compileMultiline(config.multiline, `${ctx.id}.multiline`);
    return new FileInput(config, ctx);
  },
});
