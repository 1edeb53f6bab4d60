// The part of prom-client shiplog uses (Registry, Counter, Gauge, Histogram, the default metrics),
// for dist (bin/shiplog.js's resolve hook) and the bundle (packaging/bundle.mjs): prom-client's
// own index.js also loads Summary, Pushgateway (node:http, node:https, url) and the cluster
// aggregator (node:cluster) when it loads, ~7 MB resident that shiplog never calls. The objects
// are prom-client's own (Apache-2.0 licence); packaging/lean.mjs lists these names.

import Registry from 'prom-client/lib/registry.js';
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';

export { Counter, Gauge, Histogram, Registry, collectDefaultMetrics };
