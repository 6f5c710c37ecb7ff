/**
 * What the real backend reports about its media server to the API (/health, /metrics): the timings of media
 * changes and the reconciler's findings. A port of its own so that the API depends on it, not on the backend.
 */
import type { LegId } from '../core/types.js';

export interface ReconcilerReport {
  /** Orphan channels hung up since the service started. */
  readonly orphansHungUp: number;
  /** Rooms found with no live member, since the service started. */
  readonly staleRooms: number;
  readonly lastRunAt: string | null;
  readonly lastError: string | null;
}

/** What the real backend tells metrics and tests about its media server. */
export interface MediaTelemetry {
  /** A media change took effect on FreeSWITCH `ms` after its command was sent. */
  onEffect(listener: (op: string, ms: number, legId: LegId) => void): () => void;
  /** The reconciler hung up a channel that no live leg owned. */
  onOrphan(listener: (orphan: { uuid: string; legId: string | null; callId: string | null }) => void): () => void;
  report(): ReconcilerReport;
}
