// What the registry knows of the `elasticsearch` output without loading it (undici, the bulk
// encoder): type, description and options. The factory is in index.ts.

import { options } from './config.js';

export const meta = {
  kind: 'output' as const,
  ownsQueue: true,
  type: 'elasticsearch',
  description:
    'Indexes records with the Elasticsearch _bulk API: per-document outcomes, deterministic ids, gzip, basic/API-key/bearer auth.',
  options,
};
