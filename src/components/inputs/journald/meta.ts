// What the registry knows of the `journald` input without loading it (the journalctl reader and
// its field mapping): type, description and options. The factory is in index.ts.

import { options } from './config.js';

export const meta = {
  kind: 'input' as const,
  type: 'journald',
  description:
    'Reads the systemd journal through journalctl, resuming after the last acknowledged cursor.',
  options,
};
