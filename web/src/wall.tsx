/**
 * The supervisor's wall: every agent with its state (on a call, ready, not ready, rest, wrap-up) and time in it, every call with its parties and what each hears.
 * Public API only: the wall signs in as an agent, reads the agentgroup views with that Guid, and keeps the event
 * stream open (which keeps the session alive and tells when it has gone stale).
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { BASE, EventStream, STALE_RETCODES, describeRefusal, loadStored, request, store, storageKey, type Envelope, type Session, type StreamStatus } from './api.js';
import { Message, SignInForm, defaultsFromUrl, useNow } from './common.js';
import { formatDuration, reasonLabel } from './desk-model.js';

interface AgentView {
  readonly workNo: string;
  readonly phone: string;
  readonly skills: readonly string[];
  readonly presence: 'signed-out' | 'idle' | 'busy';
  readonly since: number | null;
  /** The agent's state (absent from a service older than agent states); null while signed out. */
  readonly state?: 'ready' | 'not-ready' | 'rest' | 'wrap-up' | null;
  readonly reason?: number | null;
  readonly stateSince?: number | null;
}

/** What the wall says of an agent, and since when: on a call (busy) first, else its state. */
function stateOf(a: AgentView): { readonly key: string; readonly text: string; readonly since: number | null } {
  if (a.presence === 'busy' || !a.state) {
    const then = a.presence === 'busy' && a.state && a.state !== 'ready' ? ` (then ${a.state === 'not-ready' ? 'not ready' : a.state})` : '';
    return { key: a.presence, text: `${a.presence === 'busy' ? 'On a call' : 'Free'}${then}`, since: a.since };
  }
  const reason = a.reason ?? 0;
  const text = { ready: 'Ready', 'not-ready': reason === 0 ? 'Not ready' : `Not ready (${reasonLabel(reason)})`, rest: 'Rest', 'wrap-up': 'Wrap-up' }[a.state];
  return { key: a.state, text, since: a.stateSince ?? null };
}

interface PartyView {
  readonly number: string;
  readonly workNo: string | null;
  readonly role: 'customer' | 'agent';
  readonly status: 'dialing' | 'ringing' | 'up';
  readonly hears: readonly string[];
}

interface CallView {
  readonly callid: string;
  readonly kind: string;
  readonly called: string;
  readonly startedAt: number;
  readonly phase: string;
  readonly held: boolean;
  readonly help: { readonly callid: string; readonly mode: number; readonly stage: string; readonly helper: string } | null;
  readonly parties: readonly PartyView[];
}

const KEY = storageKey('wall');

function Wall() {
  const [session, setSession] = useState<Session | null>(loadStored<Session>(KEY));
  const [why, setWhy] = useState<string | null>(null);
  const defaults = useRef(defaultsFromUrl());
  useEffect(() => store(KEY, session), [session]);
  if (!session) {
    return (
      <SignInForm
        title="Supervisor wall"
        defaults={defaults.current}
        why={why}
        onSignedIn={(s) => {
          setWhy(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Board
      key={session.guid}
      session={session}
      onStale={(reply) => {
        defaults.current = { ...defaults.current, workNo: session.workNo, phone: session.phone };
        setWhy(`Your session has ended: ${describeRefusal(reply)}. Sign in again.`);
        setSession(null);
      }}
    />
  );
}

function Board({ session, onStale }: { session: Session; onStale: (reply: Envelope) => void }) {
  const [agents, setAgents] = useState<AgentView[]>([]);
  const [calls, setCalls] = useState<CallView[]>([]);
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const [problem, setProblem] = useState<Envelope | null>(null);
  const now = useNow();

  useEffect(() => {
    let stopped = false;
    const refresh = async () => {
      const guid = session.guid;
      const [a, c] = await Promise.all([
        request<AgentView[]>('GET', `${BASE}/agentgroup/${session.workNo}/agents`, { guid }),
        request<{ at: number; calls: CallView[] }>('GET', `${BASE}/agentgroup/${session.workNo}/calls`, { guid }),
      ]);
      if (stopped) return;
      const stale = [a, c].find((r) => STALE_RETCODES.includes(r.retcode));
      if (stale) return onStale(stale);
      const failed = [a, c].find((r) => r.retcode !== '0');
      setProblem(failed ?? null);
      if (a.retcode === '0' && a.result) setAgents(a.result);
      if (c.retcode === '0' && c.result) {
        setCalls(c.result.calls);
        setOffset(Date.now() - c.result.at);
      }
    };
    const stream = new EventStream(session, { event: () => void refresh(), status: setStatus, stale: onStale });
    void refresh();
    const timer = setInterval(() => void refresh(), 1000);
    return () => {
      stopped = true;
      stream.close();
      clearInterval(timer);
    };
  }, [session.guid]);

  const serverNow = now - offset;
  const names = new Map<string, string>();
  for (const a of agents) names.set(a.phone, `agent ${a.workNo}`);
  const who = (number: string): string => (number === 'moh' ? 'hold music' : number === 'ringback' ? 'ringback' : names.has(number) ? `${number} (${names.get(number) ?? ''})` : number);

  return (
    <main class="wall">
      <header class="bar">
        <h1>
          Supervisor wall <span class="sub">as agent {session.workNo}</span>
        </h1>
        <p class={`link ${status}`} role="status" data-testid="link">
          {status === 'open' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Connection lost: reconnecting…'}
        </p>
      </header>
      <Message refusal={problem} />
      <section aria-labelledby="agents-h">
        <h2 id="agents-h">Agents</h2>
        <table data-testid="agents">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Phone</th>
              <th scope="col">Skills</th>
              <th scope="col">State</th>
              <th scope="col">Time in state</th>
            </tr>
          </thead>
          <tbody>
            {agents
              .filter((a) => a.presence !== 'signed-out')
              .map((a) => {
                const state = stateOf(a);
                return (
                  <tr key={a.workNo} data-agent={a.workNo} data-presence={a.presence} data-state={a.state ?? ''}>
                    <th scope="row">{a.workNo}</th>
                    <td>{a.phone}</td>
                    <td>{a.skills.join(', ')}</td>
                    <td class={`presence ${state.key}`}>{state.text}</td>
                    <td>{state.since === null ? '–' : formatDuration(serverNow - state.since)}</td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="calls-h">
        <h2 id="calls-h">Calls</h2>
        <div data-testid="wall-calls">
          {calls.length === 0 ? <p class="empty-state">No call in progress.</p> : null}
          {calls.map((call) => (
            <article key={call.callid} class="call" data-callid={call.callid} data-phase={call.phase} aria-label={`Call ${call.callid}`}>
              <h3>
                {callTitle(call)} <span class="sub">{formatDuration(serverNow - call.startedAt)}</span>
              </h3>
              <table>
                <caption class="visually-hidden">Parties of call {call.callid} and what each hears</caption>
                <thead>
                  <tr>
                    <th scope="col">Party</th>
                    <th scope="col">Status</th>
                    <th scope="col">Hears</th>
                  </tr>
                </thead>
                <tbody>
                  {call.parties.map((p) => (
                    <tr key={p.number} data-party={p.number} data-hears={p.hears.join(',')}>
                      <th scope="row">{p.role === 'customer' ? `customer ${p.number}` : who(p.number)}</th>
                      <td>{p.status === 'up' ? 'connected' : p.status}</td>
                      <td>{p.hears.length === 0 ? (p.status === 'up' ? 'silence (parked)' : '–') : p.hears.map(who).join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </article>
          ))}
        </div>
      </section>
    </main>
  );
}

function callTitle(call: CallView): string {
  const kind = call.kind === 'customer' ? `Customer call${call.called ? ` to ${call.called}` : ''}` : call.kind === 'internal' ? 'Internal call' : 'Outbound call';
  if (call.help) {
    const mode = call.help.mode === 1 ? 'two-party' : 'three-party';
    const stage = call.help.stage === 'ringing' ? `helper ${call.help.helper} ringing` : call.help.stage === 'talking' ? `helper ${call.help.helper} talking` : 'all three talking';
    return `${kind}: ${mode} help, ${stage}`;
  }
  const phase = {
    queued: 'queued',
    offering: 'ringing',
    originating: "ringing the agent's phone",
    connected: call.held ? 'on hold' : 'talking',
    transferring: 'being transferred',
    trunked: 'transferred to an outside number',
  } as Record<string, string>;
  return `${kind}: ${phase[call.phase] ?? call.phase}`;
}

const root = document.getElementById('app');
if (root) render(<Wall />, root);
