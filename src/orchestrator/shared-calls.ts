/**
 * What this instance's calls tell the state store, for the other instances: which agents each call holds (an
 * agent is reserved before its phone rings, so two instances never ring one agent for two calls), and a record of
 * each call after every decision (its owner, phase, agents, and each leg's dialog and media channel), from which a
 * survivor ends the call if this instance dies. Without a store (one instance alone) it keeps the reservations itself.
 */
import type { Logger } from 'pino';
import { agentsOnCall } from '../core/decide.js';
import type { CallState } from '../core/types.js';
import type { StateStore } from '../ports/state-store.js';
import type { SignallingPort } from '../ports/telephony.js';

export class SharedCalls {
  /**
   * Without a store (one instance alone): the same reservation, here. Two calls whose decisions both took one agent
   * (a target chosen when a handset dialled, rung only once that call is set up) cannot both ring it: the first to
   * hold the agent keeps it, the other's dial fails as busy.
   */
  private readonly held = new Map<string, string>();

  constructor(
    private readonly store: StateStore | undefined,
    private readonly instanceId: string,
    private readonly signalling: Pick<SignallingPort, 'locate'>,
  ) {}

  /**
   * The store's atomic "this agent holds no other call": true when reserved for this call. A store that cannot be
   * reached does not stop calls: this instance's own view (already checked by the core) decides then.
   */
  async reserve(callId: string, workNo: string, log: Logger): Promise<boolean> {
    if (!this.store) return this.reserveHere(workNo, callId);
    try {
      return await this.store.reserveAgent(workNo, callId);
    } catch (error) {
      log.warn({ workNo, err: (error as Error).message }, 'state store unreachable: agent rung without a shared reservation');
      return true;
    }
  }

  private reserveHere(workNo: string, callId: string): boolean {
    const holder = this.held.get(workNo);
    if (holder !== undefined && holder !== callId) return false;
    this.held.set(workNo, callId);
    return true;
  }

  /** After a decision: agents who left the call freed, new ones reserved (idempotent), the call's record written. */
  decided(state: CallState, startedAt: number, agentsBefore: ReadonlySet<string>, log: Logger): void {
    const store = this.store;
    const callId = state.callId;
    const agents = agentsOnCall(state);
    if (!store) {
      for (const workNo of agentsBefore) if (!agents.has(workNo) && this.held.get(workNo) === callId) this.held.delete(workNo);
      for (const workNo of agents) if (!agentsBefore.has(workNo)) this.reserveHere(workNo, callId);
      return;
    }
    for (const workNo of agentsBefore) if (!agents.has(workNo)) void store.releaseAgent(workNo, callId).catch(() => undefined);
    for (const workNo of agents) if (!agentsBefore.has(workNo)) void store.reserveAgent(workNo, callId).catch(() => undefined);
    const work =
      state.phase.name === 'ended'
        ? store.deleteCall(callId)
        : store.saveCall({
            callId,
            instanceId: this.instanceId,
            phase: state.phase.name,
            agents: [...agents],
            legs: Object.values(state.legs)
              .filter((leg) => leg.status !== 'gone')
              .map((leg) => ({
                legId: leg.id,
                ...(leg.workNo !== undefined ? { workNo: leg.workNo, callIds: leg.callIds } : {}),
                ...this.signalling.locate(leg.id),
              })),
            updatedAt: Date.now(),
            view: { state, startedAt },
          });
    work.catch((error: unknown) => log.warn({ err: (error as Error).message }, 'call record not saved'));
  }
}
