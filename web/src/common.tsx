/** Pieces the pages share: the sign-in form, the message line, a ticking clock. */
import { useEffect, useState } from 'preact/hooks';
import { describeRefusal, signIn, signInSupervisor, type Envelope, type Session } from './api.js';

export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** The API's refusal (or a notice), read out by screen readers as it appears. */
export function Message({ refusal, notice }: { refusal: Envelope | null; notice?: string | null }) {
  return (
    <div class="messages">
      <p role="alert" class={refusal ? 'refusal' : 'refusal empty'} data-testid="refusal">
        {refusal ? `Refused: ${describeRefusal(refusal)}` : ''}
      </p>
      {notice ? (
        <p role="status" class="notice">
          {notice}
        </p>
      ) : null}
    </div>
  );
}

export interface SignInDefaults {
  readonly workNo: string;
  readonly phone: string;
  readonly password: string;
}

/** `?agent=&phone=` fill in the form; a password is never taken from an address. */
export function defaultsFromUrl(): SignInDefaults {
  const params = new URLSearchParams(location.search);
  return { workNo: params.get('agent') ?? '', phone: params.get('phone') ?? '', password: '' };
}

export function SignInForm({
  title,
  defaults,
  why,
  onSignedIn,
  supervisor = false,
}: {
  title: string;
  defaults: SignInDefaults;
  why: string | null;
  onSignedIn: (session: Session) => void;
  /** The wall: a supervisor's id and password, no phone. */
  supervisor?: boolean;
}) {
  const [workNo, setWorkNo] = useState(defaults.workNo);
  const [password, setPassword] = useState(defaults.password);
  const [phone, setPhone] = useState(defaults.phone);
  const [force, setForce] = useState(false);
  const [refusal, setRefusal] = useState<Envelope | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const outcome = supervisor ? await signInSupervisor(workNo.trim(), password, force) : await signIn(workNo.trim(), password, phone.trim(), force);
    setBusy(false);
    if ('refusal' in outcome) setRefusal(outcome.refusal);
    else onSignedIn(outcome.session);
  };
  return (
    <main class="signin">
      <h1>{title}</h1>
      {why ? (
        <p role="status" class="notice" data-testid="stale">
          {why}
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <label>
          {supervisor ? 'Supervisor id' : 'Work number'}
          <input name="workNo" inputMode="numeric" autoComplete="username" required value={workNo} onInput={(e) => setWorkNo(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {supervisor ? null : (
          <label>
            Phone number <span class="hint">(empty: the agent's configured phone)</span>
            <input name="phone" inputMode="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
          </label>
        )}
        <label class="check">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
          Take over a session already open elsewhere
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <Message refusal={refusal} />
    </main>
  );
}
