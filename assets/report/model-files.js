/*
 * The model files of a run, as the page lists them: from run.json's
 * `models.sources.<model>`, each model's source files (`sourceFiles`: weights,
 * configs, tokenizer) then the bundle files it ran from (`bundleFiles`: graph,
 * external data, tokenizer copy), each with its path, size and sha256. A
 * run.json from before these lists gives the source paths alone, without
 * checksums. test/report/report-files.test.ts runs this file in Node.
 */
// eslint-disable-next-line no-unused-vars
function virnucproModelFiles(models) {
  var rows = [];
  var sources = (models && models.sources) || {};
  Object.keys(sources).forEach(function (model) {
    var s = sources[model] || {};
    var add = function (role, f) {
      var file = typeof f === 'string' ? { path: f } : f || {};
      rows.push({
        model: model,
        role: role,
        path: String(file.path),
        bytes: typeof file.bytes === 'number' ? file.bytes : null,
        sha256: typeof file.sha256 === 'string' ? file.sha256 : null,
      });
    };
    if (Array.isArray(s.sourceFiles)) s.sourceFiles.forEach(function (f) { add('source', f); });
    else (s.sources || []).forEach(function (f) { add('source', f); });
    (Array.isArray(s.bundleFiles) ? s.bundleFiles : []).forEach(function (f) { add('bundle', f); });
  });
  return rows;
}
