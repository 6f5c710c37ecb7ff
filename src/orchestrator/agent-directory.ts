/**
 * Who the agents are, who is signed in on which phone, and who is on a call.
 *
 * Busy-ness is derived from the calls (the orchestrator tells the directory which agents each call holds after every
 * decision), so it can never drift from the calls themselves. Everything here is synchronous: a check followed by a
 * decision in the same tick cannot race with another call.
 */
import type { AgentSnapshot, CallId } from '../core/types.js';

export interface AgentProfile {
  readonly workNo: string;
  readonly phone: string;
  readonly skills: readonly string[];
}

type Listener = () => void;

/** What a supervisor sees of an agent: signed out, signed in and free, or on a call (ringing or talking). */
export type AgentPresence = 'signed-out' | 'idle' | 'busy';

export class AgentDirectory {
  private readonly profiles = new Map<string, AgentProfile>();
  /** workNo -> phone the agent signed in with. */
  private readonly signedIn = new Map<string, string>();
  /** callId -> agents that call holds (ringing or talking). */
  private readonly agentsByCall = new Map<CallId, ReadonlySet<string>>();
  private readonly listeners = new Set<Listener>();
  /** workNo -> the agent's presence and when it last changed (ms since the epoch). */
  private readonly presenceSince = new Map<string, { presence: AgentPresence; since: number }>();

  constructor(
    profiles: readonly AgentProfile[],
    private readonly now: () => number = Date.now,
  ) {
    for (const p of profiles) this.profiles.set(p.workNo, p);
  }

  /** The agent's presence and since when it holds (null: never seen signed in since the service started). */
  presenceOf(workNo: string): { readonly presence: AgentPresence; readonly since: number | null } {
    const presence = this.currentPresence(workNo);
    const recorded = this.presenceSince.get(workNo);
    return { presence, since: recorded && recorded.presence === presence ? recorded.since : null };
  }

  private currentPresence(workNo: string): AgentPresence {
    if (!this.signedIn.has(workNo)) return 'signed-out';
    return this.isBusy(workNo) ? 'busy' : 'idle';
  }

  /** Notes the time of a change of presence (called after anything that may change it). */
  private touch(workNo: string): void {
    const presence = this.currentPresence(workNo);
    if (this.presenceSince.get(workNo)?.presence !== presence) this.presenceSince.set(workNo, { presence, since: this.now() });
  }

  profile(workNo: string): AgentProfile | undefined {
    return this.profiles.get(workNo);
  }

  allProfiles(): readonly AgentProfile[] {
    return [...this.profiles.values()];
  }

  signIn(workNo: string, phone?: string): void {
    const profile = this.profiles.get(workNo);
    if (!profile) throw new Error(`unknown agent ${workNo}`);
    this.signedIn.set(workNo, phone ?? profile.phone);
    this.touch(workNo);
    this.changed();
  }

  signOut(workNo: string): void {
    if (!this.signedIn.delete(workNo)) return;
    this.touch(workNo);
    this.changed();
  }

  isSignedIn(workNo: string): boolean {
    return this.signedIn.has(workNo);
  }

  /** The phone the agent signed in with, else the one configured. */
  phoneOf(workNo: string): string | undefined {
    return this.signedIn.get(workNo) ?? this.profiles.get(workNo)?.phone;
  }

  /** The signed-in agent using this phone, if any. */
  agentOnPhone(phone: string): string | undefined {
    for (const [workNo, p] of this.signedIn) if (p === phone) return workNo;
    return undefined;
  }

  callsOf(workNo: string): CallId[] {
    const calls: CallId[] = [];
    for (const [callId, agents] of this.agentsByCall) if (agents.has(workNo)) calls.push(callId);
    return calls;
  }

  isBusy(workNo: string): boolean {
    return this.callsOf(workNo).length > 0;
  }

  /** Called by the orchestrator after each decision: the agents a call now holds. */
  setCallAgents(callId: CallId, agents: ReadonlySet<string>): void {
    const before = this.agentsByCall.get(callId);
    if (agents.size === 0) this.agentsByCall.delete(callId);
    else this.agentsByCall.set(callId, agents);
    for (const workNo of new Set([...(before ?? []), ...agents])) this.touch(workNo);
    const freed = before ? [...before].some((a) => !agents.has(a)) : false;
    if (freed) this.changed();
  }

  snapshot(workNo: string): AgentSnapshot | undefined {
    const profile = this.profiles.get(workNo);
    if (!profile) return undefined;
    return {
      workNo,
      phone: this.phoneOf(workNo) ?? profile.phone,
      signedIn: this.signedIn.has(workNo),
      busy: this.isBusy(workNo),
    };
  }

  /** Agents with the skill, least busy first is not tracked yet: configuration order. */
  withSkill(skill: string): AgentSnapshot[] {
    const result: AgentSnapshot[] = [];
    for (const p of this.profiles.values()) {
      if (p.skills.includes(skill)) result.push(this.snapshot(p.workNo) as AgentSnapshot);
    }
    return result;
  }

  /** Told when an agent may have become available (signed in, or left a call). */
  onAvailabilityChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
