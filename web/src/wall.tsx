/**
 * The supervisor's wall: per skill the calls waiting, the longest wait and the service level over 15 and 60
 * minutes (figures and a live chart), the supervised agents by state and each with its state and time in it, help
 * sessions in progress, every call with its parties and what each hears.
 * Public API only: the wall signs in as a supervisor (PUT /onlinesupervisor/{id}), reads the agentgroup views of
 * its agents with that Guid, and keeps the supervisor's stream open: each event pushed there (an agent's event, a
 * change of the calls) makes it read the views again; it does not poll.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { BASE, EventStream, STALE_RETCODES, describeRefusal, loadStored, request, store, storageKey, type Envelope, type Session, type StreamStatus } from './api.js';
import { Message, SignInForm, defaultsFromUrl, useNow } from './common.js';
import { formatDuration, reasonLabel } from './desk-model.js';
import { SuperviseButtons } from './supervise.js';

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

interface QueueFigures {
  readonly skill: string;
  readonly waiting: number;
  readonly longestWaitSeconds: number;
  readonly serviceLevel15: number | null;
  readonly serviceLevel60: number | null;
  readonly answered60: number;
}

interface WallFigures {
  readonly at: number;
  readonly serviceLevelSeconds: number;
  readonly queues: readonly QueueFigures[];
  readonly agents: Readonly<Record<'onCall' | 'ready' | 'notReady' | 'rest' | 'wrapUp', number>>;
  readonly help: readonly { readonly callid: string; readonly helpCallid: string; readonly mode: number; readonly stage: string; readonly agent: string; readonly helper: string }[];
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
        supervisor
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
  const [figures, setFigures] = useState<WallFigures | null>(null);
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const [problem, setProblem] = useState<Envelope | null>(null);
  const [version, setVersion] = useState(0);
  const now = useNow();

  useEffect(() => {
    let stopped = false;
    const refresh = async () => {
      const guid = session.guid;
      const [a, c, q] = await Promise.all([
        request<AgentView[]>('GET', `${BASE}/agentgroup/${session.workNo}/agents`, { guid }),
        request<{ at: number; calls: CallView[] }>('GET', `${BASE}/agentgroup/${session.workNo}/calls`, { guid }),
        request<WallFigures>('GET', `${BASE}/agentgroup/${session.workNo}/queues`, { guid }),
      ]);
      if (stopped) return;
      const stale = [a, c, q].find((r) => STALE_RETCODES.includes(r.retcode));
      if (stale) return onStale(stale);
      const failed = [a, c, q].find((r) => r.retcode !== '0');
      setProblem(failed ?? null);
      if (a.retcode === '0' && a.result) setAgents(a.result);
      if (c.retcode === '0' && c.result) {
        setCalls(c.result.calls);
        setVersion((v) => v + 1);
        setOffset(Date.now() - c.result.at);
      }
      if (q.retcode === '0' && q.result) setFigures(q.result);
    };
    // Events come in bursts (one call change tells several agents): one read of the views per burst.
    let pending: ReturnType<typeof setTimeout> | null = null;
    const soon = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        void refresh();
      }, 100);
    };
    const stream = new EventStream(session, {
      event: soon,
      status: (st) => {
        setStatus(st);
        if (st === 'open') soon();
      },
      stale: onStale,
    });
    void refresh();
    return () => {
      stopped = true;
      stream.close();
      if (pending) clearTimeout(pending);
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
          Supervisor wall <span class="sub">supervisor {session.workNo}</span>
        </h1>
        <p class={`link ${status}`} role="status" data-testid="link">
          {status === 'open' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Connection lost: reconnecting…'}
        </p>
      </header>
      <Message refusal={problem} />
      {figures ? <Figures figures={figures} serverNow={serverNow} /> : null}
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
              {call.parties.some((p) => p.role !== 'customer' && p.status === 'up') ? <SuperviseButtons session={session} callid={call.callid} version={version} /> : null}
            </article>
          ))}
        </div>
      </section>
    </main>
  );
}

/** Queue figures per skill, agents by state, help in progress, and the live chart of calls waiting. */
function Figures({ figures, serverNow }: { figures: WallFigures; serverNow: number }) {
  const percent = (p: number | null): string => (p === null ? '–' : `${p} %`);
  const waitedNow = (q: QueueFigures): number => (q.waiting === 0 ? 0 : q.longestWaitSeconds + Math.max(0, Math.floor((serverNow - figures.at) / 1000)));
  const a = figures.agents;
  return (
    <section aria-labelledby="queues-h">
      <h2 id="queues-h">Queues</h2>
      <table data-testid="queues">
        <thead>
          <tr>
            <th scope="col">Skill</th>
            <th scope="col">Calls waiting</th>
            <th scope="col">Longest wait</th>
            <th scope="col">Service level 15 min</th>
            <th scope="col">Service level 60 min</th>
            <th scope="col">Answered (60 min)</th>
          </tr>
        </thead>
        <tbody>
          {figures.queues.map((q) => (
            <tr key={q.skill} data-skill={q.skill} data-waiting={q.waiting}>
              <th scope="row">{q.skill}</th>
              <td>{q.waiting}</td>
              <td>{q.waiting === 0 ? '–' : formatDuration(waitedNow(q) * 1000)}</td>
              <td>{percent(q.serviceLevel15)}</td>
              <td>{percent(q.serviceLevel60)}</td>
              <td>{q.answered60}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">Service level: calls answered within {figures.serviceLevelSeconds} s, of those answered or abandoned after that.</p>
      <p data-testid="agents-by-state">
        Agents: {a.onCall} on a call, {a.ready} ready, {a.notReady} not ready, {a.rest} resting, {a.wrapUp} in wrap-up
      </p>
      <p data-testid="help-in-progress">
        {figures.help.length === 0
          ? 'No help session in progress.'
          : `Help in progress: ${figures.help.map((h) => `${h.agent} with ${h.helper} (${h.mode === 1 ? 'two' : 'three'}-party, ${h.stage})`).join('; ')}`}
      </p>
      <WaitingChart figures={figures} />
    </section>
  );
}

const CHART_POINTS = 180;

/** Calls waiting per skill over the last readings (uPlot, bundled with the page: nothing loaded from elsewhere). */
function WaitingChart({ figures }: { figures: WallFigures }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const series = useRef<{ skills: string[]; data: number[][] }>({ skills: [], data: [[]] });
  useEffect(() => {
    const skills = figures.queues.map((q) => q.skill);
    const s = series.current;
    if (skills.join() !== s.skills.join()) {
      s.skills = skills;
      s.data = [[], ...skills.map(() => [])];
      chart.current?.destroy();
      chart.current = null;
    }
    (s.data[0] as number[]).push(figures.at / 1000);
    figures.queues.forEach((q, i) => (s.data[i + 1] as number[]).push(q.waiting));
    for (const column of s.data) if (column.length > CHART_POINTS) column.shift();
    if (!box.current) return;
    if (!chart.current) {
      const colours = ['#0b5394', '#a4161a', '#1e6b34', '#8a4b00'];
      chart.current = new uPlot(
        {
          width: Math.min(640, box.current.clientWidth || 640),
          height: 160,
          title: 'Calls waiting',
          scales: { y: { range: (_u, _min, max) => [0, Math.max(2, max)] } },
          series: [{}, ...skills.map((skill, i) => ({ label: skill, stroke: colours[i % colours.length] as string, width: 2 }))],
          axes: [{}, { label: 'calls' }],
        },
        s.data as uPlot.AlignedData,
        box.current,
      );
    } else chart.current.setData(s.data as uPlot.AlignedData);
  }, [figures]);
  useEffect(() => () => chart.current?.destroy(), []);
  return <div ref={box} class="chart" data-testid="waiting-chart" role="img" aria-label="Chart of calls waiting per skill over time" />;
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
