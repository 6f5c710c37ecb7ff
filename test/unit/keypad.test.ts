/** Feature codes from a handset's keypad: what a run of digits means, and when it is forgotten. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_CODES, Keypad, type KeypadAction } from '../../src/orchestrator/keypad.js';

function type(keypad: Keypad, digits: string, start = 0, gapMs = 200): (KeypadAction | null)[] {
  return [...digits].map((d, i) => keypad.press('A', d, start + i * gapMs));
}

describe('keypad', () => {
  it('reads *2<agent># and *3<skill># as help in each mode, acting on the #', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    expect(type(k, '*2102#')).toEqual([null, null, null, null, null, { kind: 'help', mode: 1, target: '102' }]);
    expect(type(k, '*37#', 10_000).at(-1)).toEqual({ kind: 'help', mode: 2, target: '7' });
  });

  it('acts on *0 and *5 at once, with or without #', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    expect(type(k, '*0')).toEqual([null, { kind: 'drop-helper' }]);
    expect(type(k, '*5', 10_000)).toEqual([null, { kind: 'conference' }]);
  });

  it('ignores digits that do not start a code (typed for the far end)', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    expect(type(k, '12345#')).toEqual([null, null, null, null, null, null]);
  });

  it('tells a code that means nothing as soon as it can mean nothing, and a # with no target', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    expect(type(k, '*9')).toEqual([null, { kind: 'unknown', typed: '*9' }]);
    expect(type(k, '*2#', 10_000).at(-1)).toEqual({ kind: 'unknown', typed: '*2#' });
  });

  it('forgets what was typed after a pause longer than the digit timeout', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    expect(k.press('A', '*', 0)).toBeNull();
    expect(k.press('A', '2', 1000)).toBeNull();
    // 6 s later: the code starts afresh, and "1" does not start one.
    expect(k.press('A', '1', 7000)).toBeNull();
    expect(k.press('A', '#', 7100)).toBeNull();
  });

  it('keeps each leg apart, and a run of digits never grows without end', () => {
    const k = new Keypad(DEFAULT_FEATURE_CODES);
    k.press('A', '*', 0);
    expect(k.press('B', '2', 10)).toBeNull();
    expect(k.press('A', '0', 20)).toEqual({ kind: 'drop-helper' });
    const long = type(k, `*2${'1'.repeat(45)}`);
    expect(long.filter((a) => a !== null)).toEqual([{ kind: 'unknown', typed: `*2${'1'.repeat(39)}` }]);
  });

  it('uses the configured codes', () => {
    const k = new Keypad({ ...DEFAULT_FEATURE_CODES, twoPartyHelp: '*71', dropHelper: '*79' });
    expect(type(k, '*71102#').at(-1)).toEqual({ kind: 'help', mode: 1, target: '102' });
    expect(type(k, '*79', 10_000).at(-1)).toEqual({ kind: 'drop-helper' });
  });
});
