// The pipeline's types: what it reads of a config (PipelineConfig), what it is given
// (PipelineDeps, ComponentSource), what it reports (OutputState), and the slots it keeps per
// component and per tag (OutputSlot, FilterSlot, InputSlot, Route).

import type { Ledger } from '../telemetry/ledger.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TapHub } from '../telemetry/tap.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type {
  CommonFilter,
  CommonInput,
  CommonOutput,
  Filter,
  FilterDef,
  Input,
  InputDef,
  Output,
  OutputDef,
} from './component.js';
import type { ConfigError } from './errors.js';
import type { TagMatcher } from './glob.js';
import type { DiskQueue } from './queue.js';
import type { LogRecord } from './record.js';

/** An output as the pipeline holds it: its budget and the tags it takes. */
export interface OutputSlot {
  id: string;
  type: string;
  output: Output;
  /** Disk queue of this output, once opened. */
  queue: DiskQueue | undefined;
  match: TagMatcher;
  limit: number;
  bytes: number;
  dropWhenFull: boolean;
}

export interface FilterSlot {
  id: string;
  filter: Filter;
  match: TagMatcher;
  /** The filter keeps records across batches (Filter.holds). */
  holds: boolean;
}

/** The filters and outputs records of one tag go through (cached per tag). */
export interface Route {
  filters: FilterSlot[];
  outputs: OutputSlot[];
  /** Output ids, for the tap (made on first use). */
  outputIds?: string[];
  /** Some filter of the route holds records: batches take the hold path (emitHolding). */
  holds: boolean;
}

/** An input waiting for room in the outputs it feeds. */
export interface Waiter {
  outputs: OutputSlot[];
  resolve: () => void;
}

/** What the pipeline reads of a parsed config (config/schema.ts's ShiplogConfig is one). */
export interface PipelineConfig {
  service: {
    data_dir: string;
    memory_limit: number;
    queue_max_size: number;
    checkpoint_interval: number;
    dead_letter?: { max_size: number };
  };
  pipeline: {
    inputs: Array<CommonInput & Record<string, unknown>>;
    filters: Array<CommonFilter & Record<string, unknown>>;
    outputs: Array<CommonOutput & Record<string, unknown>>;
  };
}

/**
 * The component types a pipeline is built from, given by the caller (the registry in
 * src/components, through config/load.ts's `pipelineComponents()`): the core imports no
 * component and no config module.
 */
export interface ComponentSource {
  /** The definition of a type (throws for an unknown type). */
  getDef(kind: 'input', type: string): InputDef;
  getDef(kind: 'filter', type: string): FilterDef;
  getDef(kind: 'output', type: string): OutputDef;
  /** Give a factory's ConfigError the component's place in the config file. */
  locate?(e: ConfigError, config: object, id: string): Error;
}

export interface PipelineDeps {
  components: ComponentSource;
  log: Logger;
  metrics: Metrics;
  checkpoints: CheckpointStore;
  /** `shiplog backfill`: inputs read to the end and finish. */
  oneShot?: boolean;
  /** Applied after the filters (backfill --since/--until); rejected records are counted as skipped. */
  keep?: (record: LogRecord) => boolean;
  /** The loss ledger of `/status` (counted per batch). */
  ledger?: Ledger;
  /** `/tap` readers: records after the filters. */
  tap?: TapHub;
}

export interface OutputState {
  id: string;
  type: string;
  bufferBytes: number;
  bufferLimit: number;
  queue?: {
    records: number;
    bytes: number;
    oldestTime: number | undefined;
    full: boolean;
    writeError: string | undefined;
  };
}

/** An input as the pipeline holds it. */
export interface InputSlot {
  id: string;
  input: Input;
  abort: AbortController;
}
