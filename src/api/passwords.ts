/** Agent passwords: a plain demo password, or an scrypt hash ("scrypt$<salt base64>$<hash base64>"). */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, KEY_LENGTH).toString('base64')}`;
}

export function verifyPassword(given: string, stored: { readonly password?: string; readonly passwordHash?: string }): boolean {
  if (stored.passwordHash !== undefined) {
    const [, salt, hash] = stored.passwordHash.split('$');
    const expected = Buffer.from(hash ?? '', 'base64');
    const actual = scryptSync(given, Buffer.from(salt ?? '', 'base64'), expected.length || KEY_LENGTH);
    return expected.length > 0 && timingSafeEqual(actual, expected);
  }
  if (stored.password === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(stored.password);
  // Compare in constant time for equal lengths; different lengths are simply wrong.
  return a.length === b.length && timingSafeEqual(a, b);
}
