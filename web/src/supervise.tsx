/**
 * The wall's buttons per call (issue 20): the supervisor joins a live call listening (monitor), coaching the agent
 * (coach: only the agent hears it) or joining in (barge), switches between them on the same call (its phone is not
 * rung again), and leaves. Public API only: PUT / GET / DELETE /supervisor/{id}/monitor/{callid}.
 */
import { useEffect, useState } from 'preact/hooks';
import { BASE, describeRefusal, request, type Session } from './api.js';

type Mode = 'monitor' | 'coach' | 'barge';
interface Supervision {
  readonly supervisorId: string;
  readonly mode: Mode;
  readonly stage: 'ringing' | 'joined';
}

const LABELS: Record<Mode, string> = { monitor: 'Listen', coach: 'Coach', barge: 'Join' };
const TITLES: Record<Mode, string> = {
  monitor: 'Silent monitor: you hear the agent and the customer; nobody hears you',
  coach: 'Coach: you hear both; only the agent hears you',
  barge: 'Barge: all three of you talk',
};

/** `version` changes whenever the wall re-read its views: the supervision state is read again then. */
export function SuperviseButtons({ session, callid, version }: { session: Session; callid: string; version: number }) {
  const [current, setCurrent] = useState<Supervision | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const path = `${BASE}/supervisor/${session.workNo}/monitor/${encodeURIComponent(callid)}`;

  const read = async () => {
    const reply = await request<Supervision | null>('GET', path, { guid: session.guid });
    if (reply.retcode === '0') setCurrent(reply.result ?? null);
  };
  useEffect(() => {
    void read();
  }, [callid, version]);

  const act = async (mode: Mode | null) => {
    const reply = mode === null ? await request('DELETE', path, { guid: session.guid }) : await request('PUT', path, { guid: session.guid, body: { mode } });
    setProblem(reply.retcode === '0' ? null : describeRefusal(reply));
    await read();
  };

  const mine = current !== null && current.supervisorId === session.workNo;
  const other = current !== null && !mine;
  return (
    <div class="supervise" role="group" aria-label={`Supervise call ${callid}`} data-supervision={mine ? `${current.mode}:${current.stage}` : other ? 'other' : 'none'}>
      {(['monitor', 'coach', 'barge'] as const).map((mode) => (
        <button key={mode} type="button" title={TITLES[mode]} aria-pressed={mine && current.mode === mode} disabled={other} onClick={() => void act(mode)}>
          {LABELS[mode]}
        </button>
      ))}
      {mine ? (
        <button type="button" onClick={() => void act(null)}>
          Leave
        </button>
      ) : null}
      <span class="sub" role="status">
        {mine ? (current.stage === 'ringing' ? `Your phone is ringing (${LABELS[current.mode].toLowerCase()} when you answer)` : `You: ${TITLES[current.mode].split(':')[0]}`) : other ? `Supervisor ${current.supervisorId} is on this call` : ''}
        {problem ? ` ${problem}` : ''}
      </span>
    </div>
  );
}
