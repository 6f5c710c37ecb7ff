/**
 * Who hears whom, by ear: every SIPp phone sends its own tone; FreeSWITCH records what it sends to a phone (what
 * the phone hears, RECORD_WRITE_ONLY); the recording is analysed for each phone's tone and for hold music.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RATE = 8000;

/** G.711 µ-law encoding of one 16-bit sample. */
function muLaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One second of a sine tone as raw PCMU, which SIPp's rtp_stream loops. */
export function writeToneFile(dir: string, frequency: number): string {
  const samples = Buffer.alloc(RATE);
  for (let n = 0; n < RATE; n++) samples[n] = muLaw(8000 * Math.sin((2 * Math.PI * frequency * n) / RATE));
  const path = join(dir, `tone-${frequency}.pcmu`);
  writeFileSync(path, samples);
  return path;
}

/** The 16-bit samples of a PCM WAV file. */
export function readWav(path: string): Int16Array {
  const file = readFileSync(path);
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.toString('ascii', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    if (id === 'data') {
      const data = file.subarray(offset + 8, offset + 8 + size);
      return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length - (data.length % 2)));
    }
    offset += 8 + size + (size % 2);
  }
  return new Int16Array(0);
}

/** Amplitude of one frequency in the signal (single-bin DFT), relative to the signal's peak-equivalent level. */
export function toneLevels(samples: Int16Array, frequencies: readonly number[]): { rms: number; levels: Record<number, number> } {
  const n = samples.length;
  let energy = 0;
  for (let i = 0; i < n; i++) energy += (samples[i] as number) ** 2;
  const rms = n > 0 ? Math.sqrt(energy / n) : 0;
  const levels: Record<number, number> = {};
  for (const f of frequencies) {
    let re = 0;
    let im = 0;
    const w = (2 * Math.PI * f) / RATE;
    for (let i = 0; i < n; i++) {
      re += (samples[i] as number) * Math.cos(w * i);
      im -= (samples[i] as number) * Math.sin(w * i);
    }
    const amplitude = (2 * Math.sqrt(re * re + im * im)) / Math.max(n, 1);
    levels[f] = rms > 0 ? amplitude / (rms * Math.SQRT2) : 0;
  }
  return { rms, levels };
}

/** The notes of our hold music (freeswitch HOLD_MUSIC / moh-sound). */
export const MOH_NOTES = [523, 587, 659, 698, 784, 880];

/** What a recording contains: which of the phones' tones, and whether hold music. Silence contains nothing. */
export function heard(samples: Int16Array, tones: Record<string, number>): string[] {
  const { rms, levels } = toneLevels(samples, [...Object.values(tones), ...MOH_NOTES]);
  if (rms < 100) return [];
  const found = Object.entries(tones)
    .filter(([, f]) => (levels[f] ?? 0) > 0.3)
    .map(([name]) => name);
  const moh = MOH_NOTES.reduce((sum, f) => sum + (levels[f] ?? 0), 0);
  if (moh > 0.3) found.push('moh');
  return found.sort();
}
