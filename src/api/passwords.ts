/**
 * Passwords of agents and supervisors: a plain demo password, or an scrypt hash ("scrypt$<salt base64>$<hash base64>").
 *
 * Every check costs exactly one scrypt, whatever is configured and whether the work number exists at all: an
 * unknown number and a plain password are checked against a dummy hash made at start. So the answer's timing says
 * nothing about which numbers exist. scrypt runs in libuv's thread pool (the async form), never on the event loop.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;

/** scrypt as the service calls it: asynchronous (the thread pool). Tests may wrap it to count or hold checks. */
export type PasswordHasher = (password: string, salt: Buffer, keyLength: number) => Promise<Buffer>;

export const scryptHasher: PasswordHasher = (password, salt, keyLength) =>
  new Promise((resolve, reject) => scrypt(password, salt, keyLength, (error, key) => (error ? reject(error) : resolve(key))));

/** For the command-line tool (`npm run hash-password`), not the service. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, KEY_LENGTH).toString('base64')}`;
}

export interface StoredPassword {
  readonly password?: string;
  readonly passwordHash?: string;
}

export class PasswordChecker {
  /** Salt of the dummy check; its result is thrown away. */
  private readonly dummySalt = randomBytes(16);

  constructor(private readonly hasher: PasswordHasher = scryptHasher) {}

  /** True when `given` is the stored password; `stored` undefined (no such account) is checked too, and false. */
  async verify(given: string, stored: StoredPassword | undefined): Promise<boolean> {
    if (stored?.passwordHash !== undefined) {
      const [, salt, hash] = stored.passwordHash.split('$');
      const expected = Buffer.from(hash ?? '', 'base64');
      const actual = await this.hasher(given, Buffer.from(salt ?? '', 'base64'), expected.length || KEY_LENGTH);
      return expected.length > 0 && actual.length === expected.length && timingSafeEqual(actual, expected);
    }
    // The same work as a hashed password: one scrypt, of the given password and a salt of our own.
    await this.hasher(given, this.dummySalt, KEY_LENGTH);
    if (stored?.password === undefined) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(stored.password);
    // Constant time for equal lengths; different lengths are simply wrong.
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
