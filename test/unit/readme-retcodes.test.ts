/** The README's retcode table must say what the code does: every retcode with its HTTP status. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { refusalMessages } from '../../src/core/refusals.js';
import { Retcodes, refusalRetcodes } from '../../src/api/retcodes.js';

describe('README retcode table', () => {
  it('lists every retcode with its HTTP status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = new Map<string, { http: number; message: string }>();
    for (const match of readme.matchAll(/^\| (\d{3}-\d{3}) \| (\d{3}) \| (.+) \|$/gm)) rows.set(match[1] as string, { http: Number(match[2]), message: match[3] as string });
    const expected = new Map<string, number>();
    for (const code of Object.values(Retcodes)) expected.set(code.retcode, code.httpStatus);
    for (const [code, retcode] of Object.entries(refusalRetcodes)) {
      if (retcode === '100-006') continue; // the same code as the session check's, listed once
      expected.set(retcode, 200);
      expect(rows.get(retcode)?.message.replace(/’/g, "'")).toBe(refusalMessages[code as keyof typeof refusalMessages].replace(/’/g, "'"));
    }
    expect([...rows.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [retcode, http] of expected) expect({ retcode, http: rows.get(retcode)?.http }).toEqual({ retcode, http });
  });
});
