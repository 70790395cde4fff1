/**
 * A bounds-checked read position in a byte array (little-endian unless a
 * method says otherwise), in the manner of cram-js's BufferReader. Every read
 * checks the remaining length first, so a truncated or lying file fails with
 * `fail(message)` at the offset of the read, never with a RangeError.
 */
export class ByteCursor {
  /** Offset of the next byte to read. */
  pos = 0;
  private readonly view: DataView;

  /**
   * @param fail  raises the caller's error (it may read `pos`, which still
   *              points at the read that failed).
   * @param what  names the data in messages, e.g. 'pickle'.
   */
  constructor(
    readonly data: Uint8Array,
    private readonly fail: (message: string) => never,
    private readonly what = 'data',
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get atEnd(): boolean {
    return this.pos >= this.data.byteLength;
  }

  private need(n: number): void {
    if (this.pos + n > this.data.byteLength) this.fail(`needs ${n} more bytes, the ${this.what} ends at ${this.data.byteLength}`);
  }

  /** Reads a fixed-size value of `n` bytes at the cursor and steps over it. */
  private fixed<T>(n: number, read: (view: DataView, at: number) => T): T {
    this.need(n);
    const v = read(this.view, this.pos);
    this.pos += n;
    return v;
  }

  u8(): number {
    return this.fixed(1, (v, at) => v.getUint8(at));
  }

  u16(): number {
    return this.fixed(2, (v, at) => v.getUint16(at, true));
  }

  u32(): number {
    return this.fixed(4, (v, at) => v.getUint32(at, true));
  }

  i32(): number {
    return this.fixed(4, (v, at) => v.getInt32(at, true));
  }

  /** An unsigned 64-bit length; one beyond the data size is refused, so it is exact as a number. */
  u64Length(): number {
    const n = this.fixed(8, (v, at) => v.getBigUint64(at, true));
    if (n > BigInt(this.data.byteLength)) this.fail(`length ${n} exceeds the ${this.what} size`);
    return Number(n);
  }

  /** A big-endian float64 (pickle's BINFLOAT byte order). */
  f64be(): number {
    return this.fixed(8, (v, at) => v.getFloat64(at, false));
  }

  /** The next `n` bytes, as a view of the data (not a copy). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Text up to the next '\n' (consumed, not returned), decoded as latin-1. */
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('unterminated text line');
    const s = Buffer.from(this.data.subarray(this.pos, end)).toString('latin1');
    this.pos = end + 1;
    return s;
  }
}
