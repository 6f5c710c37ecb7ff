/**
 * Every few seconds: FreeSWITCH's channels and rooms against the service's legs. A channel that this service made
 * (its owner tag is ours) but that belongs to no live leg is hung up, logged with its leg and call, and counted.
 * Channels of anybody else (no tag, or another owner) are never touched, and a channel younger than the grace period
 * is left alone (its leg may still be being set up or released).
 */
import type { Logger } from 'pino';
import type { ReconcilerReport } from '../../ports/media-telemetry.js';
import type { FreeSwitchCommands } from './freeswitch-control.js';
import { TAG_HEADERS, tagVariable } from './signalling.js';

export interface ReconcilerOptions {
  readonly fs: FreeSwitchCommands;
  /** Our owner tag (see signalling.ts). */
  readonly owner: string;
  /** Channels of live legs (media adapter) and the live leg ids (signalling): what must be left alone. */
  liveChannels(): Set<string>;
  isLiveLeg(legId: string): boolean;
  readonly intervalMs: number;
  /** Channels younger than this are left alone (default 3000 ms). */
  readonly graceMs?: number;
  readonly logger: Logger;
}

interface ChannelRow {
  readonly uuid: string;
  readonly created_epoch?: string;
  readonly name?: string;
  readonly application?: string;
}

interface ConferenceInfo {
  readonly conference_name: string;
  readonly members?: readonly { readonly uuid?: string; readonly type?: string }[];
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private orphans = 0;
  private stale = 0;
  private lastRunAt: string | null = null;
  private lastError: string | null = null;
  private readonly log: Logger;
  private readonly listeners = new Set<(orphan: { uuid: string; legId: string | null; callId: string | null }) => void>();

  constructor(private readonly options: ReconcilerOptions) {
    this.log = options.logger.child({ component: 'reconciler' });
  }

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Told of each orphan hung up (metrics). */
  onOrphan(listener: (orphan: { uuid: string; legId: string | null; callId: string | null }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  report(): ReconcilerReport {
    return { orphansHungUp: this.orphans, staleRooms: this.stale, lastRunAt: this.lastRunAt, lastError: this.lastError };
  }

  /** One comparison; returns the number of channels hung up. Never throws. */
  async runOnce(): Promise<number> {
    const { fs } = this.options;
    if (this.running || !fs.up) return 0;
    this.running = true;
    try {
      const hungUp = await this.sweepChannels();
      await this.sweepRooms();
      this.lastRunAt = new Date().toISOString();
      this.lastError = null;
      return hungUp;
    } catch (error) {
      this.lastError = (error as Error).message;
      this.log.warn({ err: this.lastError }, 'reconciliation failed');
      return 0;
    } finally {
      this.running = false;
    }
  }

  private async sweepChannels(): Promise<number> {
    const rows = parseRows(await this.options.fs.run('show', 'channels as json'));
    const live = this.options.liveChannels();
    const now = Date.now() / 1000;
    const grace = (this.options.graceMs ?? 3000) / 1000;
    let hungUp = 0;
    for (const row of rows) {
      if (live.has(row.uuid)) continue;
      if (now - Number(row.created_epoch ?? now) < grace) continue;
      const vars = await this.variables(row.uuid);
      if (!vars || vars[tagVariable(TAG_HEADERS.owner)] !== this.options.owner) continue;
      const legId = vars[tagVariable(TAG_HEADERS.leg)] ?? null;
      if (legId && this.options.isLiveLeg(legId)) continue;
      // Checked again just before the kill: the leg may have gone live while we asked.
      if (this.options.liveChannels().has(row.uuid)) continue;
      const callId = vars[tagVariable(TAG_HEADERS.call)] ?? null;
      const reply = await this.options.fs.run('uuid_kill', row.uuid);
      if (reply.startsWith('-ERR')) continue; // it ended by itself meanwhile
      hungUp += 1;
      this.orphans += 1;
      this.log.warn(
        { uuid: row.uuid, legId, callId, channel: row.name, application: row.application, ageSeconds: Math.round(now - Number(row.created_epoch ?? now)) },
        'orphan FreeSWITCH channel hung up',
      );
      for (const listener of this.listeners) listener({ uuid: row.uuid, legId, callId });
    }
    return hungUp;
  }

  /** Rooms whose members are all unknown to us: logged and counted (their members are the orphans above). */
  private async sweepRooms(): Promise<void> {
    const reply = await this.options.fs.run('conference', 'json_list');
    if (!reply.trim().startsWith('[')) return; // "-ERR No active conferences." and the like
    const rooms = JSON.parse(reply) as ConferenceInfo[];
    const live = this.options.liveChannels();
    for (const room of rooms) {
      const members = (room.members ?? []).filter((m) => m.uuid);
      if (members.length === 0 || members.some((m) => live.has(m.uuid as string))) continue;
      this.stale += 1;
      this.log.warn({ room: room.conference_name, members: members.length }, 'room with no live member');
    }
  }

  private async variables(uuid: string): Promise<Record<string, string> | null> {
    const reply = await this.options.fs.run('uuid_dump', `${uuid} json`);
    if (!reply.trim().startsWith('{')) return null;
    const dump = JSON.parse(reply) as Record<string, string>;
    const vars: Record<string, string> = {};
    for (const [key, value] of Object.entries(dump)) if (key.startsWith('variable_')) vars[key.slice('variable_'.length)] = value;
    return vars;
  }
}

/** Rows of `show channels as json` ({"row_count":0} when there are none). */
export function parseRows(reply: string): ChannelRow[] {
  const text = reply.trim();
  if (!text.startsWith('{')) throw new Error(`show channels: ${text.slice(0, 120)}`);
  const parsed = JSON.parse(text) as { rows?: ChannelRow[] };
  return parsed.rows ?? [];
}
