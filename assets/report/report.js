/*
 * The page of report.html and of the live dashboard (predict --dashboard-port).
 * It reads its data from the JSON in <script id="report-data"> (src/report/page.ts
 * writes it) and, in live mode, follows the server's events at ./events
 * (src/monitor/live-dashboard.ts). It makes no other request: charts are drawn
 * with the inlined uPlot or on canvases, and the compressed record index is
 * decoded in the page (src/report/record-index.ts describes its layout).
 */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var run = data.run || {};
  var params = run.parameters || {};
  var minScore = typeof params.min_score === 'number' ? params.min_score : 0.5;
  var expectedLength = params.expected_length || 500;
  var COLORS = ['#4a90d9', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fmt(x, digits) {
    if (x === null || x === undefined || (typeof x === 'number' && !isFinite(x))) return '–';
    if (typeof x !== 'number') return String(x);
    if (Number.isInteger(x)) return x.toLocaleString('en-US');
    return x.toFixed(digits === undefined ? 3 : digits);
  }
  function scoreText(s) { return typeof s === 'number' && isFinite(s) ? s.toFixed(4) : '–'; }
  function plural(n, word) { return fmt(n) + ' ' + word + (n === 1 ? '' : 's'); }
  function describe(v) {
    if (v === null || v === undefined) return '–';
    if (Array.isArray(v)) return v.map(describe).join(', ');
    if (typeof v === 'object') return JSON.stringify(v);
    if (typeof v === 'number') return fmt(v);
    return String(v);
  }
  function kvRow(tbody, key, value, opts) {
    var td = el('td', { text: describe(value), 'data-key': key });
    if (opts && opts.mono) td.className = 'mono';
    tbody.appendChild(el('tr', null, [el('td', { text: key }), td]));
    return td;
  }
  function chartWidth(node) { return Math.max(300, (node.clientWidth || node.parentNode.clientWidth || 900) - 4); }

  // ------------------------------------------------------------------ header
  $('mode-badge').textContent = data.mode === 'live' ? 'live' : 'report';
  var inputPath = run.input && run.input.path ? run.input.path : '';
  $('subtitle').textContent = (inputPath ? inputPath + ' · ' : '') +
    (data.mode === 'live' ? 'live view of a running predict' : 'report written ' + data.generatedAt);
  if (run.warning || run.demo_models) {
    $('demo-warning').hidden = false;
    $('demo-warning').textContent = run.warning || 'demo models: the scores mean nothing';
  }

  // ------------------------------------------------------------------ run summary
  var KNOWN = ['tool', 'onnxruntime', 'input', 'parameters', 'models', 'counts', 'stages_s', 'throughput', 'devices', 'steals',
    'backups', 'failed_shards', 'outputs', 'warning', 'demo_models', 'output_dir', 'wall_s', 'makespan_s', 'complete'];
  function renderSummary() {
    var tb = $('run-summary').tBodies[0];
    tb.textContent = '';
    if (run.input) {
      kvRow(tb, 'input', run.input.path, { mono: true });
      if (run.input.sha256) kvRow(tb, 'input sha256', run.input.sha256, { mono: true });
    }
    if (run.output_dir) kvRow(tb, 'output directory', run.output_dir, { mono: true });
    Object.keys(run).forEach(function (k) {
      if (KNOWN.indexOf(k) >= 0) return;
      kvRow(tb, k.replace(/_/g, ' '), run[k], { mono: typeof run[k] !== 'number' });
    });
    if (run.complete !== undefined) kvRow(tb, 'complete', run.complete ? 'yes' : 'no');
    if (run.tool) kvRow(tb, 'virnucpro', run.tool.version);
    if (run.onnxruntime) {
      kvRow(tb, 'ONNX Runtime', run.onnxruntime.version);
      kvRow(tb, 'Node.js', run.onnxruntime.node);
    }
    if (run.wall_s !== undefined) kvRow(tb, 'wall time', fmt(run.wall_s, 1) + ' s');
    if (run.makespan_s !== undefined) kvRow(tb, 'makespan (compute)', fmt(run.makespan_s, 1) + ' s');
    if (run.throughput) {
      kvRow(tb, 'frames per second', run.throughput.frames_per_s);
      kvRow(tb, 'tokens per second', run.throughput.tokens_per_s);
    }
    var c = run.counts || {};
    ['records', 'chunks', 'frames', 'input_bases', 'shards', 'shards_reused', 'shards_failed', 'rows', 'virus_chunks', 'virus_records'].forEach(function (k) {
      if (c[k] !== undefined) kvRow(tb, k.replace(/_/g, ' '), c[k]).setAttribute('data-count', k);
    });
    if (c.records_without_frames) {
      var w = c.records_without_frames;
      kvRow(tb, 'records without frames', Object.keys(w).map(function (k) { return k.replace(/_/g, ' ') + ' ' + w[k]; }).join(', '));
    }
    if (run.outputs && run.outputs.length) kvRow(tb, 'outputs', run.outputs.join(', '));

    var st = $('stage-times').tBodies[0];
    st.textContent = '';
    var stages = run.stages_s || {};
    var total = Object.keys(stages).reduce(function (a, k) { return a + stages[k]; }, 0) || 1;
    Object.keys(stages).forEach(function (k) {
      var bar = el('div', { style: 'display:inline-block;height:8px;background:#4a90d9;margin-left:6px;width:' + Math.round(120 * stages[k] / total) + 'px' });
      var td = el('td', { 'data-stage': k }, [fmt(stages[k], 3) + ' s', bar]);
      st.appendChild(el('tr', null, [el('td', { text: k }), td]));
    });
    if (run.wall_s !== undefined) kvRow(st, 'total (wall)', fmt(run.wall_s, 3) + ' s');
    st.parentNode.parentNode.hidden = st.rows.length === 0;

    var pt = $('parameters').tBodies[0];
    pt.textContent = '';
    Object.keys(params).forEach(function (k) { kvRow(pt, k, params[k]); });
    $('parameters-box').hidden = Object.keys(params).length === 0;

    var mt = $('models').tBodies[0];
    mt.textContent = '';
    var m = run.models || {};
    if (m.sha256) kvRow(mt, 'sha256 (graphs and weights run)', m.sha256, { mono: true });
    if (m.precision) kvRow(mt, 'precision', m.precision);
    var sources = m.sources || {};
    Object.keys(sources).forEach(function (kind) {
      var s = sources[kind] || {};
      var parts = [];
      if (s.published) parts.push('published: ' + s.published);
      if (s.sourceFormat) parts.push(s.sourceFormat);
      Object.keys(s).forEach(function (k) {
        if (['published', 'sourceFormat', 'sources', 'sourceFiles', 'bundleFiles', 'bundle'].indexOf(k) < 0) parts.push(k + ': ' + describe(s[k]));
      });
      kvRow(mt, kind, parts.join(' · '));
      if (s.bundle) kvRow(mt, '', 'run from: ' + s.bundle, { mono: true });
    });
    renderModelFiles(virnucproModelFiles(m));
    $('models-box').hidden = !run.models;
  }

  // Each model file with its size and sha256 (model-files.js reads them from run.json).
  function renderModelFiles(files) {
    var t = $('model-files');
    var tb = t.tBodies[0];
    tb.textContent = '';
    files.forEach(function (f) {
      var tr = el('tr', { 'data-model': f.model, 'data-role': f.role, 'data-path': f.path }, [
        el('td', { text: f.model }),
        el('td', { text: f.role === 'bundle' ? 'run' : 'source' }),
        el('td', { cls: 'mono', text: f.path, 'data-field': 'path' }),
        el('td', { cls: 'num', text: f.bytes === null ? '–' : fmt(f.bytes), 'data-field': 'bytes' }),
        el('td', { cls: 'mono', text: f.sha256 === null ? '–' : f.sha256, 'data-field': 'sha256' }),
      ]);
      tb.appendChild(tr);
    });
    $('model-files-box').hidden = files.length === 0;
  }

  // ------------------------------------------------------------------ verdicts and histogram
  var records = data.records;
  function renderVerdicts() {
    if (!records) { $('verdicts').hidden = true; return; }
    $('total-records').textContent = fmt(records.total);
    var box = $('verdict-counts');
    box.textContent = '';
    var names = Object.keys(records.verdicts).sort(function (a, b) {
      var order = ['virus', 'non_virus'];
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 9 : ia) - (ib < 0 ? 9 : ib) || (a < b ? -1 : 1);
    });
    names.forEach(function (v) {
      var n = records.verdicts[v];
      box.appendChild(el('div', { cls: 'card ' + v, 'data-verdict': v }, [
        el('div', { cls: 'count', text: fmt(n) }),
        el('div', { cls: 'muted', text: v + ' · ' + (records.total ? (100 * n / records.total).toFixed(1) : '0') + '%' }),
      ]));
    });
    var h = records.histogram;
    // Bins above --min-score (virus) in red, the others in blue, as on the tracks.
    var xs = [], above = [], below = [];
    for (var i = 0; i < h.bins; i++) {
      var x = (i + 0.5) / h.bins;
      xs.push(x);
      above.push(x > minScore ? h.counts[i] : null);
      below.push(x > minScore ? null : h.counts[i]);
    }
    var node = $('histogram');
    node.textContent = '';
    new uPlot({
      width: chartWidth(node), height: 220,
      scales: { x: { time: false, range: [0, 1] } },
      legend: { show: false },
      axes: [{ label: 'highest virus score' + (h.notScored ? ' (' + fmt(h.notScored) + ' records not scored)' : '') }, { label: 'records', size: 60 }],
      series: [{},
        { label: 'not above --min-score', fill: 'rgba(31,60,136,0.35)', stroke: '#1f3c88', paths: uPlot.paths.bars({ size: [0.92, Infinity] }), points: { show: false } },
        { label: 'above --min-score', fill: 'rgba(214,39,40,0.35)', stroke: '#d62728', paths: uPlot.paths.bars({ size: [0.92, Infinity] }), points: { show: false } }],
    }, [xs, below, above], node);
  }

  // ------------------------------------------------------------------ the record index (search over all records)
  function base64Bytes(b64) {
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function gunzip(name) {
    var stream = new Blob([base64Bytes(document.getElementById('index-' + name).textContent)]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }
  function varints(bytes, n) {
    var out = new Float64Array(n);
    var p = 0;
    for (var i = 0; i < n; i++) {
      var v = 0, mul = 1, b;
      do { b = bytes[p++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
      out[i] = v;
    }
    return out;
  }
  var indexPromise = null;
  function loadIndex() {
    if (indexPromise) return indexPromise;
    var ix = records.index;
    indexPromise = Promise.all(['ids', 'lengths', 'verdicts', 'chunkCounts', 'chunkScores'].map(gunzip)).then(function (cols) {
      var n = ix.records;
      var ids = new TextDecoder().decode(cols[0]).split('\n');
      ids.length = n;
      var counts = varints(cols[3], n);
      var offsets = new Float64Array(n + 1);
      for (var i = 0; i < n; i++) offsets[i + 1] = offsets[i] + counts[i];
      return { ids: ids, lengths: varints(cols[1], n), verdicts: cols[2], offsets: offsets, scores: new DataView(cols[4].buffer, cols[4].byteOffset, cols[4].byteLength) };
    });
    return indexPromise;
  }
  function recordAt(index, i) {
    var scores = [];
    var best = NaN;
    for (var k = index.offsets[i]; k < index.offsets[i + 1]; k++) {
      var u = index.scores.getUint16(2 * k, true);
      var s = u === 0xffff ? NaN : u / 0xfffe;
      scores.push(s);
      if (!isNaN(s) && !(s <= best)) best = s;
    }
    return { index: i, id: index.ids[i], length: index.lengths[i], verdict: records.index.verdictNames[index.verdicts[i]], chunkScores: scores, maxScore: best };
  }

  // ------------------------------------------------------------------ score tracks
  var shownTracks = [];
  function drawTrack(canvas, rec) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 900, h = canvas.clientHeight || 120;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    var left = 44, right = 12, top = 8, bottom = 24;
    var len = Math.max(1, rec.length);
    var X = function (bp) { return left + (w - left - right) * bp / len; };
    var Y = function (s) { return top + (h - top - bottom) * (1 - s); };
    g.strokeStyle = '#999'; g.fillStyle = '#666'; g.lineWidth = 1; g.font = '11px sans-serif';
    g.beginPath(); g.moveTo(left, top); g.lineTo(left, h - bottom); g.lineTo(w - right, h - bottom); g.stroke();
    g.textAlign = 'right'; g.textBaseline = 'middle';
    [0, 0.5, 1].forEach(function (s) { g.fillText(String(s), left - 6, Y(s)); });
    g.textAlign = 'center'; g.textBaseline = 'top';
    var step = Math.pow(10, Math.floor(Math.log10(len / 2)));
    if (len / step > 8) step *= 2;
    if (len / step > 8) step *= 2.5;
    for (var t = 0; t <= len; t += step) {
      g.fillText(fmt(Math.round(t)), X(t), h - bottom + 4);
      g.beginPath(); g.moveTo(X(t), h - bottom); g.lineTo(X(t), h - bottom + 3); g.stroke();
    }
    g.setLineDash([4, 4]); g.strokeStyle = '#aaa';
    g.beginPath(); g.moveTo(left, Y(minScore)); g.lineTo(w - right, Y(minScore)); g.stroke();
    g.setLineDash([]);
    var spans = virnucproChunkSpans(rec.length, expectedLength);
    var drawn = 0;
    rec.chunkScores.forEach(function (s, k) {
      var span = spans[k] || [k * expectedLength, (k + 1) * expectedLength];
      if (isNaN(s)) {
        g.fillStyle = '#bbb';
        g.fillRect(X(span[0]), h - bottom - 4, Math.max(1, X(span[1]) - X(span[0])), 4);
        return;
      }
      g.strokeStyle = s > minScore ? '#d62728' : '#1f3c88';
      g.lineWidth = 3;
      g.beginPath(); g.moveTo(X(span[0]), Y(s)); g.lineTo(Math.max(X(span[0]) + 2, X(span[1])), Y(s)); g.stroke();
      drawn++;
    });
    canvas.setAttribute('data-segments', String(drawn));
  }
  function showTrack(rec, front) {
    shownTracks = shownTracks.filter(function (r) { return r.index !== rec.index; });
    if (front) shownTracks.unshift(rec); else shownTracks.push(rec);
    shownTracks = shownTracks.slice(0, 5);
    var box = $('tracks');
    box.textContent = '';
    shownTracks.forEach(function (r) {
      var canvas = el('canvas', { 'data-record': r.id });
      var scored = r.chunkScores.filter(function (s) { return !isNaN(s); }).length;
      box.appendChild(el('div', { cls: 'track' }, [
        el('div', null, [el('span', { cls: 'title', text: r.id }), el('span', { cls: 'muted', text: ' · ' + fmt(r.length) + ' bp · ' + plural(r.chunkScores.length, 'chunk') +
          ' (' + scored + ' scored) · highest virus score ' + scoreText(r.maxScore) + ' · ' + r.verdict })]),
        canvas,
      ]));
      drawTrack(canvas, r);
    });
  }
  function search(query) {
    var status = $('track-status');
    var list = $('track-results');
    list.textContent = '';
    if (!records || !records.tracks) { status.textContent = 'no per-chunk scores in this report'; return; }
    status.textContent = 'searching…';
    loadIndex().then(function (index) {
      var q = query.trim();
      if (!q) { status.textContent = ''; return; }
      var exact = index.ids.indexOf(q);
      var hits = exact >= 0 ? [exact] : [];
      var total = exact >= 0 ? 1 : 0;
      for (var i = 0; i < index.ids.length; i++) {
        if (i !== exact && index.ids[i].indexOf(q) >= 0) { total++; if (hits.length < 50) hits.push(i); }
      }
      status.textContent = total === 0 ? 'no record matches' : total + ' record' + (total === 1 ? '' : 's') + ' match' + (total > hits.length ? ' (first ' + hits.length + ' listed)' : '') +
        ' · search covers ' + fmt(index.ids.length) + ' records' + (records.index.records < records.total ? ' of ' + fmt(records.total) : '');
      hits.forEach(function (i) {
        var r = recordAt(index, i);
        var li = el('li', { 'data-record': r.id, text: r.id + ' · ' + fmt(r.length) + ' bp · ' + r.verdict + ' · ' + scoreText(r.maxScore) });
        li.addEventListener('click', function () { showTrack(r, true); });
        list.appendChild(li);
      });
      if (hits.length >= 1) showTrack(recordAt(index, hits[0]), true);
    });
  }
  function showTrackById(id) {
    if (!records || !records.tracks) return;
    loadIndex().then(function (index) {
      var i = index.ids.indexOf(id);
      if (i >= 0) showTrack(recordAt(index, i), true);
    });
  }
  function renderTracks() {
    if (!records) { $('tracks-section').hidden = true; return; }
    if (!records.tracks) { $('track-status').textContent = 'no per-chunk scores in this report (see the notes)'; return; }
    $('track-form').addEventListener('submit', function (e) { e.preventDefault(); search($('track-search').value); });
    loadIndex().then(function (index) {
      var idCol = records.columns.indexOf('id');
      var first = records.top.slice(0, 5).map(function (row) { return row[idCol]; });
      first.forEach(function (id) { var i = index.ids.indexOf(id); if (i >= 0) showTrack(recordAt(index, i), false); });
    });
  }

  // ------------------------------------------------------------------ records table
  function renderTable() {
    if (!records) { $('records').hidden = true; return; }
    var cols = records.columns;
    var idCol = cols.indexOf('id'), scoreCol = cols.indexOf('max_virus_score'), verdictCol = cols.indexOf('verdict');
    var numeric = cols.map(function (_, c) {
      return records.top.length > 0 && records.top.every(function (r) { return r[c] === '' || r[c] === 'NA' || !isNaN(Number(r[c])); }) && c !== idCol;
    });
    $('records-note').textContent = records.top.length < records.total
      ? 'The ' + fmt(records.top.length) + ' records with the highest virus scores of ' + fmt(records.total) +
        ' (summary.tsv has them all; the search above finds any record).'
      : 'All ' + fmt(records.total) + ' records.';
    var sel = $('verdict-filter');
    Object.keys(records.verdicts).forEach(function (v) { sel.appendChild(el('option', { value: v, text: v })); });
    var sort = { col: -1, dir: 1 };
    var thead = $('records-table').tHead;
    var tr = el('tr');
    cols.forEach(function (name, c) {
      var th = el('th', { text: name, 'data-col': name });
      th.addEventListener('click', function () {
        sort = { col: c, dir: sort.col === c ? -sort.dir : (numeric[c] ? -1 : 1) };
        draw();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    function value(row, c) {
      if (!numeric[c]) return row[c];
      var n = Number(row[c]);
      return row[c] === '' || row[c] === 'NA' || isNaN(n) ? -Infinity : n;
    }
    function draw() {
      var q = $('table-filter').value.trim().toLowerCase();
      var v = sel.value;
      var min = Number($('score-filter').value) || 0;
      var rows = records.top.filter(function (r) {
        if (q && r[idCol].toLowerCase().indexOf(q) < 0) return false;
        if (v && r[verdictCol] !== v) return false;
        if (min > 0 && !(Number(r[scoreCol]) >= min)) return false;
        return true;
      });
      if (sort.col >= 0) {
        rows = rows.slice().sort(function (a, b) {
          var x = value(a, sort.col), y = value(b, sort.col);
          return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
        });
      }
      Array.prototype.forEach.call(thead.rows[0].cells, function (th, c) {
        th.textContent = cols[c] + (c === sort.col ? (sort.dir > 0 ? ' ▲' : ' ▼') : '');
      });
      var body = $('records-table').tBodies[0];
      body.textContent = '';
      rows.forEach(function (r) {
        var row = el('tr', { 'data-id': r[idCol] });
        r.forEach(function (cell, c) {
          var td = el('td', { text: cell });
          if (numeric[c]) td.className = 'num';
          if (c === verdictCol) td.className = 'verdict-' + cell;
          row.appendChild(td);
        });
        row.addEventListener('click', function () { showTrackById(r[idCol]); $('tracks-section').scrollIntoView({ behavior: 'smooth' }); });
        body.appendChild(row);
      });
      $('table-count').textContent = rows.length + ' shown';
    }
    ['input', 'change'].forEach(function (ev) {
      $('table-filter').addEventListener(ev, draw);
      sel.addEventListener(ev, draw);
      $('score-filter').addEventListener(ev, draw);
    });
    draw();
  }

  // ------------------------------------------------------------------ devices and timeline
  function renderDevicesTable(rows, columns) {
    var t = $('devices-table');
    t.tHead.textContent = '';
    t.tBodies[0].textContent = '';
    t.tHead.appendChild(el('tr', null, columns.map(function (c) { return el('th', { text: c[1] }); })));
    rows.forEach(function (d) {
      t.tBodies[0].appendChild(el('tr', { 'data-device': d.device }, columns.map(function (c) {
        var v = d[c[0]];
        return el('td', { text: typeof v === 'number' ? fmt(v, 2) : describe(v), cls: typeof v === 'number' ? 'num' : '', 'data-field': c[0] });
      })));
    });
  }
  var REPORT_DEVICE_COLUMNS = [['device', 'device'], ['name', 'name'], ['weight', 'weight'], ['shards', 'shards'], ['sequences', 'frames'], ['tokens', 'tokens'],
    ['stolen_in', 'stolen in'], ['stolen_out', 'stolen out'], ['backups', 'backups'], ['busy_s', 'busy s'], ['idle_s', 'idle s'], ['restarts', 'restarts'], ['failures', 'failures']];
  var LIVE_DEVICE_COLUMNS = [['device', 'device'], ['name', 'name'], ['state', 'state'], ['queueDepth', 'queued'], ['inFlight', 'running'], ['shardsDone', 'shards'],
    ['sequencesDone', 'frames'], ['tokensDone', 'tokens'], ['stolenIn', 'stolen in'], ['stolenOut', 'stolen out'], ['busyS', 'busy s']];

  var timelineState = null;
  function drawTimeline(tl, steals) {
    timelineState = { tl: tl, steals: steals };
    var canvas = $('timeline');
    if (!tl || tl.units.length === 0) {
      canvas.hidden = true;
      $('timeline-note').textContent = tl ? '' : (data.mode === 'live' ? 'No shard finished yet.' : 'No unit log (work/units.jsonl) in this output directory.');
      return;
    }
    canvas.hidden = false;
    $('timeline-note').textContent = tl.truncated ? 'The first ' + fmt(tl.units.length) + ' of ' + fmt(tl.total) + ' shards are drawn.' : fmt(tl.units.length) + ' shards.';
    var rowH = 24, top = 8, bottom = 24, left = 90, right = 12;
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.parentNode.clientWidth || 900, h = top + bottom + rowH * tl.devices.length;
    canvas.style.height = h + 'px';
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    var end = tl.units.reduce(function (a, u) { return Math.max(a, u[2]); }, 0) || 1;
    var X = function (t) { return left + (w - left - right) * t / end; };
    g.font = '11px sans-serif'; g.fillStyle = '#444'; g.textBaseline = 'middle'; g.textAlign = 'right';
    tl.devices.forEach(function (d, i) { g.fillText(d, left - 8, top + rowH * i + rowH / 2); });
    g.strokeStyle = '#ccc';
    g.beginPath(); g.moveTo(left, h - bottom); g.lineTo(w - right, h - bottom); g.stroke();
    var step = Math.pow(10, Math.floor(Math.log10(end / 2)));
    if (end / step > 8) step *= 2;
    if (end / step > 8) step *= 2.5;
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (var t = 0; t <= end + 1e-9; t += step) g.fillText(fmt(Math.round(t * 100) / 100) + ' s', X(t), h - bottom + 4);
    tl.units.forEach(function (u) {
      g.fillStyle = u[3] & 2 ? '#8e44ad' : u[3] & 1 ? '#ff9f1c' : '#4a90d9';
      var x0 = X(u[1]), x1 = X(u[2]);
      g.fillRect(x0, top + rowH * u[0] + 3, Math.max(1, x1 - x0 - 1), rowH - 6);
    });
    g.fillStyle = '#222'; g.textAlign = 'center'; g.textBaseline = 'bottom';
    (steals || []).forEach(function (s) {
      var row = tl.devices.indexOf(s.to);
      var at = s.time ? (Date.parse(s.time) - tl.t0) / 1000 : s.t;
      if (row < 0 || !(at >= 0)) return;
      g.fillText('▼', X(Math.min(at, end)), top + rowH * row + 8);
    });
    canvas.setAttribute('data-units', String(tl.units.length));
  }
  function timelineTip(ev) {
    var tip = $('timeline-tip');
    if (!timelineState || !timelineState.tl) return;
    var tl = timelineState.tl, canvas = $('timeline');
    var rect = canvas.getBoundingClientRect();
    var x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    var end = tl.units.reduce(function (a, u) { return Math.max(a, u[2]); }, 0) || 1;
    var t = (x - 90) / (rect.width - 102) * end, row = Math.floor((y - 8) / 24);
    var hit = tl.units.find(function (u) { return u[0] === row && u[1] <= t && t <= u[2]; });
    if (!hit) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.textContent = hit[4] + ' on ' + tl.devices[hit[0]] + ': ' + fmt(hit[1], 2) + '–' + fmt(hit[2], 2) + ' s' + (hit[3] & 1 ? ' (stolen)' : '') + (hit[3] & 2 ? ' (backup)' : '');
    tip.style.left = Math.min(x + 12, rect.width - 200) + 'px'; tip.style.top = (y + 12) + 'px';
  }
  $('timeline').addEventListener('mousemove', timelineTip);
  $('timeline').addEventListener('mouseleave', function () { $('timeline-tip').hidden = true; });

  // ------------------------------------------------------------------ metrics charts
  var charts = {};
  var CHARTS = [['chart-throughput', 'sequences_per_s', 'frames/s'], ['chart-utilization', 'utilization_pct', '%'], ['chart-memory', 'memory_used_mib', 'MiB']];
  function renderMetrics(series) {
    if (!series || series.devices.length === 0) {
      $('metrics-note').textContent = data.mode === 'live' ? 'Waiting for the first sample.' : 'No samples (gpu_metrics.log is missing or empty).';
      return;
    }
    $('metrics-note').textContent = (data.mode === 'live' ? 'Live samples' : 'From gpu_metrics.log') + (series.rows ? ': ' + fmt(series.rows) + ' rows' : '') +
      (series.bucketS > 2 ? ', averaged over ' + fmt(series.bucketS, 0) + ' s per point' : '') + '. Time in seconds since the first sample.';
    CHARTS.forEach(function (c) {
      var node = $(c[0]);
      var tables = series.devices.map(function (d) { return [d.t, d.values[c[1]]]; });
      var aligned = tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables);
      var ch = charts[c[0]];
      if (ch && ch.series.length === series.devices.length + 1) { ch.setData(aligned); return; }
      if (ch) ch.destroy();
      node.textContent = '';
      charts[c[0]] = new uPlot({
        width: chartWidth(node), height: 180,
        // One sample so far: a short axis, not uPlot's default 0-100.
        scales: { x: { time: false, range: function (u) {
          var x = u.data[0], a = x.length ? x[0] : 0, b = x.length ? x[x.length - 1] : 0;
          return [a, b > a ? b : a + 10];
        } } },
        axes: [{ label: 's' }, { label: c[2], size: 60 }],
        series: [{ label: 's' }].concat(series.devices.map(function (d, i) {
          return { label: d.device, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true };
        })),
      }, aligned, node);
    });
  }

  // ------------------------------------------------------------------ notes
  function renderNotes(notes) {
    var list = $('notes');
    list.textContent = '';
    (notes || []).forEach(function (n) { list.appendChild(el('li', { text: n })); });
    $('notes-section').hidden = !notes || notes.length === 0;
  }

  // ------------------------------------------------------------------ live mode
  function startLive() {
    $('live').hidden = false;
    ['verdicts', 'tracks-section', 'records'].forEach(function (id) { $(id).hidden = true; });
    renderNotes(['Verdicts, score tracks and the record table appear in report.html, written to the output directory when the run finishes.']);
    var units = [];
    var t0 = null;
    var metrics = { t0: null, bucketS: 0, rows: 0, devices: [] };
    var updates = 0;
    function timeline() {
      if (units.length === 0) return null;
      var devices = units.map(function (u) { return u.device; }).filter(function (d, i, a) { return a.indexOf(d) === i; }).sort();
      return { t0: t0, devices: devices, total: units.length, truncated: false, units: units.map(function (u) {
        return [devices.indexOf(u.device), (u.start - t0) / 1000, (u.end - t0) / 1000, (u.stolen ? 1 : 0) | (u.backup ? 2 : 0), u.unit];
      }) };
    }
    function addUnit(u) {
      units.push(u);
      if (units.length > 20000) units.shift();
      t0 = t0 === null ? u.start : Math.min(t0, u.start);
    }
    function addMetrics(sample) {
      if (metrics.t0 === null) metrics.t0 = sample.t;
      metrics.rows += sample.rows.length;
      sample.rows.forEach(function (r) {
        var d = metrics.devices.find(function (x) { return x.device === r.device; });
        if (!d) { d = { device: r.device, t: [], values: { sequences_per_s: [], tokens_per_s: [], utilization_pct: [], memory_pct: [], memory_used_mib: [] } }; metrics.devices.push(d); }
        d.t.push((sample.t - metrics.t0) / 1000);
        d.values.sequences_per_s.push(r.sequencesPerS);
        d.values.tokens_per_s.push(r.tokensPerS);
        d.values.utilization_pct.push(r.utilizationPct === undefined ? null : r.utilizationPct);
        d.values.memory_pct.push(r.memoryPct === undefined ? null : r.memoryPct);
        d.values.memory_used_mib.push(r.memoryUsedMiB === undefined ? null : r.memoryUsedMiB);
        if (d.t.length > 1800) { d.t.shift(); Object.keys(d.values).forEach(function (k) { d.values[k].shift(); }); }
      });
    }
    function showSnapshot(s) {
      if (!s) return;
      $('live-shards-done').textContent = fmt(s.shardsDone);
      $('live-shards-total').textContent = fmt(s.shardsTotal);
      var pct = s.costTotal > 0 ? 100 * s.costDone / s.costTotal : 0;
      $('live-percent').textContent = pct.toFixed(1);
      $('live-bar').style.width = pct.toFixed(1) + '%';
      $('live-elapsed').textContent = fmt(s.elapsedS, 1);
      $('live-steals').textContent = fmt(s.steals);
      renderDevicesTable(s.devices, LIVE_DEVICE_COLUMNS);
    }
    function showStage(stage) { $('live-stage').textContent = stage || 'starting'; }
    function showFinished(f) {
      if (!f) return;
      $('live-finished').hidden = false;
      $('live-finished').textContent = f.message;
      showStage('finished');
    }
    function counted() { updates++; $('live-updates').textContent = String(updates); }
    var source = new EventSource('events');
    source.addEventListener('open', function () { $('live-connection').textContent = 'connected'; });
    source.addEventListener('error', function () {
      $('live-connection').textContent = source.readyState === 2 ? 'disconnected (the run has ended)' : 'reconnecting…';
    });
    source.addEventListener('state', function (e) {
      var s = JSON.parse(e.data);
      counted();
      if (s.run) { run = s.run; params = run.parameters || params; renderSummary(); }
      showStage(s.stage);
      units = []; t0 = null;
      (s.units || []).forEach(addUnit);
      metrics = { t0: null, bucketS: 0, rows: 0, devices: [] };
      (s.metrics || []).forEach(addMetrics);
      showSnapshot(s.snapshot);
      drawTimeline(timeline(), []);
      renderMetrics(metrics);
      showFinished(s.finished);
    });
    source.addEventListener('stage', function (e) { counted(); showStage(JSON.parse(e.data).stage); });
    source.addEventListener('snapshot', function (e) { counted(); showSnapshot(JSON.parse(e.data)); });
    source.addEventListener('unit', function (e) { counted(); addUnit(JSON.parse(e.data)); drawTimeline(timeline(), []); });
    source.addEventListener('metrics', function (e) { counted(); addMetrics(JSON.parse(e.data)); renderMetrics(metrics); });
    source.addEventListener('finished', function (e) { counted(); showFinished(JSON.parse(e.data)); source.close(); });
  }

  // ------------------------------------------------------------------ start
  renderSummary();
  renderNotes(data.notes);
  if (data.mode === 'live') {
    startLive();
  } else {
    renderVerdicts();
    renderTracks();
    renderTable();
    renderDevicesTable(run.devices || [], REPORT_DEVICE_COLUMNS);
    drawTimeline(data.timeline, run.steals || []);
    renderMetrics(data.metrics);
  }
  document.body.setAttribute('data-ready', 'true');
})();
