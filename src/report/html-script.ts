// The HTML report's only script: a hover/focus tooltip for grid cells, read from the
// report JSON embedded in the page. It builds nodes with textContent, so token text
// is never parsed as HTML. Kept as plain ES2017 text: it is inlined, not bundled.
// The JSON is read at hover time, so the web app can run this script once and
// replace #bl-data after every analysis. The tooltip sits against its cell without
// covering it and scrolls when k makes it taller than the window; each grid is one
// Tab stop, the arrow keys move inside it.

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
  // Token text is already a display form (\xNN for bytes): quoted, not JSON-escaped again.
  const q = (text) => '"' + text + '"';
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
      tr.append(el('td', q(t.text), 'tok'), el('td', prob(t.prob), 'p'));
      table.append(tr);
    }
    box.append(table);
    return box;
  };
  const show = (cell) => {
    const d = cell.dataset;
    const a = current().results[+d.p];
    const layer = a.layers[+d.l];
    const m = layer.modules[+d.m];
    const i = +d.i;
    const v = m[d.v][i];
    const name = d.v === 'x' ? 'x_i' : 'δ_i';
    const from = d.v === 'x' ? 'from the top' : 'from the bottom';
    tip.replaceChildren(
      el('div', 'layer ' + layer.layer + ' · token ' + (i + 1) + ' ' + q(a.tokens.concat(a.forced)[i].text) + ' · ' + m.module + ' ' + name, 'tip-title'),
      el('div', '‖x_i‖ = ' + num(m.x[i].norm) + '   ‖δ_i‖ = ' + num(m.delta[i].norm)),
    );
    if (v.norm === 0) {
      // The lens of the zero vector is the same for every token: no ranks, no lists.
      tip.append(el('div', name + ' is exactly the zero vector' + (d.v === 'delta' ? ' (the last layer, i < n)' : '') + ', so its lens says nothing', 'tip-zero'));
    } else {
      tip.append(
        el('div', 'target ' + q(a.targetTokens[0].text) + ': rank ' + v.targetRank + ' ' + from),
        el('div', 'model answer ' + q(a.original.text) + ': rank ' + v.originalRank + ' ' + from),
      );
      const lists = el('div', undefined, 'tip-lists');
      const bottom = list('least probable' + (d.v === 'delta' ? ' (written in)' : ''), v.bottom);
      const top = list('most probable', v.top);
      if (d.v === 'delta') lists.append(bottom, top); else lists.append(top, bottom);
      tip.append(lists);
    }
    tip.shown = cell;
    tip.hidden = false;
    tip.style.maxHeight = 'none';
    tip.scrollTop = 0;
    // Below the cell if it fits there or there is more room below, else above; never over it.
    const c = cell.getBoundingClientRect();
    const below = window.innerHeight - c.bottom - 4;
    const above = c.top - 4;
    const room = Math.max(below, above);
    if (tip.getBoundingClientRect().height > room) tip.style.maxHeight = room + 'px';
    const r = tip.getBoundingClientRect();
    const y = r.height <= below || below >= above ? c.bottom : c.top - r.height;
    tip.style.left = Math.max(4, Math.min(c.left, window.innerWidth - r.width - 4)) + window.scrollX + 'px';
    tip.style.top = y + window.scrollY + 'px';
  };
  const hide = () => { tip.hidden = true; tip.shown = undefined; };
  const cellOf = (t) => t instanceof Element ? t.closest('td[data-v]') : null;
  document.addEventListener('mouseover', (e) => {
    // The pointer may move onto the tooltip to scroll it.
    if (e.target instanceof Node && tip.contains(e.target)) return;
    const c = cellOf(e.target);
    if (c) { if (c !== tip.shown) show(c); } else hide();
  });
  document.addEventListener('focusin', (e) => {
    const c = cellOf(e.target);
    if (!c) return hide();
    // The focused cell is the grid's Tab stop, however it got focus.
    for (const other of c.closest('table').querySelectorAll('td[tabindex="0"]')) other.tabIndex = -1;
    c.tabIndex = 0;
    show(c);
  });
  const STEPS = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') return hide();
    const c = cellOf(e.target);
    const step = STEPS[e.key];
    if (!c || !step) return;
    const rows = [...c.closest('table').rows].map((tr) => [...tr.querySelectorAll('td[data-v]')]).filter((r) => r.length);
    const r = rows.findIndex((row) => row.includes(c));
    const row = rows[r + step[0]];
    const next = row && row[rows[r].indexOf(c) + step[1]];
    e.preventDefault();
    if (next) next.focus();
  });
})();
`;
