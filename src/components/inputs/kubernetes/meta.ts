// What the registry knows of the `kubernetes` input without loading it (the pod watcher over
// undici, the file input's tailing): type, description and options. The factory is in index.ts.

import { options } from './config.js';

export const meta = {
  kind: 'input' as const,
  type: 'kubernetes',
  description:
    'Container logs from /var/log/pods (CRI and docker json-file), partial lines joined, with pod metadata from the path and the Kubernetes API.',
  options,
};
