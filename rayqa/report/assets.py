"""The page's own style and script (plotly.js is inlined beside them, once). No network: nothing
here loads anything."""

CSS = r"""
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --accent:#2f5bd3; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0;
       background: var(--bg); }
header { background: #111827; color: #fff; padding: 14px 24px; position: sticky; top: 0; z-index: 5; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header nav a { color: #c7d2fe; margin-right: 14px; text-decoration: none; font-size: 13px; }
main { padding: 8px 24px 40px; max-width: 1500px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 10px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 8px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; background: #fcfcfd; }
.card b { display: block; font-size: 20px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0 8px; }
.controls input, .controls select, .controls button { font: inherit; padding: 2px 6px; }
.pager { margin: 6px 0; color: var(--muted); }
.timeline { position: relative; height: 14px; min-width: 360px; background: #eef0f4; border-radius: 3px; }
.timeline span { position: absolute; top: 1px; height: 12px; min-width: 2px; border-radius: 2px; opacity: .9; }
.timeline span.sup { opacity: .35; background-image: repeating-linear-gradient(45deg, transparent 0 3px, #fff 3px 5px); }
.ev { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 8px 0; background: #fcfcfd; }
.ev .head { font-weight: 600; }
.strip { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; align-items: flex-end; }
.strip figure { margin: 0; font-size: 11px; color: var(--muted); text-align: center; }
.strip figure.inside img { outline: 2px solid #f04438; }
.strip figure.peak img { outline: 3px solid #f04438; }
img.spectrogram { image-rendering: pixelated; border: 1px solid #333; }
.note { color: #b54708; }
.unavail { color: #b42318; font-weight: 600; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eef4ff; color: #3538cd; }
.badge.failed, .badge.out_of_sync { background: #fef3f2; color: #b42318; }
.badge.ok, .badge.in_sync { background: #ecfdf3; color: #067647; }
.badge.inconclusive { background: #fffaeb; color: #b54708; }
details > summary { cursor: pointer; }
code { font-size: 12px; }
"""

JS = r"""
(function () {
  const D = JSON.parse(document.getElementById('rayqa-data').textContent);
  const COLORS = JSON.parse(document.getElementById('rayqa-colors').textContent);
  const I = D.items, F = D.findings;
  const esc = s => String(s == null ? '' : s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  const fmt = (v, d) => v == null ? '-' : Number(v).toFixed(d);
  const byItem = I.id.map(() => []);
  for (let k = 0; k < F.item.length; k++) byItem[F.item[k]].push(k);

  function timeline(i) {
    const dur = I.dur[i] || Math.max(1, ...byItem[i].map(k => F.e[k]));
    let h = '<div class="timeline" title="' + esc(I.id[i]) + ': 0-' + fmt(dur, 1) + ' s">';
    for (const k of byItem[i]) {
      const left = Math.max(0, Math.min(100, 100 * F.s[k] / dur));
      const width = Math.max(0.3, Math.min(100 - left, 100 * (F.e[k] - F.s[k]) / dur));
      const d = D.defects[F.defect[k]];
      h += '<span class="' + (F.sup[k] >= 0 ? 'sup' : '') + '" style="left:' + left.toFixed(2) + '%;width:' +
        width.toFixed(2) + '%;background:' + (COLORS[d] || '#888') + '" title="' + esc(d) + ' ' + fmt(F.s[k], 2) +
        '-' + fmt(F.e[k], 2) + ' s' + (F.sup[k] >= 0 ? ' (suppressed: ' + esc(D.rules[F.sup[k]]) + ')' : '') + '"></span>';
    }
    return h + '</div>';
  }

  function pager(root, size, rows, header, render) {
    let page = 0, list = [];
    const info = root.querySelector('.pager'), body = root.querySelector('tbody');
    root.querySelector('thead').innerHTML = header;
    function draw() {
      const pages = Math.max(1, Math.ceil(list.length / size));
      page = Math.min(page, pages - 1);
      const part = list.slice(page * size, (page + 1) * size);
      body.innerHTML = part.map(render).join('');
      info.textContent = list.length + ' rows; page ' + (page + 1) + ' of ' + pages;
    }
    function refresh() { list = rows(); page = 0; draw(); }
    root.querySelector('.prev').onclick = () => { if (page > 0) { page--; draw(); } };
    root.querySelector('.next').onclick = () => { page++; draw(); };
    root.querySelectorAll('input,select').forEach(el => el.addEventListener('input', refresh));
    refresh();
    return refresh;
  }

  // Items, with a timeline each (only the visible page is drawn).
  const it = document.getElementById('items-table');
  if (it) {
    const q = it.querySelector('.q'), st = it.querySelector('.status'), only = it.querySelector('.only'),
          av = it.querySelector('.av'), sort = it.querySelector('.sort');
    pager(it, 50, () => {
      const text = q.value.toLowerCase();
      let out = [];
      for (let i = 0; i < I.id.length; i++) {
        if (text && !I.id[i].toLowerCase().includes(text)) continue;
        if (st.value && I.status[i] !== st.value) continue;
        if (only.checked && I.n[i] === 0) continue;
        if (av.value && I.av[i] !== av.value) continue;
        out.push(i);
      }
      if (sort.value === 'findings') out.sort((a, b) => I.n[b] - I.n[a] || (I.id[a] < I.id[b] ? -1 : 1));
      return out;
    }, '<tr><th>item</th><th>status</th><th class="num">duration s</th><th class="num">findings</th>' +
       '<th class="num">suppressed</th><th>AV sync</th><th>timeline</th><th>error</th></tr>',
    i => '<tr><td>' + esc(I.id[i]) + '</td><td><span class="badge ' + esc(I.status[i]) + '">' + esc(I.status[i]) +
      '</span></td><td class="num">' + fmt(I.dur[i], 1) + '</td><td class="num">' + I.n[i] + '</td><td class="num">' +
      I.ns[i] + '</td><td>' + (I.av[i] ? '<span class="badge ' + esc(I.av[i]) + '">' + esc(I.av[i]) + '</span> ' +
      (I.off[i] == null ? '' : fmt(I.off[i], 0) + ' ms') : '') + '</td><td>' + timeline(i) + '</td><td>' +
      esc(I.err[i] || '') + '</td></tr>');
  }

  // Findings, filterable; the suppressed ones in a table of their own.
  function findingsTable(id, suppressed) {
    const root = document.getElementById(id);
    if (!root) return;
    const fd = root.querySelector('.defect'), fdet = root.querySelector('.detector'), q = root.querySelector('.q'),
          ms = root.querySelector('.minscore'), sort = root.querySelector('.sort'), rule = root.querySelector('.rule');
    pager(root, 100, () => {
      const text = q.value.toLowerCase(), min = parseFloat(ms.value) || 0;
      let out = [];
      for (let k = 0; k < F.item.length; k++) {
        if ((F.sup[k] >= 0) !== suppressed) continue;
        if (fd.value !== '' && F.defect[k] !== +fd.value) continue;
        if (fdet.value !== '' && F.detector[k] !== +fdet.value) continue;
        if (rule && rule.value !== '' && F.sup[k] !== +rule.value) continue;
        if (F.score[k] < min) continue;
        if (text && !I.id[F.item[k]].toLowerCase().includes(text)) continue;
        out.push(k);
      }
      const by = sort.value;
      out.sort((a, b) => by === 'score' ? (F.score[b] - F.score[a]) :
        (I.id[F.item[a]] < I.id[F.item[b]] ? -1 : I.id[F.item[a]] > I.id[F.item[b]] ? 1 : F.s[a] - F.s[b]));
      return out;
    }, '<tr><th>item</th><th>defect</th><th>detector</th><th class="num">start s</th><th class="num">end s</th>' +
       '<th class="num">score</th>' + (suppressed ? '<th>suppressed by</th>' : '') + '<th>evidence</th><th>details</th></tr>',
    k => '<tr><td>' + esc(I.id[F.item[k]]) + '</td><td>' + esc(D.defects[F.defect[k]]) + '</td><td>' +
      esc(D.detectors[F.detector[k]]) + '</td><td class="num">' + fmt(F.s[k], 2) + '</td><td class="num">' +
      fmt(F.e[k], 2) + '</td><td class="num">' + fmt(F.score[k], 2) + '</td>' +
      (suppressed ? '<td>' + esc(D.rules[F.sup[k]]) + '</td>' : '') + '<td>' +
      (F.ev[k] >= 0 ? '<a href="#ev-' + F.ev[k] + '">evidence</a>' : '') + '</td><td><code>' + esc(F.det[k]) +
      '</code></td></tr>');
  }
  findingsTable('findings-table', false);
  findingsTable('suppressed-table', true);
  document.body.setAttribute('data-rayqa-ready', '1');
  document.body.setAttribute('data-rayqa-ms', String(Math.round(performance.now())));
})();
"""
