/**
 * The simulated phones (simulated backend only): a customer calls a DID; each phone answers, rejects, hangs up, and
 * shows what it hears. Uses the simulator's /sim routes, which play the phones' part; the desk and wall never do.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { request, type Envelope } from './api.js';
import { Message } from './common.js';

interface Phone {
  readonly number: string;
  readonly agent: string | null;
  readonly state: 'idle' | 'ringing' | 'talking';
  readonly hears: readonly string[];
}

interface Phones {
  readonly phones: readonly Phone[];
  readonly dids: readonly { readonly did: string; readonly to: string }[];
}

function PhonesPanel() {
  const [data, setData] = useState<Phones | null>(null);
  const [refusal, setRefusal] = useState<Envelope | null>(null);
  const [from, setFrom] = useState('5550100');
  const [did, setDid] = useState('');

  const refresh = async () => {
    const reply = await request<Phones>('GET', '/sim/phones');
    if (reply.retcode === '0' && reply.result) setData(reply.result);
    else setRefusal(reply);
  };
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 1000);
    return () => clearInterval(timer);
  }, []);

  const act = async (path: string, body?: unknown) => {
    const reply = await request('POST', path, body !== undefined ? { body } : {});
    setRefusal(reply.retcode === '0' ? null : reply);
    await refresh();
  };
  const chosenDid = did || data?.dids[0]?.did || '';
  const names = new Map((data?.phones ?? []).filter((p) => p.agent).map((p) => [p.number, `agent ${p.agent ?? ''}`]));
  const hears = (h: string): string => (h === 'moh' ? 'hold music' : h === 'ringback' ? 'ringback' : names.has(h) ? `${h} (${names.get(h) ?? ''})` : h);

  return (
    <main class="phones">
      <header class="bar">
        <h1>
          Simulated phones <span class="sub">simulator only</span>
        </h1>
      </header>
      <Message refusal={refusal} />
      <form
        aria-label="A customer calls"
        onSubmit={(e) => {
          e.preventDefault();
          void act('/sim/calls', { from: from.trim(), to: chosenDid });
        }}
      >
        <label>
          Customer's number
          <input name="from" inputMode="tel" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          Number called (DID)
          <select name="did" value={chosenDid} onChange={(e) => setDid(e.currentTarget.value)}>
            {(data?.dids ?? []).map((d) => (
              <option key={d.did} value={d.did}>
                {d.did} ({d.to})
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Call</button>
      </form>
      <table data-testid="phones">
        <thead>
          <tr>
            <th scope="col">Phone</th>
            <th scope="col">State</th>
            <th scope="col">Hears</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(data?.phones ?? []).map((p) => {
            const name = p.agent ? `${p.number} (agent ${p.agent})` : `${p.number} (customer)`;
            return (
              <tr key={p.number} data-phone={p.number} data-state={p.state} data-hears={p.hears.join(',')}>
                <th scope="row">{name}</th>
                <td class={`phone-state ${p.state}`}>{p.state}</td>
                <td>{p.state === 'talking' && p.hears.length === 0 ? 'silence' : p.hears.map(hears).join(', ')}</td>
                <td class="buttons">
                  <button type="button" aria-label={`Answer ${name}`} onClick={() => void act(`/sim/phones/${p.number}/answer`)}>
                    Answer
                  </button>
                  <button type="button" aria-label={`Reject on ${name}`} onClick={() => void act(`/sim/phones/${p.number}/reject`, {})}>
                    Reject
                  </button>
                  <button type="button" class="danger" aria-label={`Hang up ${name}`} onClick={() => void act(`/sim/phones/${p.number}/hangup`)}>
                    Hang up
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </main>
  );
}

const root = document.getElementById('app');
if (root) render(<PhonesPanel />, root);
