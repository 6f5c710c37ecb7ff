/**
 * Keeps this instance's agent directory in step with the other instances': every change made here is saved to the
 * store and told to the others; theirs are imported here. The newest version of an agent's state wins. A replica
 * that may have missed messages (the store was away) reloads every agent's state from the store.
 */
import type { Logger } from 'pino';
import type { AgentDirectory, ReplicaState } from '../orchestrator/agent-directory.js';
import type { AgentStateRecord, ClusterMessage, StateStore } from '../ports/state-store.js';

export class DirectorySync {
  private readonly versions = new Map<string, number>();
  private readonly off: (() => void)[] = [];
  /** Agents changed here this turn, to publish once at its end. */
  private readonly dirty = new Set<string>();
  private counter = 0;

  constructor(
    private readonly directory: AgentDirectory,
    private readonly store: StateStore,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /** Loads what the other instances (and this one's previous life) left, then follows both ways. */
  async start(): Promise<void> {
    await this.reload();
    this.off.push(
      this.store.onBroadcast((message) => this.received(message)),
      this.directory.onStateChange((workNo) => this.publish(workNo)),
      // Messages sent while the store was away are lost: read every agent's state again.
      this.store.onReconnect?.(() => void this.reload().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'agent states not reloaded'))) ??
        (() => undefined),
    );
  }

  stop(): void {
    for (const off of this.off.splice(0)) off();
  }

  /** Every agent's newest state from the store (at start, and after the store was away). */
  async reload(): Promise<void> {
    const records = await this.store.agentStates();
    for (const record of records) {
      // A previous life of this instance: its sign-ins and presence hold; its calls died with it.
      const calls = record.instanceId === this.instanceId ? [] : record.callsHere;
      this.importRecord(record, calls);
    }
    this.log.info({ agents: records.length }, 'agent states loaded from the store');
  }

  /** A dead instance's calls were ended by a survivor. */
  forgetInstance(instanceId: string): void {
    this.directory.forgetInstance(instanceId);
  }

  private received(message: ClusterMessage): void {
    if (message.from === this.instanceId) return;
    if (message.kind === 'instance-gone') this.directory.forgetInstance(message.instanceId);
    else if (message.kind === 'agent') this.importRecord(message.record, message.record.callsHere);
  }

  private importRecord(record: AgentStateRecord, calls: readonly string[]): void {
    const newer = (this.versions.get(record.workNo) ?? 0) < record.version;
    if (newer) this.versions.set(record.workNo, record.version);
    // The sender's calls always count; its view of the agent only if nothing newer is known here.
    this.directory.importState(record.instanceId, record.workNo, newer ? (record.state as ReplicaState) : null, calls);
  }

  /**
   * One decision changes an agent several times (its calls, then its presence): the agent's state is published
   * once, as it stands at the end of the turn, not once per change.
   */
  private publish(workNo: string): void {
    if (this.dirty.size === 0) queueMicrotask(() => this.flush());
    this.dirty.add(workNo);
  }

  private flush(): void {
    const agents = [...this.dirty];
    this.dirty.clear();
    for (const workNo of agents) this.publishNow(workNo);
  }

  private publishNow(workNo: string): void {
    // Newer than anything seen for the agent, from any instance.
    const version = Math.max(Date.now() * 1000 + (this.counter++ % 1000), (this.versions.get(workNo) ?? 0) + 1);
    this.versions.set(workNo, version);
    const record: AgentStateRecord = { workNo, version, instanceId: this.instanceId, callsHere: this.directory.callsOf(workNo), state: this.directory.exportState(workNo) };
    const failed = (error: unknown): void => this.log.warn({ workNo, err: (error as Error).message }, 'agent state not shared');
    this.store.saveAgentState(record).catch(failed);
    this.store.broadcast({ kind: 'agent', from: this.instanceId, record }).catch(failed);
  }
}
