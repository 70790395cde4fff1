/**
 * The two result files of VirNucPro's `prediction.py`, byte for byte.
 *
 * `prediction_results.txt`: header `Sequence_ID\tPrediction\tscore1\tscore2`,
 * then one row per frame: id, `virus` when the second softmax probability is
 * the larger (argmax; a tie is `others`, index 0), and both probabilities as
 * `str(numpy.float32)` prints them.
 *
 * `prediction_results_highestscore.csv` (tab-separated despite the name):
 * pandas re-reads the txt, groups by `Sequence_ID.str[:-2]` (the frame suffix
 * removed, so one group per *chunk*), sorts the groups by Python string order
 * (code points; JavaScript's default sort uses UTF-16 units and disagrees
 * above U+FFFF), and writes `Modified_ID\tIs_Virus` with `True`/`False` for
 * `max(score2) >= max(score1)`, comparing the scores as pandas parsed them
 * from the text (float64 of the printed digits).
 *
 * `formatNumpyFloat32` reproduces numpy's `str(np.float32(x))`: the shortest
 * decimal that rounds back to the same float32 (not float64: JavaScript's
 * `String(x)` would print 0.5347401 as 0.5347400903701782), the closest such
 * decimal when several have that length (exact ties: even last digit); positional for 1e-4 <= |x| < 1e16
 * with at least one fractional digit (`1.0`), scientific otherwise with a
 * two-digit minimum exponent (`1e-04`, `4.6158545e-19`).
 *
 * Public API:
 * - `formatNumpyFloat32(x: number): string`
 * - `PREDICTION_RESULTS_HEADER`, `predictionLabel(p)`, `formatPredictionRow(p)`
 * - `class PredictionResultsWriter(path)` — `write(p)`, `commit()`, `abort()` (atomic)
 * - `highestScoreRows(predictions): HighestScoreRow[]`, `formatHighestScoreCsv(rows): string`
 * - `writeHighestScoreCsv(path, predictions): Promise<void>` (atomic)
 * - `comparePythonStrings(a, b): number` — Python's `str` order (code points)
 */
import { AtomicFileWriter, writeFileAtomic } from '../util/atomic.js';

// ---------------------------------------------------------------- float32 ---

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Exact `value = mantissa * 2**exponent` of a finite non-zero float32, and its round-trip interval. */
function float32Parts(x: number): { m: bigint; e: number; lowerGapHalved: boolean } {
  f32[0] = x;
  const bits = u32[0];
  const biased = (bits >>> 23) & 0xff;
  const frac = bits & 0x7fffff;
  if (biased === 0) return { m: BigInt(frac), e: -149, lowerGapHalved: false };
  return { m: BigInt(frac | 0x800000), e: biased - 150, lowerGapHalved: frac === 0 && biased > 1 };
}

/** sign of (D * 10**k) - (N * 2**j), exactly, for non-negative D and N. */
function compareDecimalDyadic(D: bigint, k: number, N: bigint, j: number): number {
  let left = D;
  let right = N;
  if (k >= 0) left *= 10n ** BigInt(k);
  else right *= 10n ** BigInt(-k);
  if (j >= 0) right *= 2n ** BigInt(j);
  else left *= 2n ** BigInt(-j);
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Whether the decimal D * 10**k reads back as the float32 (m, e): it must lie
 * strictly inside the halfway points to the neighbouring floats, or on one of
 * them when the mantissa is even (round-half-to-even).
 */
function roundTrips(D: bigint, k: number, p: { m: bigint; e: number; lowerGapHalved: boolean }): boolean {
  const even = (p.m & 1n) === 0n;
  // Upper halfway point: (2m + 1) * 2**(e-1).
  const hi = compareDecimalDyadic(D, k, 2n * p.m + 1n, p.e - 1);
  if (hi > 0 || (hi === 0 && !even)) return false;
  // Lower halfway point: (2m - 1) * 2**(e-1), or (4m - 1) * 2**(e-2) just above a power of two.
  const lo = p.lowerGapHalved ? compareDecimalDyadic(D, k, 4n * p.m - 1n, p.e - 2) : compareDecimalDyadic(D, k, 2n * p.m - 1n, p.e - 1);
  return lo > 0 || (lo === 0 && even);
}

/** True when the double `n` lies exactly halfway between two adjacent float32 values. */
function isFloat32Halfway(n: number): boolean {
  const f = Math.fround(n);
  if (f === n) return false;
  f32[0] = f;
  u32[0] += n > f ? 1 : -1; // the float32 neighbour on n's side (n > 0 here)
  return n === (f + f32[0]) / 2;
}

/**
 * Fast path: the nearest p-digit decimal (`toPrecision`, correctly rounded) for
 * p = 1, 2, ... until one reads back as the same float32. It is exact when the
 * round-trip interval is symmetric (the mantissa is not a power of two) — then a
 * p-digit decimal round-trips only if the nearest one does — and when neither
 * an exact tie between two p-digit decimals nor a float32 halfway point can
 * occur; otherwise it returns null and the exact BigInt path decides.
 */
export function shortestDigitsFast(ax: number): { digits: string; exp10: number } | null {
  f32[0] = ax;
  const bits = u32[0];
  const biased = (bits >>> 23) & 0xff;
  if (biased <= 1 || (bits & 0x7fffff) === 0) return null; // subnormal, or an asymmetric interval
  for (let p = 1; p <= 9; p++) {
    const s = ax.toExponential(p - 1);
    const n = Number(s);
    if (isFloat32Halfway(n)) return null;
    if (Math.fround(n) !== ax) continue;
    // An exact tie at p digits means x has at most p+1 significant digits: numpy rounds ties to even, JS up.
    if (p < 17 && Number(ax.toExponential(p)) === ax) return null;
    const [mant, expStr] = s.split('e');
    return { digits: mant.replace('.', '').replace(/0+$/, '') || '0', exp10: Number(expStr) };
  }
  return null;
}

/** Shortest round-trip digits of |x| (float32) and the decimal exponent of the first digit. */
function shortestDigits(ax: number): { digits: string; exp10: number } {
  const fast = shortestDigitsFast(ax);
  if (fast) return fast;
  return shortestDigitsExact(ax);
}

/** The exact path on its own (exported, with the fast path, so tests can check each against numpy). */
export function shortestDigitsExact(ax: number): { digits: string; exp10: number } {
  const parts = float32Parts(ax);
  for (let p = 1; p <= 9; p++) {
    // The nearest p-digit decimal and its neighbours cover both the floor and the ceiling.
    const [mant, expStr] = ax.toExponential(p - 1).split('e');
    const nearest = BigInt(mant.replace('.', ''));
    const exp10 = Number(expStr);
    const k = exp10 - (p - 1);
    let best: bigint | null = null;
    for (const D of [nearest - 1n, nearest, nearest + 1n]) {
      if (D <= 0n || !roundTrips(D, k, parts)) continue;
      // A larger candidate wins when x is nearer to it; an exact tie goes to the even last digit (as numpy prints).
      const side = best === null ? -1 : compareDecimalDyadic(best + D, k, parts.m, parts.e + 1);
      if (side < 0 || (side === 0 && D % 2n === 0n)) best = D;
    }
    if (best !== null) {
      const all = best.toString();
      // Stryker disable next-line StringLiteral: equivalent, a trailing zero never gets here (the shorter decimal would have been found first)
      return { digits: all.replace(/0+$/, ''), exp10: k + all.length - 1 };
    }
  }
  // Stryker disable next-line StringLiteral: unreachable, 9 digits always suffice
  throw new Error(`no round-trip representation found for ${ax}`); // unreachable: 9 digits always suffice
}

export function formatNumpyFloat32(x: number): string {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const ax = Math.abs(v);
  if (ax === 0) return `${sign}0.0`;
  const { digits, exp10 } = shortestDigits(ax);
  if (ax >= 1e-4 && ax < 1e16) {
    if (exp10 >= 0) {
      const intPart = digits.length > exp10 + 1 ? digits.slice(0, exp10 + 1) : digits.padEnd(exp10 + 1, '0');
      const fracPart = digits.length > exp10 + 1 ? digits.slice(exp10 + 1) : '0';
      return `${sign}${intPart}.${fracPart}`;
    }
    return `${sign}0.${'0'.repeat(-exp10 - 1)}${digits}`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expSign = exp10 < 0 ? '-' : '+';
  return `${sign}${mantissa}e${expSign}${String(Math.abs(exp10)).padStart(2, '0')}`;
}

// ------------------------------------------------------ prediction_results ---

/** One classified frame: softmax probabilities of `others` (score1) and `virus` (score2), float32. */
export interface Prediction {
  id: string;
  score1: number;
  score2: number;
}

export const PREDICTION_RESULTS_HEADER = 'Sequence_ID\tPrediction\tscore1\tscore2';

/** `torch.max(probabilities, 1)`: index 1 (`virus`) only when strictly larger. */
export function predictionLabel(p: Prediction): 'virus' | 'others' {
  return Math.fround(p.score2) > Math.fround(p.score1) ? 'virus' : 'others';
}

export function formatPredictionRow(p: Prediction): string {
  return `${p.id}\t${predictionLabel(p)}\t${formatNumpyFloat32(p.score1)}\t${formatNumpyFloat32(p.score2)}`;
}

/** Streams `prediction_results.txt`; the file appears only on `commit()`. */
export class PredictionResultsWriter {
  private readonly out: AtomicFileWriter;
  /** The header line comes first, as in the original's file (no comment lines: the file stays the original's format). */
  constructor(readonly path: string) {
    this.out = new AtomicFileWriter(path);
    this.out.write(`${PREDICTION_RESULTS_HEADER}\n`);
  }
  write(p: Prediction): void {
    this.out.write(`${formatPredictionRow(p)}\n`);
  }
  /** Writes a row whose scores the caller already formatted (formatNumpyFloat32), to format each score once. */
  writeFormatted(p: Prediction, score1: string, score2: string): void {
    this.out.write(`${p.id}\t${predictionLabel(p)}\t${score1}\t${score2}\n`);
  }
  commit(): void {
    this.out.commit();
  }
  abort(): void {
    this.out.abort();
  }
}

// ------------------------------------------------------ highestscore.csv ---

/** Python's `str` ordering: by code point (UTF-16 order differs for astral vs U+E000..U+FFFF). */
export function comparePythonStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // A surrogate (0xD800..0xDFFF) encodes a code point >= 0x10000: above every BMP unit.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb; // same kind: UTF-16 order equals code point order
  }
  return a.length - b.length;
}

/** The group key of a frame id: `Sequence_ID.str[:-2]` on a Python str (code points, not UTF-16 units). */
export function modifiedId(s: string): string {
  const cps = Array.from(s);
  return cps.slice(0, Math.max(0, cps.length - 2)).join('');
}

export interface HighestScoreRow {
  modifiedId: string;
  isVirus: boolean;
}

/** The grouping, verdict and order of `prediction_results_highestscore.csv`. */
export function highestScoreRows(predictions: Iterable<Prediction>): HighestScoreRow[] {
  const groups = new Map<string, { max1: number; max2: number }>();
  for (const p of predictions) {
    const key = modifiedId(p.id);
    // pandas compares what it parsed from the text file.
    const s1 = Number(formatNumpyFloat32(p.score1));
    const s2 = Number(formatNumpyFloat32(p.score2));
    const g = groups.get(key);
    if (g) {
      g.max1 = Math.max(g.max1, s1);
      g.max2 = Math.max(g.max2, s2);
    } else groups.set(key, { max1: s1, max2: s2 });
  }
  return [...groups.entries()]
    .sort(([a], [b]) => comparePythonStrings(a, b))
    .map(([modifiedId, g]) => ({ modifiedId, isVirus: g.max2 >= g.max1 }));
}

/** pandas `to_csv(sep='\t', index=False)`: QUOTE_MINIMAL quotes a field holding a quote character. */
function csvField(s: string): string {
  return s.includes('"') ? `"${s.replace(/"/g, '""')}"` : s;
}

export const HIGHEST_SCORE_HEADER = 'Modified_ID\tIs_Virus';

export function formatHighestScoreRow(r: HighestScoreRow): string {
  return `${csvField(r.modifiedId)}\t${r.isVirus ? 'True' : 'False'}`;
}

export function formatHighestScoreCsv(rows: HighestScoreRow[]): string {
  const lines = [HIGHEST_SCORE_HEADER, ...rows.map(formatHighestScoreRow)];
  return lines.join('\n') + '\n';
}

export async function writeHighestScoreCsv(path: string, predictions: Iterable<Prediction>): Promise<void> {
  await writeFileAtomic(path, formatHighestScoreCsv(highestScoreRows(predictions)));
}
