// The file input's own metrics (shared by every file input of the process: one registration).

import { Counter, Gauge, type Registry } from 'prom-client';

export interface FileMetrics {
  openFiles: Gauge<'component'>;
  rotations: Counter<'component'>;
  truncations: Counter<'component'>;
  truncatedLines: Counter<'component'>;
  errors: Counter<'component' | 'reason'>;
  replaced: Counter<'component'>;
}

export function fileMetrics(registry: Registry): FileMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string): Gauge<'component'> =>
    (registry.getSingleMetric(name) as Gauge<'component'> | undefined) ??
    new Gauge({ name, help, labelNames: ['component'], registers: [registry] });
  return {
    openFiles: gauge('shiplog_file_open_files', 'Files the file input holds open.'),
    rotations: counter(
      'shiplog_file_rotations_total',
      'Files renamed away or deleted while tailed (drained before closing).',
      ['component'],
    ),
    truncations: counter(
      'shiplog_file_truncations_total',
      'Files that shrank under the read position (copytruncate); read again from the start.',
      ['component'],
    ),
    truncatedLines: counter(
      'shiplog_file_truncated_lines_total',
      'Lines longer than max_line_bytes, cut and flagged.',
      ['component'],
    ),
    replaced: counter(
      'shiplog_file_replaced_total',
      'Files atomically replaced by a file holding their content and more (cp; append; mv over): read on from the position reached, not again from the start.',
      ['component'],
    ),
    errors: counter(
      'shiplog_file_errors_total',
      'File input errors by reason: scan (unreadable directory), open (also not a regular file), read, symlink (skipped).',
      ['component', 'reason'],
    ),
  };
}
