// The HTML report's only script: a hover/focus tooltip for grid cells, read from the
// report JSON embedded in the page. It builds nodes with textContent, so token text
// is never parsed as HTML. Kept as plain ES2017 text: it is inlined, not bundled.
// The JSON is read at hover time, so the web app can run this script once and
// replace #bl-data after every analysis.

export const TOOLTIP_SCRIPT = String.raw`
(() => {
  let text, report;
  const current = () => {
    const t = document.getElementById('bl-data').textContent;
    if (t !== text) { text = t; report = JSON.parse(t); }
    return report;
  };
  const tip = document.getElementById('bl-tip');
  const num = (x) => typeof x !== 'number' ? '–' : x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
  const prob = (p) => p >= 1e-3 ? Number((p * 100).toPrecision(3)) + '%' : p.toExponential(1);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const list = (title, items) => {
    const box = el('div', undefined, 'tip-list');
    box.append(el('div', title, 'tip-head'));
    const table = el('table');
    for (const t of items || []) {
      const tr = el('tr');
      tr.append(el('td', JSON.stringify(t.text), 'tok'), el('td', prob(t.prob), 'p'));
      table.append(tr);
    }
    box.append(table);
    return box;
  };
  const show = (cell, x, y) => {
    const d = cell.dataset;
    const a = current().results[+d.p];
    const layer = a.layers[+d.l];
    const m = layer.modules[+d.m];
    const i = +d.i;
    const v = m[d.v][i];
    const name = d.v === 'x' ? 'x_i' : 'δ_i';
    const from = d.v === 'x' ? 'from the top' : 'from the bottom';
    tip.replaceChildren(
      el('div', 'layer ' + layer.layer + ' · token ' + (i + 1) + ' ' + JSON.stringify(a.tokens.concat(a.forced)[i].text) + ' · ' + m.module + ' ' + name, 'tip-title'),
      el('div', '‖x_i‖ = ' + num(m.x[i].norm) + '   ‖δ_i‖ = ' + num(m.delta[i].norm)),
      el('div', 'target ' + JSON.stringify(a.targetTokens[0].text) + ': rank ' + v.targetRank + ' ' + from),
      el('div', 'model answer ' + JSON.stringify(a.original.text) + ': rank ' + v.originalRank + ' ' + from),
    );
    const lists = el('div', undefined, 'tip-lists');
    const bottom = list('least probable' + (d.v === 'delta' ? ' (written in)' : ''), v.bottom);
    const top = list('most probable', v.top);
    if (d.v === 'delta') lists.append(bottom, top); else lists.append(top, bottom);
    tip.append(lists);
    tip.hidden = false;
    const r = tip.getBoundingClientRect();
    const left = Math.min(x + 14, window.innerWidth - r.width - 8);
    const top_ = y + 16 + r.height > window.innerHeight ? y - r.height - 10 : y + 16;
    tip.style.left = Math.max(4, left) + window.scrollX + 'px';
    tip.style.top = Math.max(4, top_) + window.scrollY + 'px';
  };
  const cellOf = (t) => t instanceof Element ? t.closest('td[data-v]') : null;
  document.addEventListener('mouseover', (e) => {
    const c = cellOf(e.target);
    if (c) show(c, e.clientX, e.clientY); else tip.hidden = true;
  });
  document.addEventListener('focusin', (e) => {
    const c = cellOf(e.target);
    if (!c) return void (tip.hidden = true);
    const r = c.getBoundingClientRect();
    show(c, r.left, r.bottom);
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') tip.hidden = true; });
})();
`;
