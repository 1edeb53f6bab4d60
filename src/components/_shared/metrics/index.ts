// A component's own metric, registered once per registry: several instances of a type (two loki
// outputs, two redact filters) share it and tell themselves apart by their `component` label.

import { Counter, type Registry } from 'prom-client';

/** The registry's counter `name`, created on first use. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}
