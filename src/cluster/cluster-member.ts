/**
 * This instance among the others: it says it is alive (a heartbeat key that expires), watches for instances whose
 * heartbeat expired while they still own calls, and ends those calls properly (the survivor's cleanup): a BYE to
 * every phone by dialog id, every media channel killed, the agents freed with their release events. The agents
 * stay signed in. Only one survivor cleans up after a given dead instance (an atomic claim in the store).
 *
 * With the in-memory store there are no others: the heartbeat and the watch run all the same (they cost nothing),
 * and find nothing.
 */
import type { Logger } from 'pino';
import type { AgentEventType, CallState } from '../core/types.js';
import type { AgentDirectory } from '../orchestrator/agent-directory.js';
import type { CallSnapshot, TimedAgentEvent } from '../orchestrator/call-control.js';
import type { CallRecordSnapshot, InstanceInfo, StateStore } from '../ports/state-store.js';
import type { SignallingPort } from '../ports/telephony.js';
import { probeInstance, type Liveness } from './liveness-probe.js';

export interface ClusterMemberOptions {
  readonly store: StateStore;
  readonly instanceId: string;
  readonly directory: AgentDirectory;
  readonly signalling: Pick<SignallingPort, 'releaseForeign'>;
  /** Calls this instance holds now (the heartbeat carries it; drain waits for zero). */
  readonly activeCalls: () => number;
  /** Where this instance's HTTP API is (for requests forwarded to the owner of a call). */
  readonly httpUrl: () => string;
  /** How often the heartbeat is written and dead instances looked for (default 1000 ms). */
  readonly heartbeatMs?: number;
  /** How long a heartbeat lasts (default 3000 ms): an instance silent that long is dead. */
  readonly heartbeatTtlMs?: number;
  readonly logger: Logger;
  /** Asks an instance whose heartbeat expired whether it is still running (default: its /health, liveness-probe.ts). */
  readonly probe?: (httpUrl: string, instanceId: string) => Promise<Liveness>;
}

export class ClusterMember {
  private timer: NodeJS.Timeout | null = null;
  private mode: InstanceInfo['mode'] = 'serving';
  private cleaning = false;
  private readonly goneListeners = new Set<(instanceId: string) => void>();
  private readonly liveUrls = new Map<string, string>();
  /** Every instance's last advertised address, kept after its heartbeat expired (to ask it before cleaning up). */
  private readonly lastUrls = new Map<string, string>();

  constructor(private readonly options: ClusterMemberOptions) {}

  get draining(): boolean {
    return this.mode === 'draining';
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.tick(), this.options.heartbeatMs ?? 1000);
    this.timer.unref();
  }

  /** Takes no new calls from now on (the heartbeat says so; the signalling adapter refuses them). */
  drain(): void {
    this.mode = 'draining';
    void this.beat();
  }

  /** An orderly exit: the heartbeat goes at once (nobody mistakes this instance for a dead one with calls). */
  async leave(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.options.store.leave(this.options.instanceId).catch(() => undefined);
  }

  /** Stops the heartbeat and removes nothing, as a killed process would (the simulator's crash uses it). */
  halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Told when a dead instance's calls were ended (by this instance or another). */
  onInstanceGone(listener: (instanceId: string) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  /**
   * Where another live instance's API is (null: not alive): from the list read at the last tick, else (an instance
   * that came up since) from the store.
   */
  async urlOf(instanceId: string): Promise<string | null> {
    const known = this.liveUrls.get(instanceId);
    if (known !== undefined) return known;
    const live = await this.options.store.liveInstances();
    return live.find((i) => i.instanceId === instanceId)?.httpUrl ?? null;
  }

  /**
   * The API address of the live instance whose call holds the agent, when it is not this one (null otherwise): from
   * the directory's replica when it knows (no store round trip), else from the store's reservation and call record.
   */
  async ownerUrlOfAgentCall(workNo: string): Promise<string | null> {
    const { directory, store, instanceId } = this.options;
    if (directory.callsOf(workNo).length > 0) return null;
    const replicaOwner = directory.remoteOwnerOf(workNo);
    if (replicaOwner !== null && replicaOwner !== instanceId) return this.urlOf(replicaOwner);
    const callId = await store.callOfAgent(workNo);
    const record = callId === null ? null : await store.callRecord(callId);
    return record && record.instanceId !== instanceId ? this.urlOf(record.instanceId) : null;
  }

  /** The calls the other live instances hold, as their owners last recorded them (for the wall). */
  async otherInstancesCalls(): Promise<CallSnapshot[]> {
    const { store, instanceId } = this.options;
    const others = (await store.liveInstances()).filter((i) => i.instanceId !== instanceId);
    const records = (await Promise.all(others.map((i) => store.callsOwnedBy(i.instanceId)))).flat();
    return records.flatMap((r) => (r.view ? [{ state: r.view.state as CallState, startedAt: r.view.startedAt }] : []));
  }

  private async tick(): Promise<void> {
    await this.beat();
    // The live instances' addresses, for forwarding without a store round trip per request.
    await this.options.store.liveInstances().then(
      (live) => {
        this.liveUrls.clear();
        for (const i of live) this.liveUrls.set(i.instanceId, i.httpUrl);
        for (const i of live) this.lastUrls.set(i.instanceId, i.httpUrl);
      },
      () => undefined,
    );
    if (this.cleaning) return;
    this.cleaning = true;
    try {
      const dead = await this.options.store.deadOwners();
      for (const instanceId of dead) if (instanceId !== this.options.instanceId) await this.cleanUpAfter(instanceId);
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'could not look for dead instances');
    } finally {
      this.cleaning = false;
    }
  }

  private async beat(): Promise<void> {
    const info: InstanceInfo = { instanceId: this.options.instanceId, mode: this.mode, calls: this.options.activeCalls(), httpUrl: this.options.httpUrl() };
    await this.options.store.heartbeat(info, this.options.heartbeatTtlMs ?? 3000).catch((error: unknown) => {
      this.options.logger.warn({ err: (error as Error).message }, 'heartbeat not written: state store unreachable');
    });
  }

  private async cleanUpAfter(deadId: string): Promise<void> {
    const { store, instanceId, logger } = this.options;
    const url = this.lastUrls.get(deadId);
    if (url !== undefined && (await (this.options.probe ?? probeInstance)(url, deadId)) === 'alive') {
      // A starved host misses its heartbeat; its calls are talking: leave them, ask again at the next check.
      logger.warn({ instance: deadId }, 'an instance missed its heartbeat but still runs: its calls are left alone');
      return;
    }
    if (!(await store.claimCleanup(deadId, instanceId, 30_000))) return;
    this.lastUrls.delete(deadId);
    const calls = await store.callsOwnedBy(deadId);
    logger.warn({ deadInstance: deadId, calls: calls.length }, 'an instance died with calls: ending them');
    await Promise.all(calls.map((call) => this.endCall(call)));
    await store.broadcast({ kind: 'instance-gone', from: instanceId, instanceId: deadId }).catch(() => undefined);
    this.options.directory.forgetInstance(deadId);
    for (const call of calls) for (const workNo of call.agents) this.options.directory.callsEndedElsewhere(workNo);
    for (const listener of this.goneListeners) listener(deadId);
  }

  /** BYE to each phone, each channel killed, each agent told its call ids are released; the record goes. */
  private async endCall(call: CallRecordSnapshot): Promise<void> {
    const { store, signalling, logger } = this.options;
    const started = Date.now();
    await signalling.releaseForeign(call.legs);
    const now = Date.now();
    for (const leg of call.legs) {
      if (leg.workNo === undefined) continue;
      for (const callid of leg.callIds ?? [call.callId]) {
        const event: TimedAgentEvent = { workNo: leg.workNo, eventType: 'AgentEvent_Call_Release' satisfies AgentEventType, content: callid, eventGenTime: now };
        await store.appendEvent(leg.workNo, event).catch(() => undefined);
      }
    }
    await store.deleteCall(call.callId);
    logger.warn({ callId: call.callId, owner: call.instanceId, phase: call.phase, legs: call.legs.length, ms: now - started }, "dead instance's call ended");
  }
}
