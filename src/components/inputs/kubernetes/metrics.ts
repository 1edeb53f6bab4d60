// Metrics of the `kubernetes` input (shared by every instance: registered once per registry).

import { Counter, Gauge, type Registry } from 'prom-client';

export interface KubeMetrics {
  malformed: Counter<'component' | 'format'>;
  cut: Counter<'component'>;
  metadataErrors: Counter<'component' | 'reason'>;
  metadataTruncated: Counter<'component'>;
  pods: Gauge<'component'>;
}

export function kubeMetrics(registry: Registry): KubeMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    malformed: counter(
      'shiplog_kubernetes_malformed_lines_total',
      'Lines that are neither CRI nor docker json-file (passed on as plain messages).',
      ['component', 'format'],
    ),
    cut: counter(
      'shiplog_kubernetes_cut_lines_total',
      'Partial lines longer than max_merged_bytes, emitted in pieces flagged truncated.',
      ['component'],
    ),
    metadataErrors: counter(
      'shiplog_kubernetes_metadata_errors_total',
      'Kubernetes API failures by reason (records keep flowing with path metadata).',
      ['component', 'reason'],
    ),
    metadataTruncated: counter(
      'shiplog_kubernetes_metadata_truncated_total',
      'Files whose API metadata was over max_metadata_bytes (maps left out, records flagged).',
      ['component'],
    ),
    pods:
      (registry.getSingleMetric('shiplog_kubernetes_metadata_pods') as
        Gauge<'component'> | undefined) ??
      new Gauge({
        name: 'shiplog_kubernetes_metadata_pods',
        help: 'Pods in the metadata cache (deleted ones included until their grace ends).',
        labelNames: ['component'],
        registers: [registry],
      }),
  };
}
