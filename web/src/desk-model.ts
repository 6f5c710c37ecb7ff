/**
 * The desk's picture of the agent's calls, built from the agent's events alone (the same events any desktop
 * written against the gateway gets). Pure: (state, event) -> state, so it can be tested without a browser, kept in
 * the tab's storage across a reload, and brought up to date by the events the service queued during a drop.
 */

/** An agent event as the service sends it (the `event` of the envelope). */
export interface AgentEventEnvelope {
  readonly eventType: string;
  readonly workNo: string;
  readonly eventGenTime: number;
  /** null for events that carry nothing (agent states such as AgentState_Ready). */
  readonly content: string | Readonly<Record<string, string | number>> | null;
}

export type LineState = 'ringing' | 'alerting' | 'talking' | 'conference';

/** One connection the agent knows by a call id: its customer call, a help call, an internal call. */
export interface Line {
  readonly callid: string;
  readonly state: LineState;
  /** A help call (between the agent who asked and the helper). */
  readonly help: boolean;
  /** Who is at the other end: a customer's number or an agent's work number ('' while unknown). */
  readonly other: string;
  /** The others in a three-party call. */
  readonly partners: readonly string[];
  /** The customer was put on hold (music). */
  readonly held: boolean;
  /** When the line reached its current kind of state (ringing, or connected), service clock (ms). */
  readonly since: number;
  readonly caller: string;
  readonly called: string;
  /** For a help call offered to this agent: the mode asked (1 two-party, 2 three-party) and the note. */
  readonly mode?: number;
  readonly callappdata?: string;
}

export interface LoggedEvent {
  readonly eventType: string;
  readonly at: number;
  readonly summary: string;
}

/** The agent's state as the service last said (agentstatus, then the AgentState_* events). */
export interface AgentStateView {
  readonly status: 'ready' | 'not-ready' | 'rest' | 'wrap-up';
  /** The not-ready reason (0 none, 2 did not answer, 200–250 the site's) or the rest cause. */
  readonly reason: number;
  /** When rest ends (service clock, ms), if known: from AgentState_SetRest_Success. */
  readonly until: number | null;
}

export interface DeskState {
  /** null: not known yet (before agentstatus answers). Absent in a desk stored by an older page. */
  readonly agent?: AgentStateView | null;
  readonly lines: readonly Line[];
  /** The newest events first, for the agent (and a test) to read what the service said. */
  readonly log: readonly LoggedEvent[];
  /** A notice from an event, such as a failed help request. */
  readonly notice: string | null;
}

export const emptyDesk: DeskState = { agent: null, lines: [], log: [], notice: null };

/** The not-ready reasons the desk offers (the vendor's range 200–250 is the site's to name; 0 is none). */
export const BUSY_REASONS: readonly { readonly code: number; readonly label: string }[] = [
  { code: 0, label: 'No reason' },
  { code: 201, label: 'Paperwork' },
  { code: 202, label: 'Training' },
  { code: 203, label: 'Meeting' },
];

/** AgentState_* events -> the agent's state; null: not an agent state event. */
export function applyAgentStateEvent(agent: AgentStateView | null, event: AgentEventEnvelope): AgentStateView | null | undefined {
  const content: Content = typeof event.content === 'object' && event.content !== null ? event.content : {};
  switch (event.eventType) {
    case 'AgentState_SetNotReady_Success':
      return { status: 'not-ready', reason: Number(content.reason ?? 0), until: null };
    case 'AgentState_SetRest_Success': {
      const seconds = Number(content.time);
      return { status: 'rest', reason: Number(content.reason ?? 0), until: Number.isFinite(seconds) ? event.eventGenTime + seconds * 1000 : null };
    }
    case 'AgentState_Work':
      return { status: 'wrap-up', reason: 0, until: null };
    case 'AgentState_Ready':
      return { status: 'ready', reason: 0, until: null };
    case 'AgentState_CancelNotReady_Success':
    case 'AgentState_CancelRest_Success':
    case 'AgentState_Rest_Timeout':
      // AgentState_Ready follows at once.
      return agent;
    default:
      return undefined;
  }
}

/** What GET agentstatus says: vendor codes 3 not ready, 4 idle, 5 wrap-up, 7 talking, 8 rest. */
export interface AgentStatusReply {
  readonly agentState: number;
  readonly reason: number;
}

/** The agent's state from agentstatus; on a call (7) the state under it is not said, so the desk keeps its own. */
export function fromAgentStatus(agent: AgentStateView | null, reply: AgentStatusReply): AgentStateView | null {
  switch (reply.agentState) {
    case 3:
      return { status: 'not-ready', reason: reply.reason, until: null };
    case 4:
      return { status: 'ready', reason: 0, until: null };
    case 5:
      return { status: 'wrap-up', reason: 0, until: null };
    case 8:
      return { status: 'rest', reason: reply.reason, until: agent?.status === 'rest' ? agent.until : null };
    default:
      return agent ?? { status: 'ready', reason: 0, until: null };
  }
}

export function reasonLabel(code: number): string {
  if (code === 2) return 'did not answer a call';
  return BUSY_REASONS.find((r) => r.code === code)?.label ?? `reason ${code}`;
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${d.getHours().toString().padStart(2, '0')}:${d.getMinutes().toString().padStart(2, '0')}`;
}

/** The state line of the desk: Ready, Not ready (reason), Rest (until when), Wrap-up, Talking. */
export function describeAgentState(agent: AgentStateView | null, onCall: boolean): string {
  const state = ((): string => {
    switch (agent?.status) {
      case undefined:
        return 'State unknown';
      case 'ready':
        return 'Ready';
      case 'not-ready':
        return agent.reason === 0 ? 'Not ready' : `Not ready (${reasonLabel(agent.reason)})`;
      case 'rest':
        return agent.until === null ? 'Rest' : `Rest (until ${clock(agent.until)})`;
      case 'wrap-up':
        return 'Wrap-up';
    }
  })();
  if (!onCall) return state;
  return agent && agent.status !== 'ready' ? `Talking (then ${state})` : 'Talking';
}

/** What the desk says when a supervisor joins the agent's call, switches mode or leaves. */
export const SUPERVISOR_NOTICES: Readonly<Record<string, string>> = {
  monitor: 'Supervisor listening to your call (nobody hears them).',
  coach: 'Supervisor coaching you: only you hear them, the customer does not.',
  barge: 'Supervisor joined your call: the customer hears them too.',
  none: 'The supervisor has left your call.',
};

const LOG_LIMIT = 30;
const FEATURE_HELP = 3;

type Content = Readonly<Record<string, string | number>>;

function field(content: Content, name: string): string {
  const value = content[name];
  return value === undefined ? '' : String(value);
}

export function summarize(event: AgentEventEnvelope): string {
  if (typeof event.content === 'string') return event.content;
  if (event.content === null) return '';
  return Object.entries(event.content)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** `me`: the agent's work number and phone, to tell which end of a call is the agent itself. */
export function applyEvent(state: DeskState, event: AgentEventEnvelope, me: { workNo: string; phone: string }): DeskState {
  const log = [{ eventType: event.eventType, at: event.eventGenTime, summary: summarize(event) }, ...state.log].slice(0, LOG_LIMIT);
  const next = reduce(state.lines, event, me);
  const agent = applyAgentStateEvent(state.agent ?? null, event);
  return { agent: agent === undefined ? (state.agent ?? null) : agent, lines: next.lines, log, notice: next.notice ?? state.notice };
}

function reduce(lines: readonly Line[], event: AgentEventEnvelope, me: { workNo: string; phone: string }): { lines: readonly Line[]; notice?: string } {
  const at = event.eventGenTime;
  const content: Content = typeof event.content === 'string' ? { callid: event.content } : (event.content ?? {});
  const callid = field(content, 'callid');
  const existing = lines.find((l) => l.callid === callid);
  const put = (line: Line): Line[] => (existing ? lines.map((l) => (l.callid === callid ? line : l)) : [...lines, line]);
  const without = (id: string): Line[] => lines.filter((l) => l.callid !== id);
  const blank: Line = { callid, state: 'ringing', help: false, other: '', partners: [], held: false, since: at, caller: '', called: '' };

  switch (event.eventType) {
    case 'AgentState_KeptSignedIn':
      return {
        lines,
        notice: `This desk did not fetch events for ${field(content, 'missedSeconds')} s while you were on a call: you were kept signed in (an agent is never signed out under a call). Here are the events of meanwhile.`,
      };
    case 'AgentEvent_Ringing': {
      const help = Number(content.feature) === FEATURE_HELP;
      const mode = content.mode === undefined ? undefined : Number(content.mode);
      const note = field(content, 'callappdata');
      return {
        lines: put({
          ...blank,
          help,
          other: field(content, 'caller'),
          caller: field(content, 'caller'),
          called: field(content, 'called'),
          ...(mode !== undefined ? { mode } : {}),
          ...(note !== '' ? { callappdata: note } : {}),
        }),
      };
    }
    case 'AgentEvent_Customer_Alerting': {
      const base = existing ?? blank;
      return {
        lines: put({
          ...base,
          state: 'alerting',
          help: base.help || Number(content.type) === FEATURE_HELP,
          other: field(content, 'otherPhoneWorkno') || field(content, 'otherPhone'),
          since: at,
        }),
      };
    }
    case 'AgentEvent_Talking': {
      const caller = field(content, 'caller');
      const called = field(content, 'called');
      const isMe = (x: string): boolean => x === me.workNo || x === me.phone;
      const other = isMe(caller) ? called : caller;
      const base = existing ?? blank;
      const connected = base.state === 'talking' || base.state === 'conference';
      return {
        lines: put({
          ...base,
          state: 'talking',
          help: base.help || Number(content.feature) === FEATURE_HELP,
          other,
          caller,
          called,
          partners: [],
          held: false,
          since: existing && connected ? base.since : at,
        }),
      };
    }
    case 'AgentEvent_Hold':
      return existing ? { lines: put({ ...existing, held: true }) } : { lines };
    case 'AgentEvent_Conference': {
      const partner = field(content, 'partner');
      const base = existing ?? { ...blank, state: 'conference' as const };
      const partners = partner === base.other ? base.partners : [...base.partners.filter((p) => p !== partner), partner];
      const joined = put({ ...base, state: 'conference', held: false, partners });
      // The help call with that partner is now part of the conference.
      return { lines: joined.map((l) => (l.callid !== callid && l.help && l.other === partner ? { ...l, state: 'conference' } : l)) };
    }
    case 'AgentEvent_Customer_Release': {
      const number = field(content, 'number');
      const rest = existing && existing.other === number ? without(callid) : lines;
      return { lines: rest.map((l) => (l.partners.includes(number) ? { ...l, partners: l.partners.filter((p) => p !== number) } : l)) };
    }
    case 'AgentEvent_Call_Release': {
      // A conference whose customer call ended goes on as a two-party call under the help call id.
      return { lines: without(callid).map((l) => (l.state === 'conference' ? { ...l, state: 'talking' } : l)) };
    }
    case 'AgentEvent_Consult_Fail':
      return { lines: without(callid), notice: 'The help request failed: the helper did not answer or was not reachable.' };
    case 'AgentEvent_Supervisor':
      // Sent only where the site chose to tell agents (wall.tellAgentWhenSupervised).
      return { lines, notice: SUPERVISOR_NOTICES[field(content, 'mode')] ?? SUPERVISOR_NOTICES.none };
    case 'AgentEvent_Inside_Call_Fail':
      return { lines: without(callid), notice: 'The internal call failed.' };
    case 'AgentEvent_linkagePhoneTransferOut':
      return { lines, notice: `Your phone is transferring the call to ${field(content, 'addrOut')}.` };
    case 'AgentEvent_SuccTransResult': {
      const result = Number(content.result);
      // The line itself changes with the events that follow (the release, or the customer back on hold or talking).
      return { lines, notice: result === 0 ? 'The call was transferred.' : `The transfer failed (the target answered ${result}): the customer is back with you.` };
    }
    default:
      return { lines };
  }
}

/** The customer call of the agent (the line that is not a help call), if any. */
export function mainLine(state: DeskState): Line | undefined {
  return state.lines.find((l) => !l.help) ?? state.lines[0];
}

/** The help call the agent asked for or answers, if any. */
export function helpLine(state: DeskState): Line | undefined {
  return state.lines.find((l) => l.help);
}

export function describeLine(line: Line): string {
  const who = line.other === '' ? 'unknown' : line.other;
  switch (line.state) {
    case 'ringing':
      return line.help ? `Help requested by ${who}` : `Ringing: call from ${who}`;
    case 'alerting':
      return line.help ? `Asking ${who} for help: ringing` : `Calling ${who}: ringing`;
    case 'talking':
      return `${line.help ? 'Help call' : 'Talking'} with ${who}${line.held ? ' (customer on hold)' : ''}`;
    case 'conference':
      return line.help ? `Help call with ${who}: joined the three-party call` : `Three-party call with ${[who, ...line.partners].join(' and ')}`;
  }
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes}:${seconds.toString().padStart(2, '0')}`;
}
