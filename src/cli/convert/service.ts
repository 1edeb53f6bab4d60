// [SERVICE]: Flush (batch waits of the outputs), Log_Level, HTTP_Server/Listen/Port (the
// telemetry server), storage.path (data_dir), Grace; the rest is noted as needing no equivalent.

import type { Conv } from './context.js';
import { at, bool, seconds, type Section } from './model.js';

export function convertService(c: Conv, s: Section): void {
  const svc = c.service;
  const flush = c.use(s, 'flush');
  if (flush && seconds(flush.value)) {
    c.flushSeconds = seconds(flush.value);
    c.report.add(
      at(flush),
      'info',
      `${flush.rawKey} ${flush.value}`,
      'becomes batch.max_wait of the loki and elasticsearch outputs (a batch is also sent when full)',
      '',
    );
  }
  const level = c.value(s, 'log_level');
  if (level)
    svc.log_level =
      ({ warning: 'warn', trace: 'debug', off: 'error' } as Record<string, string>)[
        level.toLowerCase()
      ] ?? level.toLowerCase();
  const server = c.use(s, 'http_server');
  const listen = c.value(s, 'http_listen');
  const port = c.value(s, 'http_port') ?? '2020';
  if (server && bool(server.value, false)) {
    svc.http = { listen: `${listen ?? '127.0.0.1'}:${port}` };
    c.report.add(
      at(server),
      'info',
      `${server.rawKey} ${server.value}${listen ? `, HTTP_Listen ${listen}` : ''}`,
      `telemetry: /metrics (Prometheus, shiplog_* names, not fluentbit_*), /healthz, /readyz on ${listen ?? '127.0.0.1 (Fluent Bit listens on 0.0.0.0 by default; shiplog keeps loopback unless told)'}`,
      'update dashboards and alerts to the shiplog_* metric names; point probes at /healthz and /readyz',
    );
  }
  const sp = c.value(s, 'storage.path');
  if (sp) svc.data_dir = sp;
  const grace = c.value(s, 'grace');
  if (grace && seconds(grace)) svc.shutdown_timeout = seconds(grace);
  c.noted(s, {
    daemon: ['shiplog runs in the foreground (systemd, container)'],
    parsers_file: ['read: parsers used by the config were converted into parse filters'],
    plugins_file: ['no plugins'],
    health_check: ['/healthz and /readyz are always served with the telemetry server'],
    hc_errors_count: ['/readyz reports failing outputs'],
    hc_retry_failure_count: ['/readyz reports failing outputs'],
    hc_period: ['/readyz reports failing outputs'],
    'storage.sync': ["queue segments are fdatasync'ed before every checkpoint write"],
    'storage.checksum': ['queue frames always carry a crc32'],
    'storage.backlog.mem_limit': [
      'a backlog is delivered from the disk queue under service.memory_limit',
    ],
    'storage.max_chunks_up': ['bounded by service.memory_limit'],
    'storage.metrics': ['queue metrics are always exported (shiplog_queue_*)'],
    'storage.delete_irrecoverable_chunks': [
      'corrupt queue frames are skipped, counted and noted in the dead-letter file',
    ],
    hot_reload: ['send SIGHUP to reload (validated first)'],
    log_file: ['logs are JSON lines on stderr (journald/kubectl logs collect them)'],
    coro_stack_size: ['not applicable'],
    scheduler: ['not applicable'],
    'scheduler.cap': ['retry backoff: 1s → 60s, see retry.max'],
    'scheduler.base': ['retry backoff: 1s → 60s, see retry.initial'],
    http_port: ['see HTTP_Server'],
    http_listen: ['see HTTP_Server'],
    streams_file: ['no stream processor'],
  });
  c.leftovers(s, 'service');
}
