/* trackkit report: renders the page from the JSON in #tk-data (no external resources). */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('tk-data').textContent);
  var THUMBS = D.thumbs || {};
  var PALETTE = ['#2f6fdf', '#e8772e', '#2e9e4f', '#c23b8a', '#7a5cd6', '#a07a12', '#1aa3a3',
    '#d64545', '#5a6b84', '#8bb33a'];
  var SVGNS = 'http://www.w3.org/2000/svg';

  function el(tag, attrs) {
    var node = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      if (k === 'text') { node.textContent = a[k]; }
      else if (k === 'cls') { node.className = a[k]; }
      else if (k.slice(0, 2) === 'on') { node.addEventListener(k.slice(2), a[k]); }
      else { node.setAttribute(k, a[k]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var kid = arguments[i];
      if (kid === null || kid === undefined) { continue; }
      node.appendChild(typeof kid === 'string' ? document.createTextNode(kid) : kid);
    }
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function pct(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) { return 'nan'; }
    return (100 * v).toFixed(digits === undefined ? 3 : digits);
  }
  function colour(i) { return PALETTE[i % PALETTE.length]; }
  function idColour(id) {
    var h = ((id * 2654435761) >>> 0) % 360;
    return 'hsl(' + h + ',62%,' + (42 + (id % 3) * 8) + '%)';
  }

  /* ---------- sortable tables ---------- */
  function sortable(table) {
    var heads = table.querySelectorAll('th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var desc = !th.classList.contains('sorted-desc');
        heads.forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
        th.classList.add(desc ? 'sorted-desc' : 'sorted-asc');
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute('data-sort') || a.cells[col].textContent;
          var y = b.cells[col].getAttribute('data-sort') || b.cells[col].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    return table;
  }
  /* columns: [{title, txt}], rows: [[{text, sort, attrs}], ...] */
  function makeTable(id, columns, rows, onPick) {
    var head = el('tr');
    columns.forEach(function (c) { head.appendChild(el('th', { cls: c.txt ? 'txt' : '', text: c.title })); });
    var body = el('tbody');
    rows.forEach(function (r) {
      var tr = el('tr', r.cls ? { cls: r.cls } : {});
      if (r.key) { tr.setAttribute('data-key', r.key); }
      r.cells.forEach(function (c, i) {
        var attrs = Object.assign({}, c.attrs || {});
        if (columns[i].txt) { attrs.cls = 'txt'; }
        if (c.sort !== undefined) { attrs['data-sort'] = c.sort; }
        attrs.text = c.text;
        tr.appendChild(el('td', attrs));
      });
      if (onPick) {
        tr.classList.add('pick');
        tr.addEventListener('click', function () {
          Array.prototype.forEach.call(tr.parentNode.rows, function (o) { o.classList.remove('active'); });
          tr.classList.add('active');
          onPick(r.data);
        });
      }
      body.appendChild(tr);
    });
    var attrs = { cls: 'tk' };
    if (id) { attrs.id = id; }
    return sortable(el('table', attrs, el('thead', {}, head), body));
  }

  /* ---------- line plots (inline SVG) ---------- */
  function plot(o) {
    var W = o.width || 440, H = o.height || 280, L = 46, R = 12, T = 24, B = 38;
    var s = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'plot' });
    var xmin = o.xmin, xmax = o.xmax, ymin = o.ymin, ymax = o.ymax;
    function X(v) { return L + (v - xmin) / ((xmax - xmin) || 1) * (W - L - R); }
    function Y(v) { return H - B - (v - ymin) / ((ymax - ymin) || 1) * (H - T - B); }
    s.appendChild(svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B, fill: '#fff', stroke: '#999' }));
    for (var k = 0; k <= 5; k++) {
      var xv = xmin + (xmax - xmin) * k / 5, yv = ymin + (ymax - ymin) * k / 5;
      s.appendChild(svg('line', { x1: X(xv), x2: X(xv), y1: T, y2: H - B, stroke: '#eee' }));
      s.appendChild(svg('line', { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), stroke: '#eee' }));
      var tx = svg('text', { x: X(xv), y: H - B + 14, 'text-anchor': 'middle' });
      tx.textContent = (xmax - xmin) > 10 ? String(Math.round(xv)) : String(+xv.toFixed(2));
      s.appendChild(tx);
      var ty = svg('text', { x: L - 4, y: Y(yv) + 4, 'text-anchor': 'end' });
      ty.textContent = +yv.toFixed(2);
      s.appendChild(ty);
    }
    var title = svg('text', { x: L, y: 15, 'font-weight': 'bold' });
    title.textContent = o.title || '';
    s.appendChild(title);
    var xl = svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle' });
    xl.textContent = o.xlabel || '';
    s.appendChild(xl);
    var yl = svg('text', { x: 12, y: (T + H - B) / 2, transform: 'rotate(-90 12 ' + (T + H - B) / 2 + ')', 'text-anchor': 'middle' });
    yl.textContent = o.ylabel || '';
    s.appendChild(yl);
    (o.series || []).forEach(function (se) {
      var pts = [];
      for (var i = 0; i < se.x.length; i++) {
        if (se.y[i] === null || !isFinite(se.y[i])) { continue; }
        pts.push(X(se.x[i]).toFixed(1) + ',' + Y(se.y[i]).toFixed(1));
      }
      var line = svg('polyline', { points: pts.join(' '), fill: 'none', stroke: se.color,
        'stroke-width': se.width || 2, 'stroke-dasharray': se.dash || '' });
      var t = svg('title', {});
      t.textContent = se.name;
      line.appendChild(t);
      s.appendChild(line);
    });
    (o.marks || []).forEach(function (m) {
      var c = svg('circle', { cx: X(m.x), cy: Y(m.y), r: 3.5, fill: m.color || '#d64545', stroke: '#fff',
        'class': 'mark', style: m.onclick ? 'cursor:pointer' : '' });
      var t = svg('title', {});
      t.textContent = m.title || '';
      c.appendChild(t);
      if (m.onclick) { c.addEventListener('click', m.onclick); }
      s.appendChild(c);
    });
    var ly = T + 6;
    (o.series || []).forEach(function (se) {
      if (!se.label) { return; }
      s.appendChild(svg('line', { x1: o.legendX || L + 8, x2: (o.legendX || L + 8) + 16, y1: ly + 6, y2: ly + 6,
        stroke: se.color, 'stroke-width': 2, 'stroke-dasharray': se.dash || '' }));
      var lt = svg('text', { x: (o.legendX || L + 8) + 20, y: ly + 10 });
      lt.textContent = se.label;
      s.appendChild(lt);
      ly += 14;
    });
    return s;
  }

  /* ---------- the thumbnail viewer of a section ---------- */
  function viewer(id) {
    var img = el('img', { alt: '' });
    img.style.display = 'none';
    var cap = el('div', { cls: 'cap', text: 'Click a row to see the moment.' });
    var box = el('div', { cls: 'viewer card', id: id }, img, cap);
    box.show = function (key, caption) {
      if (key && THUMBS[key]) {
        img.src = THUMBS[key];
        img.style.display = 'block';
        cap.textContent = caption;
      } else {
        img.removeAttribute('src');
        img.style.display = 'none';
        cap.textContent = caption + ' (no frame image for this moment)';
      }
    };
    return box;
  }
  function select(id, options, onChange) {
    var s = el('select', { id: id });
    options.forEach(function (o) { s.appendChild(el('option', { value: o, text: o })); });
    s.addEventListener('change', function () { onChange(s.value); });
    return s;
  }

  /* ---------- MOT ---------- */
  function motSection(sec, root) {
    root.appendChild(el('h2', { id: 'mot', text: 'MOT: ' + sec.trackers.length + ' tracker(s) on ' +
      sec.sequences.length + ' sequence(s)' }));
    root.appendChild(el('div', { cls: 'note', text: 'Ground truth ' + sec.gt + '; benchmark ' +
      sec.trackers[0].metrics.benchmark + '. Same values as `trackkit eval mot` (percent; counts as integers). ' +
      'Click a column to sort.' }));
    var fields = sec.fields;
    var cols = [{ title: 'tracker', txt: true }, { title: 'sequence', txt: true }];
    fields.forEach(function (f) { cols.push({ title: sec.headers[f] || f }); });
    var rows = [];
    var seqNames = sec.sequences.map(function (s) { return s.name; });
    ['COMBINED'].concat(seqNames).forEach(function (seq) {
      sec.trackers.forEach(function (tr) {
        var m = seq === 'COMBINED' ? tr.metrics.combined : tr.metrics.sequences[seq];
        var cells = [{ text: tr.name }, { text: seq }];
        fields.forEach(function (f) {
          var v = m[f];
          var isInt = sec.int_fields.indexOf(f) >= 0;
          cells.push({ text: isInt ? String(v) : pct(v), sort: String(v),
            attrs: { 'data-key': f, 'data-value': JSON.stringify(v), 'data-tracker': tr.name, 'data-seq': seq } });
        });
        rows.push({ cells: cells, cls: seq === 'COMBINED' ? 'combined' : '' });
      });
    });
    root.appendChild(el('div', { cls: 'scroll' }, makeTable('mot-summary', cols, rows)));

    // HOTA / DetA / AssA over alpha
    root.appendChild(el('h3', { text: 'HOTA, DetA and AssA over the localisation threshold alpha' }));
    var alphaBox = el('div', { cls: 'row' });
    var alphaSel = select('mot-alpha-seq', ['COMBINED'].concat(seqNames), drawAlpha);
    root.appendChild(el('label', { cls: 'ctl' }, 'sequence ', alphaSel));
    root.appendChild(alphaBox);
    function drawAlpha(seq) {
      alphaBox.textContent = '';
      ['HOTA', 'DetA', 'AssA'].forEach(function (metric) {
        var series = sec.trackers.map(function (tr, i) {
          var y = tr.alpha[seq][metric];
          var mean = y.reduce(function (a, b) { return a + b; }, 0) / y.length;
          return { name: tr.name, label: tr.name + ' (' + pct(mean, 1) + ')', x: sec.alphas, y: y, color: colour(i) };
        });
        alphaBox.appendChild(plot({ title: metric + ' (' + seq + ')', xlabel: 'alpha (IoU threshold)', ylabel: metric,
          xmin: 0, xmax: 1, ymin: 0, ymax: 1, series: series, width: 380, height: 260, legendX: 230 }));
      });
    }
    drawAlpha('COMBINED');

    // per-sequence explorer
    root.appendChild(el('h3', { text: 'Where it goes wrong: per sequence and tracker' }));
    var seqSel = select('mot-seq', seqNames, draw);
    var trSel = select('mot-tracker', sec.trackers.map(function (t) { return t.name; }), draw);
    root.appendChild(el('div', {}, el('label', { cls: 'ctl' }, 'sequence ', seqSel), el('label', { cls: 'ctl' }, 'tracker ', trSel)));
    var view = viewer('mot-viewer');
    var tip = el('div', { cls: 'tip', id: 'mot-tip' });
    var timelineBox = el('div', { id: 'mot-timeline' });
    var lists = el('div', { cls: 'row', id: 'mot-lists' });
    var legend = el('div', { cls: 'legend' },
      el('span', {}, el('i', { style: 'background:#e5e7eb' }), 'missed (annotated, no match)'),
      el('span', {}, el('i', { style: 'background:hsl(200,62%,45%)' }), 'matched (colour = tracker id)'),
      el('span', {}, el('i', { style: 'background:#111' }), 'identity switch'),
      el('span', {}, el('i', { style: 'background:#d64545' }), 'fragmentation (tracking resumes)'));
    root.appendChild(el('div', { cls: 'row' }, el('div', { cls: 'tl' }, legend, timelineBox, tip), view));
    root.appendChild(lists);
    function draw() {
      var seq = seqSel.value;
      var tr = sec.trackers.filter(function (t) { return t.name === trSel.value; })[0];
      var info = sec.sequences.filter(function (s) { return s.name === seq; })[0];
      var ev = tr.sequences[seq];
      drawTimeline(ev, info, tr);
      lists.textContent = '';
      var base = tr.name + ' / ' + seq;
      var c = ev.counts;
      var sw = ev.idsw.map(function (e, k) {
        return { data: e, key: 'sw' + k, cells: [{ text: String(e[0]) }, { text: String(e[1]) }, { text: String(e[2]) }, { text: String(e[3]) },
          { text: String(e[4]) }, { text: e[5] ? '\u25CF' : '', sort: e[5] ? '1' : '0' }], cls: e[5] ? 'has-thumb' : '' };
      });
      lists.appendChild(el('div', { cls: 'card' }, el('h3', { text: 'Identity switches (' + c.idsw + ')' }),
        el('div', { cls: 'scroll' }, makeTable('mot-idsw', [{ title: 'frame' }, { title: 'gt id' }, { title: 'from id' },
          { title: 'to id' }, { title: 'prev. match' }, { title: 'img' }], sw, function (e) {
          view.show(e[5], base + ': frame ' + e[0] + ', gt ' + e[1] + ' switches from id ' + e[2] + ' to id ' + e[3] +
            ' (green: ground truth, orange: new id, blue: old id)');
        }))));
      var fr = ev.frag.map(function (e, k) {
        return { data: e, key: 'fr' + k, cells: [{ text: String(e[0]) }, { text: String(e[1]) }, { text: String(e[2]) }, { text: String(e[3]) },
          { text: String(e[4]) }, { text: e[5] ? '\u25CF' : '', sort: e[5] ? '1' : '0' }], cls: e[5] ? 'has-thumb' : '' };
      });
      lists.appendChild(el('div', { cls: 'card' }, el('h3', { text: 'Fragmentations (' + c.frag + ')' }),
        el('div', { cls: 'scroll' }, makeTable('mot-frag', [{ title: 'frame' }, { title: 'gt id' }, { title: 'id' },
          { title: 'last match' }, { title: 'gap' }, { title: 'img' }], fr, function (e) {
          view.show(e[5], base + ': frame ' + e[0] + ', gt ' + e[1] + ' tracked again by id ' + e[2] + ' after ' + e[4] +
            ' frame(s) (last match frame ' + e[3] + ')');
        }))));
      var fp = ev.fp.map(function (e) {
        return { data: e, cells: [{ text: String(e[0]) }, { text: String(e[1]) }, { text: String(e[2]) }, { text: String(e[3]) },
          { text: String(e[4]) }, { text: e[6] ? '\u25CF' : '', sort: e[6] ? '1' : '0' }], cls: e[6] ? 'has-thumb' : '' };
      });
      lists.appendChild(el('div', { cls: 'card' }, el('h3', { text: 'False-positive tracks (' + c.fp_tracks + ')' }),
        el('div', { cls: 'scroll' }, makeTable('mot-fp', [{ title: 'id' }, { title: 'unmatched' }, { title: 'boxes' },
          { title: 'first' }, { title: 'last' }, { title: 'img' }], fp, function (e) {
          view.show(e[6], base + ': id ' + e[0] + ', ' + e[1] + ' of ' + e[2] + ' boxes unmatched, frames ' + e[3] + '-' + e[4] +
            (e[5] ? ' (shown: frame ' + e[5] + ')' : ''));
        }))));
    }
    function drawTimeline(ev, info, tr) {
      timelineBox.textContent = '';
      var rowsN = ev.timeline.length;
      var rowH = Math.max(2, Math.min(8, Math.floor(560 / Math.max(1, rowsN))));
      var W = 900, H = Math.max(20, rowsN * rowH);
      var cv = el('canvas', { cls: 'timeline', width: W, height: H });
      timelineBox.appendChild(el('div', { cls: 'note', text: 'Timeline of the ' + rowsN + ' ground-truth identities of ' + info.name +
        ' (' + info.frames + ' frames), one row each, for ' + tr.name + '.' }));
      timelineBox.appendChild(cv);
      var ctx = cv.getContext('2d');
      var sx = W / info.frames;
      var rowOf = {};
      ev.timeline.forEach(function (item, r) {
        rowOf[item[0]] = r;
        var runs = item[1];
        for (var k = 0; k < runs.length; k += 3) {
          ctx.fillStyle = runs[k + 2] < 0 ? '#e5e7eb' : idColour(runs[k + 2]);
          ctx.fillRect((runs[k] - 1) * sx, r * rowH, Math.max(1, (runs[k + 1] - runs[k] + 1) * sx), rowH - (rowH > 3 ? 1 : 0));
        }
      });
      ctx.fillStyle = '#d64545';
      ev.frag.forEach(function (e) { if (rowOf[e[1]] !== undefined) { ctx.fillRect((e[0] - 1) * sx, rowOf[e[1]] * rowH - 1, 2, rowH + 1); } });
      ctx.fillStyle = '#111';
      ev.idsw.forEach(function (e) { if (rowOf[e[1]] !== undefined) { ctx.fillRect((e[0] - 1) * sx - 1, rowOf[e[1]] * rowH - 2, 3, rowH + 3); } });
      cv.addEventListener('mousemove', function (evt) {
        var rect = cv.getBoundingClientRect();
        var r = Math.floor((evt.clientY - rect.top) / rowH);
        var f = Math.floor((evt.clientX - rect.left) / sx) + 1;
        var item = ev.timeline[r];
        if (!item) { tip.textContent = ''; return; }
        var state = 'not annotated';
        for (var k = 0; k < item[1].length; k += 3) {
          if (item[1][k] <= f && f <= item[1][k + 1]) { state = item[1][k + 2] < 0 ? 'missed' : 'matched to id ' + item[1][k + 2]; }
        }
        tip.textContent = 'gt ' + item[0] + ', frame ' + f + ': ' + state;
      });
      // a click near a switch or fragmentation mark selects it in its list (and shows it)
      cv.addEventListener('click', function (evt) {
        var rect = cv.getBoundingClientRect();
        var item = ev.timeline[Math.floor((evt.clientY - rect.top) / rowH)];
        var f = (evt.clientX - rect.left) / sx + 1;
        if (!item) { return; }
        var best = null, dist = Math.max(3, 6 / sx);
        [['sw', ev.idsw], ['fr', ev.frag]].forEach(function (kind) {
          kind[1].forEach(function (e, k) {
            if (e[1] === item[0] && Math.abs(e[0] - f) <= dist) { dist = Math.abs(e[0] - f); best = kind[0] + k; }
          });
        });
        var row = best && lists.querySelector('tr[data-key="' + best + '"]');
        if (row) { row.click(); row.scrollIntoView({ block: 'nearest' }); }
      });
    }
    draw();
  }

  /* ---------- SOT ---------- */
  function sotSection(sec, root) {
    root.appendChild(el('h2', { id: 'sot', text: 'SOT: ' + sec.trackers.length + ' tracker(s) on ' + sec.sequences.length + ' sequence(s)' }));
    root.appendChild(el('div', { cls: 'note', text: 'One-pass evaluation (OTB): success = IoU > t; precision = centre error <= t px. ' +
      'Same values as `trackkit eval sot`.' }));
    var box = el('div', { cls: 'row' });
    var succ = sec.trackers.map(function (t, i) {
      var s = sec.summary[t];
      return { name: t, label: t + ' [' + s.success_auc.toFixed(3) + ']', x: sec.success_thresholds, y: s.success, color: colour(i) };
    });
    var prec = sec.trackers.map(function (t, i) {
      var s = sec.summary[t];
      return { name: t, label: t + ' [' + s.precision_20px.toFixed(3) + ']', x: sec.precision_thresholds, y: s.precision, color: colour(i) };
    });
    box.appendChild(plot({ title: 'Success plot (AUC)', xlabel: 'overlap threshold', ylabel: 'success rate', xmin: 0, xmax: 1, ymin: 0, ymax: 1,
      series: succ, legendX: 60 }));
    box.appendChild(plot({ title: 'Precision plot (at 20 px)', xlabel: 'location error threshold (px)', ylabel: 'precision', xmin: 0, xmax: 50,
      ymin: 0, ymax: 1, series: prec, legendX: 250 }));
    root.appendChild(box);
    var cols = [{ title: 'sequence', txt: true }, { title: 'frames' }];
    sec.trackers.forEach(function (t) { cols.push({ title: t + ' AUC' }); cols.push({ title: t + ' P@20' }); cols.push({ title: t + ' lost' }); });
    var rows = [];
    var meanCells = [{ text: 'mean' }, { text: '' }];
    sec.trackers.forEach(function (t) {
      var s = sec.summary[t];
      meanCells.push({ text: pct(s.success_auc, 2), attrs: { 'data-value': JSON.stringify(s.success_auc) } });
      meanCells.push({ text: pct(s.precision_20px, 2), attrs: { 'data-value': JSON.stringify(s.precision_20px) } });
      meanCells.push({ text: '' });
    });
    rows.push({ cells: meanCells, cls: 'combined' });
    sec.sequences.forEach(function (sq) {
      var cells = [{ text: sq.name }, { text: String(sq.frames) }];
      sec.trackers.forEach(function (t) {
        var r = sq.runs[t];
        if (!r) { cells.push({ text: '' }, { text: '' }, { text: '' }); return; }
        cells.push({ text: pct(r.success_auc, 2), attrs: { 'data-value': JSON.stringify(r.success_auc) } });
        cells.push({ text: pct(r.precision_20px, 2), attrs: { 'data-value': JSON.stringify(r.precision_20px) } });
        cells.push({ text: String(r.lost.length) });
      });
      rows.push({ cells: cells, data: sq.name });
    });
    root.appendChild(el('h3', { text: 'Per sequence (click a row)' }));
    var table = makeTable('sot-table', cols, rows, function (name) { if (name) { seqSel.value = name; draw(name); } });
    root.appendChild(el('div', { cls: 'scroll' }, table));
    var seqSel = select('sot-seq', sec.sequences.map(function (s) { return s.name; }), draw);
    root.appendChild(el('h3', {}, 'Per-frame IoU of ', seqSel));
    var plotBox = el('div', {});
    var view = viewer('sot-viewer');
    var lostBox = el('div', { cls: 'row', id: 'sot-lost' });
    root.appendChild(el('div', { cls: 'row' }, plotBox, view));
    root.appendChild(lostBox);
    function draw(name) {
      var sq = sec.sequences.filter(function (s) { return s.name === name; })[0];
      plotBox.textContent = '';
      lostBox.textContent = '';
      var series = [], marks = [];
      sec.trackers.forEach(function (t, i) {
        var r = sq.runs[t];
        if (!r) { return; }
        var x = r.iou.map(function (_, k) { return k + 1; });
        series.push({ name: t, label: t, x: x, y: r.iou, color: colour(i), width: 1.2 });
        r.lost.forEach(function (e) {
          marks.push({ x: e[0], y: 0, color: colour(i), title: t + ': lost at frame ' + e[0],
            onclick: function () { view.show(e[1], t + ' / ' + name + ': target lost at frame ' + e[0] + ' (green: ground truth, orange: tracker)'); } });
        });
        var lrows = r.lost.map(function (e) {
          return { data: e, cells: [{ text: String(e[0]) }, { text: String(e[2]) }, { text: e[1] ? '\u25CF' : '' }], cls: e[1] ? 'has-thumb' : '' };
        });
        lostBox.appendChild(el('div', { cls: 'card' }, el('h3', { text: t + ': target lost ' + r.lost.length + ' time(s)' }),
          el('div', { cls: 'scroll' }, makeTable(null, [{ title: 'frame' }, { title: 'frames lost' }, { title: 'img' }], lrows, function (e) {
            view.show(e[1], t + ' / ' + name + ': target lost at frame ' + e[0] + ' for ' + e[2] + ' frame(s) (green: ground truth, orange: tracker)');
          }))));
      });
      plotBox.appendChild(plot({ title: name + ': IoU per frame (dots: target lost)', xlabel: 'frame', ylabel: 'IoU', xmin: 1,
        xmax: Math.max(2, sq.frames), ymin: 0, ymax: 1, series: series, marks: marks, width: 820, height: 260, legendX: 700 }));
    }
    if (sec.sequences.length) { draw(sec.sequences[0].name); }
  }

  /* ---------- ReID ---------- */
  function reidSection(sec, root) {
    root.appendChild(el('h2', { id: 'reid', text: 'ReID: ' + sec.runs.length + ' evaluation(s)' }));
    var series = sec.runs.map(function (r, i) {
      var x = r.cmc.map(function (_, k) { return k + 1; });
      return { name: r.name, label: r.name + ' [R1 ' + pct(r.metrics.rank1, 1) + ']', x: x, y: r.cmc, color: colour(i) };
    });
    var maxRank = Math.max.apply(null, sec.runs.map(function (r) { return r.cmc.length; }));
    var cols = [{ title: 'model', txt: true }, { title: 'dataset', txt: true }, { title: 'rank-1' }, { title: 'rank-5' },
      { title: 'rank-10' }, { title: 'rank-20' }, { title: 'mAP' }, { title: 'mINP' }, { title: 'queries' }, { title: 'trials' }];
    var rows = sec.runs.map(function (r) {
      var cells = [{ text: r.name }, { text: r.dataset }];
      ['rank1', 'rank5', 'rank10', 'rank20', 'mAP', 'mINP'].forEach(function (k) {
        cells.push({ text: pct(r.metrics[k], 1), attrs: { 'data-key': k, 'data-value': JSON.stringify(r.metrics[k]) } });
      });
      cells.push({ text: String(r.queries) }, { text: String(r.trials) });
      return { cells: cells };
    });
    root.appendChild(el('div', { cls: 'row' }, plot({ title: 'CMC', xlabel: 'rank', ylabel: 'matching rate', xmin: 1, xmax: Math.max(2, maxRank),
      ymin: 0, ymax: 1, series: series, legendX: 200 }), el('div', {}, makeTable('reid-table', cols, rows))));
    sec.runs.forEach(function (r) {
      root.appendChild(el('h3', { text: r.name + ': the ' + r.worst.length + ' worst queries (lowest AP, trial 1) and their top-' +
        r.top + ' gallery images (green: same identity, red: another)' }));
      r.worst.forEach(function (q) {
        var g = el('div', { cls: 'gallery' });
        g.appendChild(el('figure', { cls: 'query' }, el('img', { src: THUMBS[q.thumb] || '', alt: 'query' }),
          el('figcaption', { text: 'q ' + q.pid + ' c' + q.cam + ' AP ' + pct(q.ap, 1) + ', 1st hit #' + q.first_hit })));
        g.appendChild(el('div', { cls: 'sep' }));
        q.gallery.forEach(function (m, k) {
          g.appendChild(el('figure', { cls: m.correct ? 'ok' : 'ko' }, el('img', { src: THUMBS[m.thumb] || '', alt: String(m.pid) }),
            el('figcaption', { text: (k + 1) + ': ' + m.pid + ' c' + m.cam })));
        });
        root.appendChild(g);
      });
    });
  }

  var main = document.getElementById('tk-main');
  var nav = document.getElementById('tk-nav');
  D.sections.forEach(function (sec) {
    var root = el('section', { cls: 'tk' });
    main.appendChild(root);
    nav.appendChild(el('a', { href: '#' + sec.kind, text: sec.kind.toUpperCase() }));
    if (sec.kind === 'mot') { motSection(sec, root); }
    else if (sec.kind === 'sot') { sotSection(sec, root); }
    else if (sec.kind === 'reid') { reidSection(sec, root); }
  });
  document.body.setAttribute('data-ready', '1');
}());
