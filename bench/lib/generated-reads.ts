/**
 * Generated sequencing reads for the end-to-end benchmarks (predict, scheduler):
 * 150-300 bp, half built from stop-free codons (so they yield frames, as coding
 * reads do), half uniformly random (mostly no stop-free frame). Deterministic:
 * the same count gives the same file.
 */
import { createWriteStream } from 'node:fs';
import { seededRandom } from '../../src/util/random.js';

const BASES = 'ACGT';
const SENSE: string[] = [];
for (const a of BASES) for (const b of BASES) for (const c of BASES) if (!['TAA', 'TAG', 'TGA'].includes(a + b + c)) SENSE.push(a + b + c);

/** Writes `n` reads to `path` (seeded by `n`); returns the file's size in bytes. */
export async function writeReads(path: string, n: number): Promise<number> {
  const rand = seededRandom(n);
  const out = createWriteStream(path);
  let bytes = 0;
  let buf = '';
  for (let i = 0; i < n; i++) {
    const len = 150 + Math.floor(rand() * 151);
    let seq = '';
    if (i % 2 === 0) while (seq.length < len) seq += SENSE[Math.floor(rand() * SENSE.length)];
    else for (let j = 0; j < len; j++) seq += BASES[Math.floor(rand() * 4)];
    seq = seq.slice(0, len);
    buf += `>read_${i} generated\n${seq}\n`;
    if (buf.length > 1 << 20) {
      bytes += buf.length;
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  bytes += buf.length;
  out.write(buf);
  await new Promise<void>((r) => out.end(() => r()));
  return bytes;
}
