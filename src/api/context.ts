/**
 * What the route plugins are given: the service's parts (AppDeps, from main.ts or a test) and the API's own
 * (sessions, metrics, sign-in guard) that app.ts makes. A module of its own so that app.ts imports the routes and
 * the routes import this, not app.ts back.
 */
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import type { AdmissionControl } from '../orchestrator/admission.js';
import type { AgentDirectory } from '../orchestrator/agent-directory.js';
import type { MediaServerStatus } from '../ports/media-capacity.js';
import type { CallControl, CallSnapshot } from '../orchestrator/call-control.js';
import type { SupervisionShell } from '../orchestrator/supervision-shell.js';
import type { MediaTelemetry } from '../ports/media-telemetry.js';
import type { StateStore } from '../ports/state-store.js';
import type { SimBackend } from '../telephony/sim/sim-backend.js';
import type { Metrics } from './metrics.js';
import type { PasswordChecker, PasswordHasher } from './passwords.js';
import type { AgentSessions } from './sessions.js';
import type { SignInGuard } from './sign-in-guard.js';
import type { SupervisorSessions } from './supervisors.js';

export interface AppDeps {
  readonly config: AppConfig;
  readonly callControl: CallControl;
  /** Supervisors on live calls (absent in tests that build the app alone: the routes answer 000-004). */
  readonly supervision?: SupervisionShell;
  readonly directory: AgentDirectory;
  /** Sessions and event streams (shared by every instance when it is Redis). */
  readonly store: StateStore;
  readonly instanceId: string;
  readonly logger: Logger;
  /** Present when the backend is the simulator: enables /sim and the answer interface. */
  readonly sim?: SimBackend;
  readonly backendName: 'sim' | 'drachtio';
  /** Connectivity of the backend's servers, for /health (real backend only). */
  readonly backendStatus?: () => Record<string, boolean>;
  /** The media server's timings and the reconciler's findings, for /health and /metrics (real backend only). */
  readonly mediaTelemetry?: MediaTelemetry;
  /** Admission control (issue 21): capacity, reservations and refusals, for /health and /metrics. */
  readonly admission?: AdmissionControl;
  /** The media servers (real backend only): their state, and an operator's drain (/admin/media-servers). */
  readonly mediaServers?: { status(): MediaServerStatus[]; drain(id: string, draining: boolean): boolean };
  /** The clock for sign-in throttling (tests set it). */
  readonly clock?: () => number;
  /** scrypt as the password checks call it (tests wrap it to count or hold checks). */
  readonly passwordHasher?: PasswordHasher;
  /** This instance among others: draining (for /health), and where a call owned by another instance is served. */
  readonly cluster?: ClusterView;
}

export interface ClusterView {
  readonly draining: boolean;
  /** The calls other live instances hold, as their owners last recorded them (for the wall). */
  otherInstancesCalls(): Promise<CallSnapshot[]>;
  /** Starts the same stop as SIGTERM (a drain among other instances); absent where nothing may stop the process. */
  readonly requestStop?: (why: string) => void;
  /** The API address of the live instance that owns the agent's call, when it is not this one (null otherwise). */
  ownerUrlOfAgentCall(workNo: string): Promise<string | null>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * This instance stops serving desks but keeps its API open (a draining instance still takes requests for its
     * calls): waiting polls are answered, WebSockets closed with 1012; the desks resume at another instance.
     */
    releaseDesks(): void;
  }
}

export interface AppContext extends AppDeps {
  readonly sessions: AgentSessions;
  readonly metrics: Metrics;
  readonly signInGuard: SignInGuard;
  readonly passwords: PasswordChecker;
  readonly supervisors: SupervisorSessions;
  /** The audit log of supervisor actions (pino child logger `audit`: who, what, which call, when). */
  readonly audit: Logger;
}
