/**
 * The agent desktop: sign in, see the calls as the events describe them, and act on them through the agent API.
 * Uses the public API only (REST with the Guid, and the WebSocket event stream).
 */
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { BASE, EventStream, STALE_RETCODES, describeRefusal, loadStored, request, store, storageKey, type Envelope, type Session, type StreamStatus } from './api.js';
import { Message, SignInForm, defaultsFromUrl, useNow } from './common.js';
import {
  BUSY_REASONS,
  applyEvent,
  describeAgentState,
  describeLine,
  emptyDesk,
  formatDuration,
  fromAgentStatus,
  helpLine,
  mainLine,
  type AgentStateView,
  type AgentStatusReply,
  type DeskState,
  type Line,
} from './desk-model.js';

/** What a desk may know of the other agents (GET agentgroup/{agentid}/helpers): who could help now. */
interface AgentInfo {
  readonly workNo: string;
  readonly skills: readonly string[];
  readonly free: boolean;
}

interface Stored {
  readonly session: Session;
  readonly desk: DeskState;
}

const KEY = storageKey('desk');

function Desk() {
  const stored = loadStored<Stored>(KEY);
  const [session, setSession] = useState<Session | null>(stored?.session ?? null);
  const [desk, setDesk] = useState<DeskState>(stored?.desk ?? emptyDesk);
  const [why, setWhy] = useState<string | null>(null);
  const defaults = useRef(defaultsFromUrl());

  useEffect(() => store(KEY, session ? { session, desk } : null), [session, desk]);

  const signedIn = (s: Session) => {
    setWhy(null);
    setDesk(emptyDesk);
    setSession(s);
  };
  const signedOut = (reason: string | null, last: Session | null) => {
    if (last) defaults.current = { ...defaults.current, workNo: last.workNo, phone: last.phone };
    setWhy(reason);
    setSession(null);
    setDesk(emptyDesk);
  };

  if (!session) return <SignInForm title="Agent desktop" defaults={defaults.current} why={why} onSignedIn={signedIn} />;
  return <SignedIn key={session.guid} session={session} desk={desk} setDesk={setDesk} onSignedOut={signedOut} />;
}

function SignedIn({
  session,
  desk,
  setDesk,
  onSignedOut,
}: {
  session: Session;
  desk: DeskState;
  setDesk: (update: (d: DeskState) => DeskState) => void;
  onSignedOut: (reason: string | null, last: Session | null) => void;
}) {
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const [refusal, setRefusal] = useState<Envelope | null>(null);
  const [agents, setAgents] = useState<AgentInfo[]>([]);
  const now = useNow();
  const me = { workNo: session.workNo, phone: session.phone };

  const stale = useCallback(
    (reply: Envelope) => onSignedOut(`Your session has ended: ${describeRefusal(reply)}. Sign in again.`, session),
    [onSignedOut, session],
  );

  /** Counts AgentState_* events: an agentstatus answer older than the newest of them is not applied. */
  const stateEvents = useRef(0);
  const refreshState = useCallback(async () => {
    const seen = stateEvents.current;
    const reply = await request<AgentStatusReply>('GET', `${BASE}/onlineagent/${session.workNo}/agentstatus`, { guid: session.guid });
    if (reply.retcode !== '0' || !reply.result || stateEvents.current !== seen) return;
    const status = reply.result;
    setDesk((d) => ({ ...d, agent: fromAgentStatus(d.agent ?? null, status) }));
  }, [session]);

  const refreshAgents = useCallback(async () => {
    const reply = await request<AgentInfo[]>('GET', `${BASE}/agentgroup/${session.workNo}/helpers`, { guid: session.guid });
    if (reply.retcode === '0' && reply.result) setAgents(reply.result);
  }, [session]);

  useEffect(() => {
    const stream = new EventStream(session, {
      event: (event) => {
        if (event.eventType.startsWith('AgentState_')) stateEvents.current++;
        setDesk((d) => applyEvent(d, event, me));
        void refreshAgents();
      },
      // At sign-in, after a reload and after a reconnect: the state as the service has it now.
      status: (s) => {
        setStatus(s);
        if (s === 'open') void refreshState();
      },
      stale,
    });
    void refreshAgents();
    const timer = setInterval(() => void refreshAgents(), 3000);
    return () => {
      stream.close();
      clearInterval(timer);
    };
    // The stream lives as long as the session (this component is keyed by the Guid).
  }, [session.guid]);

  /** Every request goes through here: a refusal is shown as the API worded it; a stale Guid asks for sign-in. */
  const act = async (method: string, path: string, body?: unknown): Promise<Envelope | null> => {
    const reply = await request(method, `${BASE}${path}`, { guid: session.guid, ...(body !== undefined ? { body } : {}) });
    if (STALE_RETCODES.includes(reply.retcode)) {
      stale(reply);
      return null;
    }
    setRefusal(reply.retcode === '0' ? null : reply);
    return reply;
  };

  const main = mainLine(desk);
  const help = helpLine(desk);
  const ringing = desk.lines.find((l) => l.state === 'ringing');
  const base = `/voicecall/${session.workNo}`;

  const signOut = async (force: boolean) => {
    const reply = await act('DELETE', `/onlineagent/${session.workNo}/${force ? 'forcelogout' : 'logout'}`);
    if (reply?.retcode === '0') onSignedOut('You have signed out.', session);
  };

  return (
    <main class="desk">
      <header class="bar">
        <h1>
          Agent {session.workNo} <span class="sub">phone {session.phone}</span>
        </h1>
        <p class={`link ${status}`} role="status" data-testid="link">
          {status === 'open' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Connection lost: reconnecting…'}
        </p>
        <p class={`presence ${desk.lines.length > 0 ? 'busy' : (desk.agent?.status ?? 'unknown')}`} data-testid="agent-state" data-state={desk.agent?.status ?? ''} aria-live="polite">
          {describeAgentState(desk.agent ?? null, desk.lines.length > 0)}
        </p>
        <button type="button" onClick={() => void signOut(false)}>
          Sign out
        </button>
        <button type="button" class="secondary" onClick={() => void signOut(true)}>
          Force sign out
        </button>
      </header>
      <Message refusal={refusal} notice={desk.notice} />

      <section aria-labelledby="calls-h" class="calls">
        <h2 id="calls-h">Calls</h2>
        <div aria-live="polite" data-testid="calls">
          {desk.lines.length === 0 ? <p class="empty-state">No call.</p> : desk.lines.map((line) => <CallLine key={line.callid} line={line} now={now} />)}
        </div>
      </section>

      <section aria-labelledby="controls-h" class="controls">
        <h2 id="controls-h">Call controls</h2>
        <div class="buttons">
          <button type="button" onClick={() => void act('PUT', `${base}/answer${ringing ? `?callid=${encodeURIComponent(ringing.callid)}` : ''}`)}>
            Answer
          </button>
          <button type="button" onClick={() => void act('POST', `${base}/hold`)}>
            Hold
          </button>
          <button type="button" onClick={() => void act('POST', `${base}/gethold${main ? `?callid=${encodeURIComponent(main.callid)}` : ''}`)}>
            Retrieve
          </button>
          <button type="button" class="danger" onClick={() => void act('DELETE', `${base}/release`)}>
            Release call
          </button>
        </div>
        <TransferForm agents={agents} act={act} base={base} />
      </section>

      <StatePanel agent={desk.agent ?? null} act={act} workNo={session.workNo} />

      <HelpPanel agents={agents} me={session.workNo} help={help} main={main} act={act} base={base} />

      <section aria-labelledby="log-h" class="log">
        <h2 id="log-h">Events</h2>
        <ol data-testid="events" reversed>
          {desk.log.map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <strong>{e.eventType}</strong> <span class="summary">{e.summary}</span>
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}

/** Ready, not ready (with a reason), rest (minutes), and leaving not ready or rest: the vendor's presence interfaces. */
function StatePanel({ agent, act, workNo }: { agent: AgentStateView | null; act: (method: string, path: string) => Promise<Envelope | null>; workNo: string }) {
  const [reason, setReason] = useState('0');
  const [minutes, setMinutes] = useState('15');
  const base = `/onlineagent/${encodeURIComponent(workNo)}`;
  return (
    <section aria-labelledby="state-h" class="state">
      <h2 id="state-h">Agent state</h2>
      <div class="buttons">
        <button type="button" onClick={() => void act('POST', `${base}/sayfree`)}>
          Ready
        </button>
        {agent?.status === 'not-ready' ? (
          <button type="button" class="secondary" onClick={() => void act('POST', `${base}/cancelbusy`)}>
            Cancel not ready
          </button>
        ) : null}
        {agent?.status === 'rest' ? (
          <button type="button" class="secondary" onClick={() => void act('POST', `${base}/cancelrest`)}>
            Cancel rest
          </button>
        ) : null}
      </div>
      <form
        aria-label="Not ready"
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act('POST', `${base}/saybusy?reason=${encodeURIComponent(reason)}`);
        }}
      >
        <label>
          Not ready reason
          <select name="reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
            {BUSY_REASONS.map((r) => (
              <option key={r.code} value={String(r.code)}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Not ready</button>
      </form>
      <form
        aria-label="Rest"
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act('POST', `${base}/rest/${Math.round(Number(minutes) * 60)}/0`);
        }}
      >
        <label>
          Rest minutes
          <input name="minutes" type="number" min="1" max="1440" step="1" required value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
        </label>
        <button type="submit">Rest</button>
      </form>
    </section>
  );
}

function CallLine({ line, now }: { line: Line; now: number }) {
  return (
    <article class={`line ${line.state}${line.held ? ' held' : ''}`} data-callid={line.callid} data-state={line.state} data-held={String(line.held)} aria-label={describeLine(line)}>
      <h3>{describeLine(line)}</h3>
      <dl>
        <dt>Call id</dt>
        <dd>{line.callid}</dd>
        {line.caller ? (
          <>
            <dt>Caller</dt>
            <dd>{line.caller}</dd>
          </>
        ) : null}
        {line.called ? (
          <>
            <dt>Called</dt>
            <dd>{line.called}</dd>
          </>
        ) : null}
        <dt>{line.state === 'ringing' || line.state === 'alerting' ? 'Ringing for' : 'Duration'}</dt>
        <dd>{formatDuration(now - line.since)}</dd>
        <dt>On hold</dt>
        <dd>{line.held ? 'yes' : 'no'}</dd>
        {line.partners.length > 0 ? (
          <>
            <dt>Also on the call</dt>
            <dd>{line.partners.join(', ')}</dd>
          </>
        ) : null}
        {line.callappdata ? (
          <>
            <dt>Note</dt>
            <dd>{line.callappdata}</dd>
          </>
        ) : null}
      </dl>
    </article>
  );
}

/** Blind transfer of the customer: to an agent (by work number) or to an outside number. */
function TransferForm({ agents, act, base }: { agents: AgentInfo[]; act: (method: string, path: string, body?: unknown) => Promise<Envelope | null>; base: string }) {
  const [to, setTo] = useState('');
  const transfer = (e: Event) => {
    e.preventDefault();
    const isAgent = agents.some((a) => a.workNo === to.trim());
    void act('POST', `${base}/transfer`, { devicetype: isAgent ? 2 : 5, address: to.trim(), mode: 0 });
  };
  return (
    <form onSubmit={transfer} aria-label="Transfer the call">
      <label>
        Transfer to (agent id or number)
        <input name="transfer-to" inputMode="tel" required pattern={'\\+?[0-9*#]{1,32}'} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <button type="submit">Transfer</button>
    </form>
  );
}

function HelpPanel({
  agents,
  me,
  help,
  main,
  act,
  base,
}: {
  agents: AgentInfo[];
  me: string;
  help: Line | undefined;
  main: Line | undefined;
  act: (method: string, path: string, body?: unknown) => Promise<Envelope | null>;
  base: string;
}) {
  const [target, setTarget] = useState('');
  const [mode, setMode] = useState<1 | 2>(1);
  const [note, setNote] = useState('');
  const [number, setNumber] = useState('');
  const others = agents.filter((a) => a.workNo !== me);
  const skills = [...new Set(agents.flatMap((a) => a.skills))].sort();
  const free = (a: AgentInfo): boolean => a.free;
  const describe = (a: AgentInfo): string => (a.free ? 'free' : 'not free');
  const chosen = target || (others[0] ? `agent:${others[0].workNo}` : '');
  const helperNumber = number || help?.other || '';

  const ask = (e: Event) => {
    e.preventDefault();
    const [kind, id] = chosen.split(':') as [string, string];
    void act('POST', `${base}/innerhelp`, { dstaddress: id, devicetype: kind === 'skill' ? 1 : 2, mode, callappdata: note });
  };
  return (
    <section aria-labelledby="help-h" class="help">
      <h2 id="help-h">Internal help</h2>
      <form onSubmit={ask} aria-label="Ask for help">
        <div class="field">
          <label for="helper">Helper</label>
          <select id="helper" name="helper" value={chosen} onChange={(e) => setTarget(e.currentTarget.value)}>
            <optgroup label="Agents">
              {others.map((a) => (
                <option key={a.workNo} value={`agent:${a.workNo}`}>
                  Agent {a.workNo}: {describe(a)}
                </option>
              ))}
            </optgroup>
            <optgroup label="Skills">
              {skills.map((s) => {
                const ready = others.filter((a) => a.skills.includes(s) && free(a)).map((a) => a.workNo);
                return (
                  <option key={s} value={`skill:${s}`}>
                    Skill {s}: {ready.length === 0 ? 'nobody free' : `free: ${ready.join(', ')}`}
                  </option>
                );
              })}
            </optgroup>
          </select>
        </div>
        <fieldset>
          <legend>Mode</legend>
          <label class="check">
            <input type="radio" name="mode" value="1" checked={mode === 1} onChange={() => setMode(1)} />
            Two-party (customer on hold)
          </label>
          <label class="check">
            <input type="radio" name="mode" value="2" checked={mode === 2} onChange={() => setMode(2)} />
            Three-party
          </label>
        </fieldset>
        <label>
          Note for the helper
          <input name="note" maxLength={1024} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        <button type="submit">Ask for help</button>
      </form>
      <div class="buttons">
        <button type="button" disabled={!help} title={help ? '' : 'no help call'} onClick={() => help && void act('POST', `${base}/dropcall/${encodeURIComponent(help.callid)}`)}>
          Drop helper
        </button>
        <button
          type="button"
          disabled={!help}
          title={help ? '' : 'no help call'}
          onClick={() => void act('POST', `${base}/confjoin`, { callid: main && main !== help ? main.callid : (help?.callid ?? '') })}
        >
          Make it three-party
        </button>
      </div>
      <form
        aria-label="Release a party"
        onSubmit={(e) => {
          e.preventDefault();
          void act('POST', `${base}/disconnect/${encodeURIComponent(helperNumber)}`);
        }}
      >
        <label>
          Party to release (number)
          <input name="party" inputMode="numeric" required value={helperNumber} onInput={(e) => setNumber(e.currentTarget.value)} />
        </label>
        <button type="submit">Release party</button>
      </form>
    </section>
  );
}

const root = document.getElementById('app');
if (root) render(<Desk />, root);
