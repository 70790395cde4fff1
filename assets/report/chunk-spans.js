/*
 * Where VirNucPro's chunks lie along a record: the same windows as
 * src/seq/chunk.ts (forEachChunkSpan), which reproduces the original's
 * units.split_fasta_chunk; test/report/chunk-spans.test.ts checks that both
 * agree. Returns [start, end) pairs, one per chunk, in order.
 */
// eslint-disable-next-line no-unused-vars
function virnucproChunkSpans(length, expectedLength) {
  var spans = [];
  if (!(length > 0) || !(expectedLength >= 1)) return spans;
  var L = expectedLength;
  var n = Math.ceil(length / L);
  var repeat = n * L - length;
  var lower = Math.trunc(repeat / n);
  var upper = lower + 1;
  var needUp = repeat - lower * (n - 1);
  var lowerEnd = needUp + Math.max(0, n - 1 - needUp);
  var clamp = function (i) { return i < 0 ? Math.max(0, i + length) : Math.min(i, length); };
  var move = 0;
  for (var k = 0; k < n; k++) {
    var a = k * L;
    var from = a > 1 ? a - move : a;
    var start = clamp(from);
    spans.push([start, Math.max(start, clamp(from + L))]);
    move += k < needUp ? upper : k < lowerEnd ? lower : 0;
  }
  return spans;
}
