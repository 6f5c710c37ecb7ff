/**
 * Help from the handset's keypad: RFC 2833 digits on an agent's leg, collected into feature codes. No I/O and no
 * timer: each digit comes with the time it came, and a digit after a long pause starts afresh (slow typing and
 * unfinished codes are simply forgotten).
 *
 *   *2<agent or skill>#   two-party help          *0   drop the helper, take the customer back
 *   *3<agent or skill>#   three-party help        *5   turn two-party help into three-party
 */
import type { LegId } from '../core/types.js';

export interface FeatureCodes {
  readonly twoPartyHelp: string;
  readonly threePartyHelp: string;
  readonly dropHelper: string;
  readonly conference: string;
  /** A pause longer than this between two digits forgets what was typed. */
  readonly digitTimeoutSeconds: number;
}

export const DEFAULT_FEATURE_CODES: FeatureCodes = { twoPartyHelp: '*2', threePartyHelp: '*3', dropHelper: '*0', conference: '*5', digitTimeoutSeconds: 5 };

export type KeypadAction =
  | { readonly kind: 'help'; readonly mode: 1 | 2; readonly target: string }
  | { readonly kind: 'drop-helper' }
  | { readonly kind: 'conference' }
  /** A code that means nothing: the agent hears the error tone. */
  | { readonly kind: 'unknown'; readonly typed: string };

const MAX_DIGITS = 40;

export class Keypad {
  private readonly typed = new Map<LegId, { digits: string; at: number }>();

  constructor(private readonly codes: FeatureCodes) {}

  /** One digit from the leg; an action once a code is complete, else null. */
  press(legId: LegId, digit: string, now: number): KeypadAction | null {
    const before = this.typed.get(legId);
    const fresh = !before || now - before.at > this.codes.digitTimeoutSeconds * 1000;
    let digits = fresh ? '' : before.digits;
    // Codes start with '*'; other digits (a number typed for the far end, say) are not ours.
    if (digits === '' && digit !== '*') {
      this.typed.delete(legId);
      return null;
    }
    digits += digit;
    if (digits.length > MAX_DIGITS) {
      this.typed.delete(legId);
      return { kind: 'unknown', typed: digits };
    }
    const action = this.complete(digits);
    if (action) this.typed.delete(legId);
    else this.typed.set(legId, { digits, at: now });
    return action;
  }

  forget(legId: LegId): void {
    this.typed.delete(legId);
  }

  private complete(digits: string): KeypadAction | null {
    const c = this.codes;
    if (digits === c.dropHelper || digits === `${c.dropHelper}#`) return { kind: 'drop-helper' };
    if (digits === c.conference || digits === `${c.conference}#`) return { kind: 'conference' };
    if (!digits.endsWith('#')) {
      // Still typing: a prefix of a code that takes an argument, or of a plain code.
      const prefixOf = (code: string) => code.startsWith(digits) || digits.startsWith(code);
      return [c.twoPartyHelp, c.threePartyHelp, c.dropHelper, c.conference].some(prefixOf) ? null : { kind: 'unknown', typed: digits };
    }
    const body = digits.slice(0, -1);
    for (const [code, mode] of [[c.twoPartyHelp, 1], [c.threePartyHelp, 2]] as const) {
      if (body.startsWith(code) && /^[0-9]+$/.test(body.slice(code.length))) return { kind: 'help', mode, target: body.slice(code.length) };
    }
    return { kind: 'unknown', typed: digits };
  }
}
