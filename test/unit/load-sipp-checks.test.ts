/**
 * Two readings of the load driver's real mode (bench/load/sipp-phones.ts) that broke on the real stack: the UDP
 * table that tells when a SIPp phone listens, and the dialog count in drachtio-server's log.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drachtioLogDialogs, udpTableHasPort } from '../../bench/load/sipp-phones.js';

const HEADER = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';

describe('udpTableHasPort', () => {
  it('finds a port below slot 10000 (leading blanks) and from slot 10000 on (none)', () => {
    const table = [
      HEADER,
      '  816: 0100007F:1519 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1082 2 0000000000000000 0',
      '13721: 0100007F:151A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1083 2 0000000000000000 0',
    ].join('\n');
    expect(udpTableHasPort(table, 5401)).toBe(true);
    expect(udpTableHasPort(table, 5402)).toBe(true);
    expect(udpTableHasPort(table, 5403)).toBe(false);
  });

  it('does not take a remote port for a local one', () => {
    const table = [HEADER, '13721: 0100007F:9C40 0100007F:151B 01 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0'].join('\n');
    expect(udpTableHasPort(table, 5403)).toBe(false);
  });
});

describe('drachtioLogDialogs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drachtio-log-'));

  it('reads the last count drachtio-server logged, whichever of its two lines', () => {
    const file = join(dir, 'a.log');
    writeFileSync(
      file,
      [
        '2026-12-01 15:52:50.761035 ClientController::addDialogForTransaction - added dialog (uac), now tracking: 1 dialogs and 1 app transactions',
        '2026-12-01 15:52:50.778575 ClientController::addDialogForTransaction - added dialog (uas), now tracking: 2 dialogs and 1 net transactions',
        '2026-12-01 15:56:11.968137 ClientController::removeDialog - after removing dialogs count is now: 1',
        '2026-12-01 15:56:11.994979 ClientController::removeDialog - after removing dialogs count is now: 0',
        '2026-12-01 15:56:38.478691 TimerDHandler::timerD - freeing ACK orq 0x5619756b0d90',
      ].join('\n'),
    );
    expect(drachtioLogDialogs(file)).toBe(0);
    writeFileSync(file, '... added dialog (uac), now tracking: 7 dialogs and 2 app transactions\n', { flag: 'a' });
    expect(drachtioLogDialogs(file)).toBe(7);
  });

  it('says null when the log has no count', () => {
    const file = join(dir, 'b.log');
    writeFileSync(file, 'starting drachtio version v0.9.10\n');
    expect(drachtioLogDialogs(file)).toBeNull();
  });
});
