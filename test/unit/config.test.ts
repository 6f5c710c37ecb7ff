/** Configuration: defaults, CONFIG_FILE merged over them, environment over both, and one clear line per bad field. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PasswordChecker, hashPassword, scryptHasher, type PasswordHasher } from '../../src/api/passwords.js';
import { ConfigError, coreConfigOf, deepMerge, loadConfig, presenceConfigOf, routesOf, settingsWithPublicDefaultSecrets } from '../../src/config/config.js';

function file(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('the shipped defaults are valid and run on the simulator', () => {
    const config = loadConfig({});
    expect(config.telephony.backend).toBe('sim');
    expect(config.http.port).toBe(8043);
    expect(routesOf(config)).toEqual([
      { did: '4000', route: { kind: 'agent', workNo: '101' } },
      { did: '4001', route: { kind: 'skill', skill: 'support' } },
    ]);
    expect(coreConfigOf(config)).toEqual({ helpAnswerTimeoutSeconds: 20, offerAnswerTimeoutSeconds: 20, requeueSeconds: 10, queues: {} });
    expect(presenceConfigOf(config)).toEqual({ initialStatus: 'ready', wrapUpSeconds: 10 });
  });

  it('agent states and skill queues: what the core is given, and what is refused', () => {
    const agents = [
      { workNo: '101', password: 'x', phone: '2001', skills: ['a'] },
      { workNo: '102', password: 'x', phone: '2002', skills: ['b'] },
    ];
    const good = loadConfig({
      CONFIG_FILE: file({ agents, supervisors: [], presence: { initialState: 'not-ready', wrapUpSeconds: 30 }, routes: [], queues: { a: { maxWaitSeconds: 60, overflowTo: 'b' }, b: { maxWaitSeconds: 90, finalStatus: 486 } } }),
    });
    expect(presenceConfigOf(good)).toEqual({ initialStatus: 'not-ready', wrapUpSeconds: 30 });
    expect(coreConfigOf(good).queues).toEqual({
      a: { maxWaitSeconds: 60, treatment: { kind: 'overflow', skill: 'b' } },
      b: { maxWaitSeconds: 90, treatment: { kind: 'reject', sipStatus: 486 } },
    });
    const bad = file({
      agents,
      routes: [],
      presence: { initialState: 'away' },
      queues: { a: { maxWaitSeconds: 60, overflowTo: 'b', finalStatus: 486 }, b: { maxWaitSeconds: 0, finalStatus: 200 }, c: { maxWaitSeconds: 5, finalStatus: 480 } },
    });
    expect(problems({ CONFIG_FILE: bad })).toEqual(
      expect.arrayContaining([
        'presence.initialState: must be equal to one of the allowed values',
        'queues.a: needs exactly one of overflowTo or finalStatus',
        'queues.b.maxWaitSeconds: must be > 0',
        'queues.b.finalStatus: must be >= 400',
      ]),
    );
    const unknownSkill = file({ agents, supervisors: [], routes: [], queues: { c: { maxWaitSeconds: 5, finalStatus: 480 }, a: { maxWaitSeconds: 5, overflowTo: 'z' } } });
    expect(problems({ CONFIG_FILE: unknownSkill })).toEqual(['queues.c: no agent has skill c', 'queues.a.overflowTo: no agent has skill z']);
    const circle = file({ agents, supervisors: [], routes: [], queues: { a: { maxWaitSeconds: 5, overflowTo: 'b' }, b: { maxWaitSeconds: 5, overflowTo: 'a' } } });
    expect(problems({ CONFIG_FILE: circle })).toEqual([
      'queues.a.overflowTo: overflow goes round in a circle (a -> b -> a)',
      'queues.b.overflowTo: overflow goes round in a circle (b -> a -> b)',
    ]);
  });

  it('CONFIG_FILE is merged over the defaults, and the environment over both', () => {
    const path = file({ http: { port: 9000 }, help: { answerTimeoutSeconds: 7 } });
    const config = loadConfig({ CONFIG_FILE: path, HTTP_PORT: '9100', TELEPHONY_BACKEND: 'drachtio', FREESWITCH_ADVERTISED_ADDRESS: '10.0.0.9' });
    expect(config.http).toMatchObject({ port: 9100, host: '127.0.0.1' });
    expect(config.help.answerTimeoutSeconds).toBe(7);
    expect(config.telephony.backend).toBe('drachtio');
    expect(config.freeswitch.advertisedAddress).toBe('10.0.0.9');
  });

  it('names every bad field', () => {
    const path = file({
      agents: [
        { workNo: '12', password: 'x', phone: '2001' },
        { workNo: '102', phone: 'abc', password: 'x', passwordHash: 'scrypt$a$b' },
        { workNo: '103', phone: '2003', skills: ['s'], color: 'blue' },
      ],
      routes: [{ did: '4000', agent: '999' }],
    });
    const found = problems({ CONFIG_FILE: path, HTTP_PORT: 'eighty', TELEPHONY_BACKEND: 'asterisk' });
    expect(found).toEqual(
      expect.arrayContaining([
        'HTTP_PORT: must be a whole number, got "eighty"',
        'telephony.backend: must be equal to one of the allowed values',
        'agents[0].workNo: must match pattern "^[1-9][0-9]{2,5}$"',
        'agents[1].phone: must match pattern "^[0-9]+$"',
        'agents[1]: needs exactly one of password or passwordHash',
        'agents[2]: must NOT have additional properties (color)',
      ]),
    );
  });

  it('checks what a schema cannot: duplicates and routes to nobody', () => {
    const path = file({
      agents: [
        { workNo: '101', password: 'x', phone: '2001', skills: ['a'] },
        { workNo: '101', password: 'y', phone: '2002' },
      ],
      supervisors: [
        { id: '101', password: 'z', skills: ['a'] },
        { id: '901', password: 'z', skills: ['nobody'], groups: ['no-team'] },
      ],
      routes: [
        { did: '4000', agent: '999' },
        { did: '4000', skill: 'b' },
      ],
    });
    expect(problems({ CONFIG_FILE: path })).toEqual([
      'agents[1].workNo: 101 is used twice',
      'supervisors[0].id: 101 is used twice (supervisors and agents share one numbering)',
      'routes[0].agent: no agent 999',
      'routes[1].did: 4000 is used twice',
      'routes[1].skill: no agent has skill b',
    ]);
  });

  it('reports unreadable and malformed files', () => {
    expect(problems({ CONFIG_FILE: '/nonexistent/config.json' })[0]).toMatch(/cannot be read/);
    expect(problems({ CONFIG_FILE: file('{ nope') })[0]).toMatch(/not valid JSON/);
  });

  it('stops within 10 s (1 s when idle) unless told otherwise, and leaves time to hang calls up', () => {
    expect(loadConfig({}).shutdown).toEqual({ timeoutSeconds: 10, idleTimeoutSeconds: 1, callsGraceSeconds: 8, retryAfterSeconds: 10, drainSeconds: 3600 });
    const config = loadConfig({ SHUTDOWN_TIMEOUT_SECONDS: '30', SHUTDOWN_CALLS_GRACE_SECONDS: '25', SHUTDOWN_IDLE_TIMEOUT_SECONDS: '2' });
    expect(config.shutdown).toMatchObject({ timeoutSeconds: 30, callsGraceSeconds: 25, idleTimeoutSeconds: 2 });
    expect(problems({ SHUTDOWN_TIMEOUT_SECONDS: '5' })).toEqual([
      'shutdown.callsGraceSeconds: must be less than shutdown.timeoutSeconds (5), to leave time to hang the calls up',
    ]);
  });

  it('names the settings that still hold the public default secrets, and only those', () => {
    expect(settingsWithPublicDefaultSecrets(loadConfig({}))).toEqual(['drachtio.secret (DRACHTIO_SECRET)', 'freeswitch.secret (FREESWITCH_SECRET)']);
    expect(settingsWithPublicDefaultSecrets(loadConfig({ DRACHTIO_SECRET: 'k7-private' }))).toEqual(['freeswitch.secret (FREESWITCH_SECRET)']);
    expect(settingsWithPublicDefaultSecrets(loadConfig({ DRACHTIO_SECRET: 'k7-private', FREESWITCH_SECRET: 'k8-private' }))).toEqual([]);
  });

  it('merges objects key by key and replaces arrays', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] }, d: 4 })).toEqual({ a: { b: 1, c: [3] }, d: 4 });
  });
});

describe('passwords', () => {
  it('verifies scrypt hashes and plain passwords, and nothing else', async () => {
    const checker = new PasswordChecker();
    const hash = hashPassword('s3cret');
    expect(hash).toMatch(/^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await checker.verify('s3cret', { passwordHash: hash })).toBe(true);
    expect(await checker.verify('s3cres', { passwordHash: hash })).toBe(false);
    expect(await checker.verify('plain', { password: 'plain' })).toBe(true);
    expect(await checker.verify('plain!', { password: 'plain' })).toBe(false);
    expect(await checker.verify('x', {})).toBe(false);
    expect(await checker.verify('x', undefined)).toBe(false);
  });

  it('does one scrypt per check whatever is configured, unknown accounts included (no timing difference)', async () => {
    const lengths: number[] = [];
    const counting: PasswordHasher = async (password, salt, keyLength) => {
      lengths.push(keyLength);
      return scryptHasher(password, salt, keyLength);
    };
    const checker = new PasswordChecker(counting);
    await checker.verify('x', undefined);
    await checker.verify('x', { password: 'plain' });
    await checker.verify('x', { passwordHash: hashPassword('other') });
    expect(lengths).toEqual([32, 32, 32]);
  });
});

describe('several instances', () => {
  it('runs alone in memory unless REDIS_URL names a shared store; the instance and its address can be named', () => {
    expect(loadConfig({}).cluster).toEqual({ redisUrl: null, instanceId: null, advertisedUrl: null, keyPrefix: 'cc:', heartbeatTtlSeconds: 3 });
    const shared = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390', INSTANCE_ID: 'cc-2', ADVERTISED_URL: 'http://10.0.0.2:8043', SHUTDOWN_DRAIN_SECONDS: '600' });
    expect(shared.cluster).toMatchObject({ redisUrl: 'redis://127.0.0.1:6390', instanceId: 'cc-2', advertisedUrl: 'http://10.0.0.2:8043' });
    expect(shared.shutdown.drainSeconds).toBe(600);
  });

  it('refuses a store address that is not redis:// and an instance name with spaces, without echoing the value', () => {
    const found = problems({ REDIS_URL: 'http://user:s3cret@127.0.0.1', INSTANCE_ID: 'two words' });
    expect(found.some((p) => p.startsWith('cluster.redisUrl'))).toBe(true);
    expect(found.some((p) => p.startsWith('cluster.instanceId'))).toBe(true);
    expect(found.join('\n')).not.toContain('s3cret');
  });
});
