/**
 * Six-frame translation and frame selection, bit-exact with VirNucPro's
 * `units.translate_dna` and `units.identify_seq` (prediction path).
 *
 * Quirks kept on purpose (the classifier was trained on them):
 * - The codon table has entries for uppercase A/C/G/T triplets only. A codon
 *   with any other character (N, IUPAC ambiguity codes, lowercase) is silently
 *   dropped, so the protein gets shorter than `len/3` and no longer lines up
 *   with the nucleotides.
 * - Frames F1..F3 read the sequence from offsets 0..2; R1..R3 read its reverse
 *   complement, where only ACGTacgt are complemented (N stays N).
 * - A frame is kept when its protein has no `*` and is not empty.
 * - The nucleotide kept for frame k is `seq[k-1 : k + 3*len(protein)]`: one base
 *   more than the coding triplets unless it runs into the end.
 *
 * The work happens on ASCII byte arrays with lookup tables (no per-character
 * strings): `identifyFrameBytes` is the hot path used by `translate` and
 * `predict`; the string functions wrap it for tests and small callers.
 *
 * Public API:
 * - `CODON_TABLE` — the original's 64 codons.
 * - `reverseComplement(seq: string): string`
 * - `translateSixFrames(seq: string): string[]` — F1, F2, F3, R1, R2, R3 proteins, stops included.
 * - `identifyFrames(seqid: string, sequence: string): Frame[]` — `identify_seq` + the `protein != ''` filter.
 * - `identifyFrameBytes(sequence: Uint8Array): FrameBytes[]` — the same on bytes; views into scratch memory.
 */

/** The table of `units.translate_dna` (the standard genetic code, `*` = stop). */
export const CODON_TABLE: Readonly<Record<string, string>> = Object.freeze({
  TCA: 'S', TCC: 'S', TCG: 'S', TCT: 'S', TTC: 'F', TTT: 'F', TTA: 'L', TTG: 'L',
  TAC: 'Y', TAT: 'Y', TAA: '*', TAG: '*', TGC: 'C', TGT: 'C', TGA: '*', TGG: 'W',
  CTA: 'L', CTC: 'L', CTG: 'L', CTT: 'L', CCA: 'P', CCC: 'P', CCG: 'P', CCT: 'P',
  CAC: 'H', CAT: 'H', CAA: 'Q', CAG: 'Q', CGA: 'R', CGC: 'R', CGG: 'R', CGT: 'R',
  ATA: 'I', ATC: 'I', ATT: 'I', ATG: 'M', ACA: 'T', ACC: 'T', ACG: 'T', ACT: 'T',
  AAC: 'N', AAT: 'N', AAA: 'K', AAG: 'K', AGC: 'S', AGT: 'S', AGA: 'R', AGG: 'R',
  GTA: 'V', GTC: 'V', GTG: 'V', GTT: 'V', GCA: 'A', GCC: 'A', GCG: 'A', GCT: 'A',
  GAC: 'D', GAT: 'D', GAA: 'E', GAG: 'E', GGA: 'G', GGC: 'G', GGG: 'G', GGT: 'G',
});

/** A kept frame: id `<seqid>F1`..`<seqid>R3`, the nucleotide slice and the protein. */
export interface Frame {
  id: string;
  nucleotide: string;
  protein: string;
}

/** A kept frame as bytes. `nucleotide` and `protein` are views valid until the next call. */
export interface FrameBytes {
  /** 'F1', 'F2', 'F3', 'R1', 'R2' or 'R3'. */
  suffix: string;
  nucleotide: Uint8Array;
  protein: Uint8Array;
}

export const FRAME_SUFFIXES = ['F1', 'F2', 'F3', 'R1', 'R2', 'R3'] as const;

const STAR = 0x2a;
/** Base code: A=0 C=1 G=2 T=3, anything else (including lowercase) 4. */
const BASE = new Uint8Array(256).fill(4);
BASE[0x41] = 0;
BASE[0x43] = 1;
BASE[0x47] = 2;
BASE[0x54] = 3;
/** Amino acid byte for `BASE[b0]*25 + BASE[b1]*5 + BASE[b2]`; 0 = no entry (codon dropped). */
const AMINO = new Uint8Array(125);
for (const [codon, aa] of Object.entries(CODON_TABLE)) {
  AMINO[BASE[codon.charCodeAt(0)] * 25 + BASE[codon.charCodeAt(1)] * 5 + BASE[codon.charCodeAt(2)]] = aa.charCodeAt(0);
}
/** `str.maketrans('ACGTacgt', 'TGCAtgca')`; every other byte maps to itself. */
const COMPLEMENT = new Uint8Array(256);
for (let i = 0; i < 256; i++) COMPLEMENT[i] = i;
for (const [a, b] of [['A', 'T'], ['C', 'G'], ['G', 'C'], ['T', 'A'], ['a', 't'], ['c', 'g'], ['g', 'c'], ['t', 'a']]) {
  COMPLEMENT[a.charCodeAt(0)] = b.charCodeAt(0);
}

/** Reverse complement into `out` (same length as `seq`). */
export function reverseComplementBytes(seq: Uint8Array, out: Uint8Array): Uint8Array {
  const n = seq.length;
  for (let i = 0; i < n; i++) out[n - 1 - i] = COMPLEMENT[seq[i]];
  return out;
}

/**
 * Translates one frame of `seq` starting at `frame` into `out` (from index 0).
 * Returns the protein length, or -1 as soon as a stop codon is met (the frame
 * is rejected, so the rest need not be translated).
 */
function translateFrameInto(seq: Uint8Array, frame: number, out: Uint8Array, stopAtStar: boolean): number {
  let p = 0;
  const last = seq.length - 2;
  for (let i = frame; i < last; i += 3) {
    const aa = AMINO[BASE[seq[i]] * 25 + BASE[seq[i + 1]] * 5 + BASE[seq[i + 2]]];
    if (aa === 0) continue;
    if (aa === STAR && stopAtStar) return -1;
    out[p++] = aa;
  }
  return p;
}

// Scratch memory reused across calls (the hot path allocates nothing per frame).
let rcScratch = new Uint8Array(1024);
let proteinScratch = new Uint8Array(6 * 342);

/**
 * `identify_seq(seqid, sequence)` followed by the `protein != ''` filter of
 * `make_predictdata`, on bytes. The caller upper-cases first, as the original
 * does (`str(record.seq).upper()`). Returned views point into scratch memory
 * and are overwritten by the next call.
 */
export function identifyFrameBytes(seq: Uint8Array): FrameBytes[] {
  const n = seq.length;
  if (rcScratch.length < n) rcScratch = new Uint8Array(n * 2);
  const maxProtein = Math.floor(n / 3) + 1;
  if (proteinScratch.length < 6 * maxProtein) proteinScratch = new Uint8Array(12 * maxProtein);
  const rc = reverseComplementBytes(seq, rcScratch.subarray(0, n));
  const kept: FrameBytes[] = [];
  for (let f = 0; f < 6; f++) {
    const strand = f < 3 ? seq : rc;
    const offset = f % 3;
    const out = proteinScratch.subarray(f * maxProtein, (f + 1) * maxProtein);
    const len = translateFrameInto(strand, offset, out, true);
    if (len <= 0) continue;
    // seq[num-1 : num + 3*len] with num = offset + 1; Python clamps the end.
    const end = Math.min(n, offset + 1 + 3 * len);
    kept.push({ suffix: FRAME_SUFFIXES[f], nucleotide: strand.subarray(offset, end), protein: out.subarray(0, len) });
  }
  return kept;
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const bytesOf = (s: string) => Buffer.from(s, 'latin1');

export function reverseComplement(seq: string): string {
  const b = bytesOf(seq);
  return latin1(reverseComplementBytes(b, new Uint8Array(b.length)));
}

/** `units.translate_dna`: the six proteins (F1, F2, F3, R1, R2, R3), stops included. */
export function translateSixFrames(seq: string): string[] {
  const b = bytesOf(seq);
  const rc = reverseComplementBytes(b, new Uint8Array(b.length));
  const out = new Uint8Array(Math.floor(b.length / 3) + 1);
  const frames: string[] = [];
  for (let f = 0; f < 6; f++) frames.push(latin1(out.subarray(0, translateFrameInto(f < 3 ? b : rc, f % 3, out, false))));
  return frames;
}

/** `identify_seq(seqid, sequence)` keeping only non-empty proteins, in the original's order. */
export function identifyFrames(seqid: string, sequence: string): Frame[] {
  return identifyFrameBytes(bytesOf(sequence)).map((f) => ({
    id: seqid + f.suffix,
    nucleotide: latin1(f.nucleotide),
    protein: latin1(f.protein),
  }));
}
