/**
 * Per-record figures for the report, from one streaming pass over summary.tsv
 * and prediction_results.txt together (both are in input order, and summary.tsv
 * says how many frames of each record were scored, so the frames of record i
 * are the next `frames_scored` rows). Memory stays bounded whatever the number
 * of records: counts, a histogram, the top records by score and the compressed
 * search index (record-index.ts).
 *
 * Columns of summary.tsv are found by their header names; columns added later
 * are carried into the table as they are. A `#` line before a header (the demo
 * models' warning) is skipped.
 *
 * A frame's ID is `<record>_chunk_<k>` plus a 2-character frame (F1..R3): its
 * chunk's score along the sequence is the highest virus score (score2) of its frames.
 */
import { InputError, where } from '../util/errors.js';
import { LineReader } from './line-reader.js';
import { RecordIndexWriter, type IndexColumn, type RecordIndexInfo } from './record-index.js';

export const HISTOGRAM_BINS = 50;

export interface RecordStats {
  /** summary.tsv's header. */
  columns: string[];
  total: number;
  verdicts: Record<string, number>;
  /** Records per bin of the highest virus score over [0, 1]; records without one are `notScored`. */
  histogram: { bins: number; counts: number[]; notScored: number };
  /** The records with the highest scores (summary.tsv cells), best first, input order among equals. */
  top: string[][];
  topLimit: number;
  index: RecordIndexInfo;
  /** Whether per-chunk scores were read (prediction_results.txt present and readable). */
  tracks: boolean;
  notes: string[];
}

export interface RecordScanOptions {
  summaryPath: string;
  /** prediction_results.txt; null when absent (no tracks). */
  predictionsPath: string | null;
  topLimit: number;
}

interface Ranked {
  order: number;
  score: number;
  cells: string[];
}

/** Records without a score rank below every score. */
function rankOf(score: number): number {
  return Number.isNaN(score) ? -1 : score;
}

/** Best first; records without a score last; input order among equals. */
function byScore(a: Ranked, b: Ranked): number {
  return rankOf(b.score) - rankOf(a.score) || a.order - b.order;
}

/** Reads the header of a table that may start with `#` comment lines. */
async function readHeader(reader: LineReader): Promise<string | undefined> {
  for (let line = await reader.next(); line !== undefined; line = await reader.next()) {
    if (!line.startsWith('#')) return line;
  }
  return undefined;
}

/** The frames of one record from prediction_results.txt, as highest virus score per chunk. */
class ChunkScoreReader {
  private constructor(private readonly reader: LineReader) {}

  static async open(path: string): Promise<ChunkScoreReader> {
    const reader = new LineReader(path);
    const header = await readHeader(reader);
    if (header === undefined || !header.startsWith('Sequence_ID\t')) {
      await reader.close();
      throw new InputError(`${where(path, reader.lineNumber)}: not a prediction_results.txt (no Sequence_ID header)`, {
        hint: 'give the output directory of a finished `virnucpro predict` run',
      });
    }
    return new ChunkScoreReader(reader);
  }

  /** Reads `frames` rows, which must belong to `recordId`; fills `scores` (one slot per chunk, NaN = none). */
  async read(recordId: string, frames: number, scores: number[], summaryLine: string): Promise<void> {
    const path = this.reader.path;
    for (let i = 0; i < frames; i++) {
      const line = await this.reader.next();
      if (line === undefined) {
        throw new InputError(`${path} ends before the frames of record ${recordId} (${summaryLine})`, {
          hint: 'the output files are from different or unfinished runs: finish the run (`predict --resume`) or run it again',
        });
      }
      const tab1 = line.indexOf('\t');
      const frameId = tab1 < 0 ? line : line.slice(0, tab1);
      const chunkAt = frameId.lastIndexOf('_chunk_');
      const chunk = chunkAt < 0 ? NaN : Number(frameId.slice(chunkAt + 7, -2));
      if (chunkAt < 0 || frameId.slice(0, chunkAt) !== recordId || !Number.isInteger(chunk) || chunk < 1) {
        throw new InputError(`${where(path, this.reader.lineNumber)}: frame ${JSON.stringify(frameId)} where a frame of record ${JSON.stringify(recordId)} belongs (${summaryLine})`, {
          hint: 'summary.tsv and prediction_results.txt do not match (from different runs?): run predict again',
        });
      }
      const score2 = Number(line.slice(line.lastIndexOf('\t') + 1));
      while (scores.length < chunk) scores.push(NaN);
      const before = scores[chunk - 1];
      if (Number.isNaN(before) || score2 > before) scores[chunk - 1] = score2;
    }
  }

  /** Refuses rows left over after the last record's frames. */
  async assertEnd(): Promise<void> {
    const line = await this.reader.next();
    if (line !== undefined && line !== '') {
      throw new InputError(`${where(this.reader.path, this.reader.lineNumber)}: a frame after the last record of summary.tsv`, {
        hint: 'summary.tsv and prediction_results.txt do not match (from different runs?): run predict again',
      });
    }
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

/** The figures, and the index columns the page carries apart from them. */
export async function scanRecords(o: RecordScanOptions): Promise<{ stats: RecordStats; indexColumns: Record<IndexColumn, Buffer> }> {
  const summary = new LineReader(o.summaryPath);
  const notes: string[] = [];
  const header = await readHeader(summary);
  const columns = header?.split('\t') ?? [];
  const col = (name: string) => columns.indexOf(name);
  const idCol = col('id');
  const scoreCol = col('max_virus_score');
  const verdictCol = col('verdict');
  if (idCol < 0 || scoreCol < 0 || verdictCol < 0) {
    await summary.close();
    throw new InputError(`${where(o.summaryPath, summary.lineNumber)}: not a summary.tsv of virnucpro (its header needs the columns id, max_virus_score and verdict)`, {
      hint: 'give the output directory of a finished `virnucpro predict` run',
    });
  }
  const lengthCol = col('length');
  const chunksCol = col('chunks');
  const framesCol = col('frames_scored');
  let frames: ChunkScoreReader | null = null;
  if (o.predictionsPath && framesCol >= 0) frames = await ChunkScoreReader.open(o.predictionsPath);
  else if (o.predictionsPath) notes.push('summary.tsv has no frames_scored column: no score tracks');
  else notes.push('prediction_results.txt is missing: no score tracks along the sequences');

  const verdicts: Record<string, number> = {};
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  let notScored = 0;
  let ranked: Ranked[] = [];
  /** Once the list was cut to topLimit: the rank a later record must beat to enter it (an equal one comes later in input order). */
  let floor = -Infinity;
  const index = new RecordIndexWriter();
  let total = 0;
  try {
    for (let line = await summary.next(); line !== undefined; line = await summary.next()) {
      if (line === '') continue;
      const cells = line.split('\t');
      if (cells.length < columns.length) {
        throw new InputError(`${where(o.summaryPath, summary.lineNumber)}: ${cells.length} columns, the header has ${columns.length}`, {
          hint: 'the file was cut short or edited: run predict again (or --resume) to rewrite it',
        });
      }
      const id = cells[idCol];
      const verdict = cells[verdictCol];
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
      const text = cells[scoreCol];
      const score = text === '' || text === 'NA' ? NaN : Number(text);
      if (Number.isNaN(score)) notScored++;
      else counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(score * HISTOGRAM_BINS)))]++;

      const chunkCount = chunksCol >= 0 ? Number(cells[chunksCol]) || 0 : 0;
      const chunkScores: number[] = new Array<number>(chunkCount).fill(NaN);
      const frameCount = framesCol >= 0 ? Number(cells[framesCol]) || 0 : 0;
      if (frames && frameCount > 0) await frames.read(id, frameCount, chunkScores, `${o.summaryPath} line ${summary.lineNumber}`);
      await index.add({ id, length: lengthCol >= 0 ? Number(cells[lengthCol]) || 0 : 0, verdict, chunkScores });

      if (rankOf(score) > floor) {
        // A copy: the cells are slices of the whole chunk of text read, which they would keep alive.
        ranked.push({ order: total, score, cells: JSON.parse(JSON.stringify(cells)) as string[] });
        if (ranked.length >= 2 * o.topLimit) {
          ranked = ranked.sort(byScore).slice(0, o.topLimit);
          floor = rankOf(ranked[ranked.length - 1].score);
        }
      }
      total++;
    }
    await frames?.assertEnd();
  } finally {
    await summary.close();
    await frames?.close();
  }
  const encoded = await index.finish();
  const stats: RecordStats = {
    columns,
    total,
    verdicts,
    histogram: { bins: HISTOGRAM_BINS, counts, notScored },
    top: ranked.sort(byScore).slice(0, o.topLimit).map((r) => r.cells),
    topLimit: o.topLimit,
    index: encoded.info,
    tracks: frames !== null,
    notes,
  };
  return { stats, indexColumns: encoded.columns };
}
