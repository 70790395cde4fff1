/**
 * Streaming FASTA reader that parses exactly as Biopython's
 * `SeqIO.parse(path, 'fasta')` (1.80, the version the original ran), but
 * refuses input that the original would silently mangle.
 *
 * Biopython rules reproduced (see test/fixtures/e2e/input.fa):
 * - Lines end at `\n`, `\r\n` or a lone `\r` (Python's universal newlines).
 * - A line starting with `>` is a header; title = rest of the line,
 *   `rstrip()`-ed; `id` = first whitespace-separated word of the title (''
 *   when there is none); `description` = the whole title.
 * - Sequence lines are `rstrip()`-ed, joined, and every space removed; case
 *   is kept. Blank lines anywhere are ignored.
 * "Whitespace" is Python's (`python-text.ts`), not JavaScript's.
 *
 * Stricter than Biopython (each an `InputError` naming file, line, record):
 * empty file, no records, data before the first header, binary data, invalid
 * UTF-8 in a header, characters outside the chosen alphabet (IUPAC nucleotide
 * codes by default; a hint when the sequence looks like protein), whitespace
 * other than spaces inside a sequence line, and duplicate record ids (all of
 * them listed, raised once the whole file has been read; see
 * `ReadFastaOptions.duplicateIds`). Empty records are yielded (callers count
 * them).
 *
 * Memory: sequences are appended to an arena of a few MiB and each record's
 * `bytes` is a view into it (no copy per record); a full arena is left to the
 * records that still point into it and a new one started, so memory is flat
 * in the file size. Holding on to a record keeps its arena alive: callers that
 * keep a few records long-term should copy them (`bytes.slice()`).
 * Duplicate detection keeps every id in an `IdSet` (id length + about 20
 * bytes per record, outside the JavaScript heap: about 0.35 GB for 10 million
 * records of 15-character ids); pass `duplicateIds: 'allow'` to skip it.
 *
 * Speed: runs of residues and plain line ends (nearly all of a real file) are
 * checked and copied several bytes per step through DataViews and a table of
 * valid byte pairs (`scanSequence`); everything else (headers, a line end
 * before a header, lone CRs, whitespace, errors) goes through a byte-at-a-time
 * state machine that implements the rules above.
 *
 * Public API:
 * - `class FastaRecord { id; description; bytes; line; get sequence(); get length() }`
 * - `readFasta(path, options?): AsyncIterable<FastaRecord>` (plain, gzip,
 *   bzip2, xz, zstd detected by magic bytes; see decompress.ts)
 * - `readFastaBatches(path, options?): AsyncIterable<FastaRecord[]>` the same,
 *   one array per decompressed block, for callers that process a block
 *   synchronously (one await per block instead of one per record)
 * - `parseFasta(chunks, name, options?)`, `parseFastaBatches(chunks, name, options?)` (any byte source)
 * - `class FastaParser` (`push(bytes): FastaRecord[]`, `end(): FastaRecord[]`), the synchronous core.
 */
import { InputError, where } from '../util/errors.js';
import { DuplicateIdCheck } from './id-set.js';
import { openDecompressed } from './decompress.js';
import { isPythonSpace, pythonFirstWord, pythonRstrip } from './python-text.js';

export class FastaRecord {
  private cached?: string;
  constructor(
    /** `title.split(None, 1)[0]`, as Biopython's `record.id`. */
    readonly id: string,
    /** The whole title line after `>`, right-stripped, as Biopython's `record.description`. */
    readonly description: string,
    /** The sequence as read (lines joined, spaces removed, case kept), ASCII bytes. */
    readonly bytes: Uint8Array,
    /** 1-based line number of the header. */
    readonly line: number,
  ) {}
  /** The sequence as a string (decoded once, on first use). */
  get sequence(): string {
    this.cached ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('latin1');
    return this.cached;
  }
  get length(): number {
    return this.bytes.length;
  }
}

/** Which characters a sequence may contain. */
export type FastaAlphabet = 'nucleotide' | 'protein' | 'any';

export interface ReadFastaOptions {
  /** Default 'nucleotide': IUPAC codes ACGTU RYSWKM BDHV N (either case) and the gap symbols `-` `.`. */
  alphabet?: FastaAlphabet;
  /** 'error' (default): after the last record, throw listing every repeated id. 'allow': no check, no id Set. */
  duplicateIds?: 'error' | 'allow';
  /** Called as the file is read: bytes of the file (compressed, if it is) consumed so far, and its size. */
  onProgress?: (fileBytesRead: number, fileBytes: number) => void;
  /** Called with each block of the file as read, before decompression (e.g. to checksum the input in the same pass). */
  onRawChunk?: (bytes: Uint8Array) => void;
}

const NUCLEOTIDE_CODES = 'ACGTURYSWKMBDHVN-.';
const PROTEIN_LIKE = new Set('EFIJLOPQXZefijlopqxz*'.split('').map((c) => c.charCodeAt(0)));

// Byte classes of a sequence line.
const RESIDUE = 0;
const LF = 1;
const CR = 2;
const SPACE = 3;
const OTHER_WS = 4; // \t \v \f \x1c-\x1f: stripped at the end of a line, an error inside it
const NON_ASCII = 5; // may be trailing Unicode whitespace (stripped) or an error
const INVALID = 6;

function classTable(alphabet: FastaAlphabet): Uint8Array {
  const t = new Uint8Array(256).fill(INVALID);
  const allow = (chars: string) => {
    for (const ch of chars) {
      t[ch.charCodeAt(0)] = RESIDUE;
      t[ch.toLowerCase().charCodeAt(0)] = RESIDUE;
    }
  };
  if (alphabet === 'nucleotide') allow(NUCLEOTIDE_CODES);
  else if (alphabet === 'protein') allow('ABCDEFGHIJKLMNOPQRSTUVWXYZ*-.');
  else for (let b = 0x21; b < 0x7f; b++) t[b] = RESIDUE;
  for (const b of [0x09, 0x0b, 0x0c, 0x1c, 0x1d, 0x1e, 0x1f]) t[b] = OTHER_WS;
  t[0x0a] = LF;
  t[0x0d] = CR;
  t[0x20] = SPACE;
  for (let b = 0x80; b < 0x100; b++) t[b] = NON_ASCII;
  return t;
}

// What a header byte is, for appendHeader: flags OR-ed over the header, or the line end.
const HEADER_NUL = 1;
const HEADER_NON_ASCII = 2;
const HEADER_LINE_END = 4;
const HEADER_BYTE = new Uint8Array(256);
HEADER_BYTE[0x00] = HEADER_NUL;
HEADER_BYTE.fill(HEADER_NON_ASCII, 0x80);
HEADER_BYTE[0x0a] = HEADER_LINE_END;
HEADER_BYTE[0x0d] = HEADER_LINE_END;

/** 1 for each byte that is a residue of the alphabet (the FASTQ reader checks its sequence lines with it). */
export function residueTable(alphabet: FastaAlphabet): Uint8Array {
  return classTable(alphabet).map((c) => (c === RESIDUE ? 1 : 0));
}

/** The hint for a byte outside the alphabet: what is allowed, or that the input looks like protein. */
export function alphabetHint(alphabet: FastaAlphabet, b: number): string | undefined {
  if (alphabet !== 'nucleotide') return undefined;
  return PROTEIN_LIKE.has(b)
    ? 'this looks like a protein sequence; VirNucPro reads DNA (IUPAC codes ACGTU RYSWKM BDHV N, gaps - .)'
    : 'allowed: IUPAC nucleotide codes ACGTU RYSWKM BDHV N (either case) and gaps - .';
}

/** A byte as messages show it: `'x'`, or `byte 0x1f`. */
export function showByte(b: number): string {
  return b >= 0x21 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}

const pairTables = new Map<FastaAlphabet, Uint8Array>();

/** For each 16-bit little-endian pair of bytes, 1 when both are residues of the alphabet (built once per alphabet, 64 KiB). */
function residuePairTable(alphabet: FastaAlphabet): Uint8Array {
  let t = pairTables.get(alphabet);
  if (!t) {
    const cls = classTable(alphabet);
    t = new Uint8Array(1 << 16);
    for (let lo = 0; lo < 256; lo++) {
      if (cls[lo] !== RESIDUE) continue;
      for (let hi = 0; hi < 256; hi++) if (cls[hi] === RESIDUE) t[lo | (hi << 8)] = 1;
    }
    pairTables.set(alphabet, t);
  }
  return t;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Size of a sequence arena: large enough that starting a new one is rare, small enough to be pinned by a few records. */
const ARENA_BYTES = 4 << 20;

const enum Mode {
  Preamble,
  Header,
  Sequence,
}

/** The synchronous FASTA state machine: feed it blocks of bytes, collect records. */
export class FastaParser {
  private readonly cls: Uint8Array;
  /** 1 at `b0 | b1 << 8` when both bytes are residues (see scanSequence). */
  private readonly residuePairs: Uint8Array;
  private readonly alphabet: FastaAlphabet;
  private readonly duplicateIds: DuplicateIdCheck | null;

  private mode = Mode.Preamble;
  private atLineStart = true;
  private lastWasCR = false;
  private lineNo = 1;
  /** Stream offset of the current line's first byte (for column numbers). */
  private lineStart = 0;
  private offset = 0;
  private sawHeader = false;

  private header = Buffer.alloc(256);
  private headerLen = 0;
  /** HEADER_BYTE classes seen in the header so far, OR-ed. */
  private headerFlags = 0;
  private id = '';
  private description = '';
  private recordLine = 0;

  /** Arena the sequences are appended to; the current record is `seq[recordStart, seqLen)`. */
  private seq = new Uint8Array(0);
  private seqWords = new DataView(this.seq.buffer);
  private recordStart = 0;
  private seqLen = 0;
  /** Whitespace (not space) seen after the last residue of the current line. */
  private pendingWs = -1;
  private pendingWsColumn = 0;
  /** Non-ASCII bytes seen after the last residue of the current line. */
  private pendingHigh: number[] = [];

  constructor(
    /** Name used in messages (the path as the user gave it). */
    readonly name: string,
    options: ReadFastaOptions = {},
  ) {
    this.alphabet = options.alphabet ?? 'nucleotide';
    this.cls = classTable(this.alphabet);
    this.residuePairs = residuePairTable(this.alphabet);
    this.duplicateIds = options.duplicateIds === 'allow' ? null : new DuplicateIdCheck();
  }

  push(chunk: Uint8Array): FastaRecord[] {
    const out: FastaRecord[] = [];
    const n = chunk.length;
    const words = new DataView(chunk.buffer, chunk.byteOffset, n);
    this.reserveSequence(n);
    const cls = this.cls;
    const base = this.offset;
    for (let i = 0; i < n; i++) {
      let b = chunk[i];
      if (this.atLineStart) {
        if (b === 0x0a && this.lastWasCR) {
          this.lastWasCR = false; // second half of \r\n
          continue;
        }
        this.lastWasCR = false;
        this.atLineStart = false;
        this.lineStart = base + i;
        if (b === 0x3e) {
          this.finishRecord(out);
          this.mode = Mode.Header;
          this.headerLen = 0;
          this.headerFlags = 0;
          this.recordLine = this.lineNo;
          continue;
        }
      }
      if (this.mode === Mode.Sequence) {
        if (this.pendingWs < 0 && this.pendingHigh.length === 0) {
          i = this.scanSequence(chunk, words, i);
          if (i === n) break;
          b = chunk[i];
        }
        switch (cls[b]) {
          case RESIDUE:
            this.residueAfterWhitespace(base + i);
            break;
          case LF:
          case CR:
            this.endSequenceLine();
            this.newLine(b);
            break;
          case SPACE:
            break; // Biopython removes every space
          case OTHER_WS:
            if (this.pendingWs < 0) {
              this.pendingWs = b;
              this.pendingWsColumn = base + i - this.lineStart + 1;
            }
            break;
          case NON_ASCII:
            this.pendingHigh.push(b);
            break;
          default:
            this.invalidByte(b, base + i);
        }
      } else if (this.mode === Mode.Header) {
        const end = this.appendHeader(chunk, i);
        if (end < n) {
          this.endHeader();
          this.newLine(chunk[end]);
        }
        i = end; // the loop steps past the line end
      } else {
        this.preambleByte(b, base + i);
      }
    }
    this.offset += n;
    return out;
  }

  /**
   * The fast path, from a byte inside a sequence line with nothing pending:
   * appends residues eight bytes per step (two 32-bit reads, four lookups in a
   * table of valid byte pairs, two 32-bit writes; then four, then one) and steps over plain line
   * ends (\n or \r\n followed, in this block, by anything but `>`). Returns
   * the index of the first byte it did not take, for the byte-at-a-time rules:
   * a line end before a header or at the block end, whitespace, or an error.
   */
  private scanSequence(chunk: Uint8Array, words: DataView, start: number): number {
    const cls = this.cls;
    const pairs = this.residuePairs;
    const seq = this.seq;
    const seqWords = this.seqWords;
    const n = chunk.length;
    let len = this.seqLen;
    let i = start;
    let lines = 0;
    let lineStart = -1;
    for (;;) {
      while (i + 8 <= n) {
        const w0 = words.getUint32(i, true);
        const w1 = words.getUint32(i + 4, true);
        if ((pairs[w0 & 0xffff] & pairs[w0 >>> 16] & pairs[w1 & 0xffff] & pairs[w1 >>> 16]) === 0) break;
        seqWords.setUint32(len, w0, true);
        seqWords.setUint32(len + 4, w1, true);
        len += 8;
        i += 8;
      }
      while (i + 4 <= n) {
        const w = words.getUint32(i, true);
        if ((pairs[w & 0xffff] & pairs[w >>> 16]) === 0) break;
        seqWords.setUint32(len, w, true);
        len += 4;
        i += 4;
      }
      if (i >= n) break;
      const b = chunk[i];
      const c = cls[b];
      if (c === RESIDUE) {
        seq[len++] = b;
        i++;
        continue;
      }
      const next = c === LF ? i + 1 : c === CR && i + 1 < n && chunk[i + 1] === 0x0a ? i + 2 : -1;
      if (next < 0 || next >= n || chunk[next] === 0x3e) break;
      i = next;
      lines++;
      lineStart = i;
    }
    this.seqLen = len;
    if (lines > 0) {
      this.lineNo += lines;
      this.lineStart = this.offset + lineStart;
    }
    return i;
  }

  /** Appends header bytes from `start` up to the line end (or the block end); returns where it stopped. */
  private appendHeader(chunk: Uint8Array, start: number): number {
    let end = start;
    let flags = 0;
    for (let c; end < chunk.length && (c = HEADER_BYTE[chunk[end]]) !== HEADER_LINE_END; end++) flags |= c;
    this.headerFlags |= flags;
    const need = this.headerLen + (end - start);
    if (need > this.header.length) {
      const grown = Buffer.alloc(Math.max(need, this.header.length * 2));
      grown.set(this.header.subarray(0, this.headerLen));
      this.header = grown;
    }
    this.header.set(new Uint8Array(chunk.buffer, chunk.byteOffset + start, end - start), this.headerLen);
    this.headerLen = need;
    return end;
  }

  /** Makes room for `n` more sequence bytes, moving the record in progress to a new arena if needed. */
  private reserveSequence(n: number): void {
    if (this.seqLen + n <= this.seq.length) return;
    const partial = this.seqLen - this.recordStart;
    const arena = new Uint8Array(Math.max(ARENA_BYTES, 2 * (partial + n)));
    arena.set(this.seq.subarray(this.recordStart, this.seqLen));
    this.seq = arena;
    this.seqWords = new DataView(arena.buffer);
    this.recordStart = 0;
    this.seqLen = partial;
  }

  end(): FastaRecord[] {
    const out: FastaRecord[] = [];
    if (!this.atLineStart) {
      if (this.mode === Mode.Header) this.endHeader();
      else if (this.mode === Mode.Sequence) this.endSequenceLine();
    }
    this.finishRecord(out);
    if (!this.sawHeader) {
      throw new InputError(
        this.offset === 0 ? `${this.name}: empty file (no FASTA records)` : `${this.name}: no FASTA records (no line starts with '>')`,
      );
    }
    this.duplicateIds?.throwIfAny(this.name);
    return out;
  }

  private newLine(b: number): void {
    this.lineNo++;
    this.atLineStart = true;
    this.lastWasCR = b === 0x0d;
  }

  private finishRecord(out: FastaRecord[]): void {
    if (this.mode !== Mode.Sequence) return;
    out.push(new FastaRecord(this.id, this.description, this.seq.subarray(this.recordStart, this.seqLen), this.recordLine));
    this.recordStart = this.seqLen;
    this.mode = Mode.Preamble;
  }

  private endHeader(): void {
    let text: string;
    const flags = this.headerFlags;
    this.headerFlags = 0;
    if ((flags & HEADER_NON_ASCII) === 0) {
      text = this.header.toString('latin1', 0, this.headerLen); // ASCII: latin1 decoding gives the same text, cheaper
    } else {
      try {
        text = utf8.decode(this.header.subarray(0, this.headerLen));
      } catch {
        throw new InputError(`${where(this.name, this.lineNo)}: header is not valid UTF-8 text (binary data?)`);
      }
    }
    if ((flags & HEADER_NUL) !== 0) throw new InputError(`${where(this.name, this.lineNo)}: NUL byte in a header (binary data?)`);
    this.description = pythonRstrip(text);
    this.id = pythonFirstWord(this.description);
    this.sawHeader = true;
    this.mode = Mode.Sequence;
    this.duplicateIds?.note(this.id, this.lineNo);
  }

  /** Python rstrips each line: whitespace at the end of a line vanishes, so check what was pending. */
  private endSequenceLine(): void {
    if (this.pendingHigh.length > 0) {
      let text: string;
      try {
        text = utf8.decode(Uint8Array.from(this.pendingHigh));
      } catch {
        throw new InputError(`${where(this.name, this.lineNo)}: record '${this.id}': binary data (invalid UTF-8) in a sequence line`, {
          hint: 'is this a FASTA file?',
        });
      }
      for (const ch of text) {
        if (!isPythonSpace(ch.codePointAt(0)!)) {
          throw new InputError(`${where(this.name, this.lineNo)}: record '${this.id}': non-ASCII character '${ch}' in the sequence`);
        }
      }
      this.pendingHigh = [];
    }
    this.pendingWs = -1;
  }

  private residueAfterWhitespace(offset: number): never {
    const column = offset - this.lineStart + 1;
    const what = this.pendingWs >= 0 ? `whitespace ${showByte(this.pendingWs)} (column ${this.pendingWsColumn})` : 'a non-ASCII character';
    throw new InputError(`${where(this.name, this.lineNo)}: record '${this.id}': ${what} inside the sequence, before column ${column}`);
  }

  private invalidByte(b: number, offset: number): never {
    const column = offset - this.lineStart + 1;
    const at = `${where(this.name, this.lineNo)}: record '${this.id}'`;
    if (b === 0 || b < 0x20 || b === 0x7f) {
      throw new InputError(`${at}: binary data (${showByte(b)} at column ${column})`, { hint: 'is this a FASTA file?' });
    }
    throw new InputError(`${at}: invalid character ${showByte(b)} at column ${column}`, { hint: alphabetHint(this.alphabet, b) });
  }

  private preambleByte(b: number, offset: number): void {
    if (b === 0x0a || b === 0x0d) {
      this.newLine(b);
      return;
    }
    if (b === 0x20 || this.cls[b] === OTHER_WS) return; // blank lines before the first record are fine
    if (offset === 0 && b === 0xef) {
      throw new InputError(`${where(this.name, 1)}: the file starts with a UTF-8 byte-order mark`, {
        hint: 'Biopython would skip the first record of such a file; remove the mark (e.g. `sed -i "1s/^\\xEF\\xBB\\xBF//"`)',
      });
    }
    if (b === 0 || (b < 0x20 && b !== 0x09) || b >= 0x80) {
      throw new InputError(`${where(this.name, this.lineNo)}: binary data (${showByte(b)}) where a FASTA header was expected`, {
        hint: 'is this a FASTA file? Compressed input must be gzip, bzip2, xz or zstd',
      });
    }
    throw new InputError(`${where(this.name, this.lineNo)}: data before the first header (FASTA records start with '>')`);
  }
}

export async function* parseFastaBatches(chunks: AsyncIterable<Uint8Array>, name: string, options: ReadFastaOptions = {}): AsyncGenerator<FastaRecord[]> {
  const parser = new FastaParser(name, options);
  for await (const chunk of chunks) {
    const records = parser.push(chunk);
    if (records.length > 0) yield records;
  }
  const last = parser.end();
  if (last.length > 0) yield last;
}

export async function* parseFasta(chunks: AsyncIterable<Uint8Array>, name: string, options: ReadFastaOptions = {}): AsyncGenerator<FastaRecord> {
  for await (const batch of parseFastaBatches(chunks, name, options)) yield* batch;
}

export async function* readFastaBatches(path: string, options: ReadFastaOptions = {}): AsyncGenerator<FastaRecord[]> {
  let fileBytes = 0;
  const input = await openDecompressed(path, { onRawBytes: (n) => options.onProgress?.(n, fileBytes), onRawChunk: options.onRawChunk });
  fileBytes = input.fileBytes;
  yield* parseFastaBatches(input.chunks, path, options);
}

export async function* readFasta(path: string, options: ReadFastaOptions = {}): AsyncGenerator<FastaRecord> {
  for await (const batch of readFastaBatches(path, options)) yield* batch;
}
