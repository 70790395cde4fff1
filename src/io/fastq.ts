/**
 * Streaming FASTQ reader, for the same records the FASTA reader gives
 * (`FastaRecord`: id, description, sequence bytes, header line), so the
 * pipeline treats both formats alike. Qualities are checked and dropped:
 * VirNucPro scores sequences only.
 *
 * Format (as Biopython's `FastqGeneralIterator` reads it): a header line
 * `@title` (id = first word, description = the whole title, right-stripped),
 * sequence lines up to a line starting with `+` (which may repeat the title),
 * then quality lines until they hold as many characters as the sequence.
 * Multi-line records are allowed (a quality may span several lines only when
 * its sequence does, so that a short quality line in an ordinary 4-line file is
 * reported where it is, not lines later); lines end at `\n` or `\r\n`; trailing
 * spaces and tabs are stripped; blank lines between records are ignored.
 *
 * Refused with an `InputError` naming the file, the line and the record: a line
 * where a header belongs that does not start with `@`, a record without its `+`
 * line, a quality whose length differs from the sequence's, a record cut off
 * by the end of the file, characters outside the alphabet (IUPAC nucleotide
 * codes by default) or outside printable ASCII in a quality, and duplicate ids
 * (all listed once the whole file is read, as the FASTA reader does).
 *
 * Public API: `class FastqParser(name, options)` with `push(bytes): FastaRecord[]`
 * and `end(): FastaRecord[]` (the synchronous core; sequences.ts picks it for
 * input whose first non-blank byte is `@`).
 */
import { InputError, where } from '../util/errors.js';
import { alphabetHint, FastaRecord, residueTable, showByte, type ReadFastaOptions } from './fasta.js';
import { DuplicateIdCheck } from './id-set.js';
import { pythonFirstWord, pythonRstrip } from './python-text.js';

const AT = 0x40;
const PLUS = 0x2b;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const enum State {
  Header,
  Sequence,
  Quality,
}

/** Length of `line` without trailing spaces, tabs and a CR. */
function trimmedLength(line: Uint8Array): number {
  let n = line.length;
  while (n > 0 && (line[n - 1] === 0x20 || line[n - 1] === 0x09 || line[n - 1] === 0x0d)) n--;
  return n;
}

export class FastqParser {
  private readonly residues: Uint8Array;
  private readonly alphabet: NonNullable<ReadFastaOptions['alphabet']>;
  private readonly duplicateIds: DuplicateIdCheck | null;

  private state = State.Header;
  private lineNo = 0;
  /** Pieces of a line that continues in the next block (copied: blocks are not kept). */
  private partial: Buffer[] = [];
  private sawRecord = false;

  private id = '';
  private description = '';
  private recordLine = 0;
  private seqParts: Buffer[] = [];
  private seqLen = 0;
  /** Non-empty sequence lines of the record. */
  private seqLines = 0;
  private qualLen = 0;

  constructor(
    /** Name used in messages (the path as the user gave it). */
    readonly name: string,
    options: ReadFastaOptions = {},
  ) {
    this.alphabet = options.alphabet ?? 'nucleotide';
    this.residues = residueTable(this.alphabet);
    this.duplicateIds = options.duplicateIds === 'allow' ? null : new DuplicateIdCheck();
  }

  push(chunk: Uint8Array): FastaRecord[] {
    const out: FastaRecord[] = [];
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) {
        if (pos < buf.length) this.partial.push(Buffer.from(buf.subarray(pos)));
        break;
      }
      let line = buf.subarray(pos, nl);
      if (this.partial.length > 0) {
        this.partial.push(line);
        line = Buffer.concat(this.partial);
        this.partial = [];
      }
      this.line(line, out);
      pos = nl + 1;
    }
    // Sequence lines still pending point into this block: keep a copy, not the block.
    if (this.seqParts.length > 0) this.seqParts = [Buffer.concat(this.seqParts)];
    return out;
  }

  end(): FastaRecord[] {
    const out: FastaRecord[] = [];
    if (this.partial.length > 0) {
      const last = Buffer.concat(this.partial);
      this.partial = [];
      this.line(last, out);
    }
    if (this.state === State.Sequence) {
      throw new InputError(`${where(this.name, this.recordLine)}: record '${this.id}' is truncated: the file ends before its '+' line and quality`, {
        hint: 'the file is cut short (an interrupted download or copy?)',
      });
    }
    if (this.state === State.Quality) {
      throw new InputError(
        `${where(this.name, this.lineNo)}: record '${this.id}': the quality length (${this.qualLen}) differs from the sequence length (${this.seqLen}), or the record is truncated (the file ends there)`,
        { hint: 'each record needs exactly one quality character per base; a file cut short (an interrupted download or copy?) ends like this too' },
      );
    }
    if (!this.sawRecord) throw new InputError(`${this.name}: no FASTQ records`);
    this.duplicateIds?.throwIfAny(this.name);
    return out;
  }

  private at(): string {
    return `${where(this.name, this.lineNo)}: record '${this.id}'`;
  }

  private line(raw: Buffer, out: FastaRecord[]): void {
    this.lineNo++;
    const line = raw.subarray(0, trimmedLength(raw));
    if (this.state === State.Header) this.headerLine(line);
    else if (this.state === State.Sequence) this.sequenceLine(line);
    else this.qualityLine(line, out);
  }

  private headerLine(line: Buffer): void {
    if (line.length === 0) return; // blank lines between records
    if (line[0] !== AT) {
      const after = this.sawRecord ? ` (after record '${this.id}')` : '';
      throw new InputError(`${where(this.name, this.lineNo)}: expected a FASTQ header line starting with '@'${after}, found ${showByte(line[0])}`, {
        hint: 'a FASTQ record is 4 lines: @id, sequence, +, quality (of the same length as the sequence)',
      });
    }
    this.description = pythonRstrip(this.text(line.subarray(1), 'header'));
    this.id = pythonFirstWord(this.description);
    this.recordLine = this.lineNo;
    this.seqParts = [];
    this.seqLen = 0;
    this.seqLines = 0;
    this.sawRecord = true;
    this.state = State.Sequence;
    this.duplicateIds?.note(this.id, this.lineNo);
  }

  private sequenceLine(line: Buffer): void {
    if (line.length > 0 && line[0] === PLUS) {
      const caption = pythonRstrip(this.text(line.subarray(1), "'+' line"));
      if (caption !== '' && caption !== this.description) {
        throw new InputError(`${this.at()}: the '+' line repeats another title than the header's`, {
          hint: "the text after '+' must be empty or the header's title",
        });
      }
      this.state = State.Quality;
      this.qualLen = 0;
      return;
    }
    if (line.length > 0 && line[0] === AT) {
      throw new InputError(`${this.at()}: no '+' line: a new header follows the sequence of the record (line ${this.recordLine})`, {
        hint: 'a FASTQ record is 4 lines: @id, sequence, +, quality (of the same length as the sequence)',
      });
    }
    const residues = this.residues;
    for (let i = 0; i < line.length; i++) {
      const b = line[i];
      if (residues[b] === 1) continue;
      if (b === 0x20 || b === 0x09) throw new InputError(`${this.at()}: whitespace inside the sequence (column ${i + 1})`);
      if (b < 0x20 || b >= 0x7f) {
        throw new InputError(`${this.at()}: binary data (${showByte(b)} at column ${i + 1})`, { hint: 'is this a FASTQ file?' });
      }
      throw new InputError(`${this.at()}: invalid character ${showByte(b)} at column ${i + 1}`, { hint: alphabetHint(this.alphabet, b) });
    }
    this.seqParts.push(line);
    this.seqLen += line.length;
    if (line.length > 0) this.seqLines++;
  }

  private qualityLine(line: Buffer, out: FastaRecord[]): void {
    // A short quality line followed by the next record: that header is not more quality.
    if (this.qualLen > 0 && line.length > 0 && line[0] === AT && this.qualLen + line.length > this.seqLen) {
      throw new InputError(
        `${where(this.name, this.lineNo - 1)}: record '${this.id}': the quality length (${this.qualLen}) differs from the sequence length (${this.seqLen})`,
        { hint: 'each record needs exactly one quality character per base' },
      );
    }
    for (let i = 0; i < line.length; i++) {
      const b = line[i];
      if (b < 0x21 || b > 0x7e) throw new InputError(`${this.at()}: invalid quality character ${showByte(b)} at column ${i + 1}`);
    }
    this.qualLen += line.length;
    const oneLine = this.seqLines <= 1;
    if (this.qualLen > this.seqLen || (this.qualLen < this.seqLen && (line.length === 0 || oneLine))) {
      throw new InputError(`${this.at()}: the quality length (${this.qualLen}) differs from the sequence length (${this.seqLen})`, {
        hint: 'each record needs exactly one quality character per base',
      });
    }
    if (this.qualLen < this.seqLen) return; // a multi-line quality goes on
    const bytes = this.seqParts.length === 1 ? Buffer.from(this.seqParts[0]) : Buffer.concat(this.seqParts, this.seqLen);
    out.push(new FastaRecord(this.id, this.description, bytes, this.recordLine));
    this.seqParts = [];
    this.state = State.Header;
  }

  private text(bytes: Uint8Array, what: string): string {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new InputError(`${where(this.name, this.lineNo)}: ${what} is not valid UTF-8 text (binary data?)`);
    }
    if (text.includes('\0')) throw new InputError(`${where(this.name, this.lineNo)}: NUL byte in a ${what} (binary data?)`);
    return text;
  }
}
