// The file input's view of a checkpoint source inside the kubernetes input: the real tracker,
// with every position it tracks handed to the kubernetes input first (track() is called right
// before emit(), synchronously, so the input knows which file the next batch comes from, and it
// may hold the position back to a line still held for joining).

import { SourceTracker, type AckToken } from '../../../core/acks.js';

export class KeyedTracker extends SourceTracker {
  constructor(
    private readonly real: SourceTracker,
    private readonly onTrack: (real: SourceTracker, position: unknown) => AckToken,
  ) {
    super(real.key, undefined);
  }

  override track(position: unknown): AckToken {
    return this.onTrack(this.real, position);
  }

  override get committed(): unknown {
    return this.real.committed;
  }

  override get inFlight(): number {
    return this.real.inFlight;
  }

  override onCommit(fn: (pos: unknown) => void): void {
    this.real.onCommit(fn);
  }
}
