// The FF2 and FF1 grids of one analysis as a standalone SVG (publication figures,
// like the paper's Figs. 5 and 11): the terminal grid's layout, cells shaded by
// ‖δ_i‖ with a legend, the target outlined, zero-norm cells left blank.
import type { Analysis } from '../lens/types.ts';
import { esc } from './escape.ts';
import { num } from './format.ts';
import { cssColor, needsLightText, rampColor, unit } from './scale.ts';
import { gridColumns, gridsOf, type Grid } from './views.ts';
import { cut } from './width.ts';

const CELL_W = 64;
const CELL_H = 20;
const LEFT = 44;
const CELL_CHARS = 9;
const STYLE = 'text{font:11px system-ui,-apple-system,"Segoe UI",sans-serif;fill:#222}.title{font-size:13px;font-weight:600}.tok{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:10px;white-space:pre}';

export function gridsSvg(a: Analysis): string {
  const columns = gridColumns(a);
  const W = Math.max(560, LEFT + columns.length * CELL_W + 90);
  let y = 22;
  const parts: string[] = [`<text x="4" y="14" class="title">${esc(`"${a.prompt}" → "${a.target}"`)}</text>`];
  for (const grid of gridsOf(a)) {
    const { svg, height } = gridPart(grid, columns.map((c) => (c.forced ? `→${c.token.text}` : c.token.text)), y, W);
    parts.push(svg);
    y += height + 16;
  }
  const H = y;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(`Backward Lens grids: ${a.prompt}`)}"><style>${STYLE}</style><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`;
}

function gridPart(grid: Grid, heads: readonly string[], top: number, W: number): { svg: string; height: number } {
  const { spec } = grid;
  const parts = [`<text x="4" y="${top + 14}" class="title">${esc(`${spec.name} (${grid.module}): ${spec.caption}`)}</text>`];
  const y0 = top + 22;
  heads.forEach((h, i) => parts.push(`<text x="${LEFT + i * CELL_W + CELL_W / 2}" y="${y0 + 13}" text-anchor="middle" class="tok">${esc(cut(h, CELL_CHARS))}</text>`));
  parts.push(`<text x="${LEFT - 6}" y="${y0 + 13}" text-anchor="end">layer</text>`);
  grid.rows.forEach((row, r) => {
    const y = y0 + (r + 1) * CELL_H;
    parts.push(`<text x="${LEFT - 6}" y="${y + 14}" text-anchor="end">${row.layer}</text>`);
    row.cells.forEach((c, i) => {
      const x = LEFT + i * CELL_W;
      const fill = rampColor(unit(c.norm, grid.maxNorm));
      const text = c.zero ? '' : (c.token?.text ?? '?');
      const tip = c.zero ? 'δ_i = 0' : `${text} (p ${c.token ? num(c.token.prob) : '?'}), ‖δ_i‖ ${num(c.norm)}`;
      parts.push(`<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" fill="${cssColor(fill)}" stroke="${c.isTarget ? '#0a58ca' : '#fff'}" stroke-width="${c.isTarget ? 2 : 0.5}"><title>${esc(tip)}</title></rect>`);
      if (text) parts.push(`<text x="${x + CELL_W / 2}" y="${y + 14}" text-anchor="middle" class="tok" style="fill:${needsLightText(fill) ? '#fff' : '#222'}${c.isTarget ? ';font-weight:700' : ''}">${esc(cut(text, CELL_CHARS))}</text>`);
    });
  });
  const height = 22 + Math.max(grid.rows.length + 1, 5) * CELL_H;
  // Legend: the norm scale, white (0) to dark red (the grid's largest ‖δ_i‖).
  const lx = W - 80;
  const steps = 8;
  for (let s = 0; s < steps; s++) parts.push(`<rect x="${lx}" y="${y0 + CELL_H + s * 8}" width="12" height="8" fill="${cssColor(rampColor(1 - s / (steps - 1)))}"/>`);
  parts.push(`<text x="${lx + 16}" y="${y0 + CELL_H + 8}">${esc(num(grid.maxNorm))}</text><text x="${lx + 16}" y="${y0 + CELL_H + steps * 8}">0</text><text x="${lx}" y="${y0 + CELL_H - 4}">‖δ_i‖</text>`);
  return { svg: parts.join(''), height };
}
