// What the terminal and HTML reports show, read out of an Analysis once: the two
// grids of the paper's Fig. 5/11 and the per-layer numbers under them.
import type { Analysis, ModuleView, Token, TokenProb } from '../lens/types.ts';
import type { Role } from '../model/config.ts';
import { paperRole } from '../model/families/index.ts';

export interface GridSpec {
  /** The paper's FF1 or FF2 (families/index.ts paperRole): a gated MLP's FF1 is its up_proj. */
  readonly role: Role;
  /** The paper's name for the module. */
  readonly name: string;
  readonly vector: 'x' | 'delta';
  readonly list: 'top' | 'bottom';
  readonly caption: string;
}

// §5.2: the update subtracts delta, so FF2's delta writes in its least probable
// tokens; FF1's inputs x_i are read like any residual-stream vector, top first.
export const GRIDS: readonly GridSpec[] = [
  { role: 'ff_out', name: 'FF2', vector: 'delta', list: 'bottom', caption: 'least probable token of LL(δ_i): what the update writes in' },
  { role: 'ff_in', name: 'FF1', vector: 'x', list: 'top', caption: 'most probable token of LL(x_i): what the layer reads' },
];

/** The legend line under a grid with blank cells; without it they read as a rendering fault. */
export const BLANK_NOTE = 'blank: δ_i is exactly 0 (the last layer, i < n), so its lens says nothing';

export const hasBlank = (grid: Grid): boolean => grid.rows.some((r) => r.cells.some((c) => c.zero));

export interface GridCell {
  /** Absent if the vector was not projected, or is exactly zero. */
  readonly token?: TokenProb;
  /**
   * The cell's vector is exactly zero (the last layer's δ_i for i < n): its lens is
   * that of the zero vector, which says nothing, so reports leave the cell blank.
   */
  readonly zero?: boolean;
  /** ‖δ_i‖ of the grid's module, the cell's colour: how much token i moves the weights (Fig. 5, 11). */
  readonly norm: number;
  readonly isTarget: boolean;
}

export interface GridRow {
  readonly layer: number;
  /** Indices into Analysis.layers and LayerView.modules, for looking the cell up again. */
  readonly layerIndex: number;
  readonly moduleIndex: number;
  readonly cells: readonly GridCell[];
}

export interface Grid {
  readonly spec: GridSpec;
  /** The checkpoint's name of the grid's module. */
  readonly module: string;
  /** The last layer first: the residual stream flows up towards the output. */
  readonly rows: readonly GridRow[];
  readonly maxNorm: number;
}

/** The grids whose module was analysed, FF2 first. */
export function gridsOf(a: Analysis): Grid[] {
  return GRIDS.flatMap((spec) => {
    const rows = byLayerDescending(a).flatMap(({ layerIndex }) => {
      const layer = a.layers[layerIndex]!;
      const moduleIndex = layer.modules.findIndex((m) => paperRole(m.module) === spec.role);
      if (moduleIndex < 0) return [];
      const m = layer.modules[moduleIndex]!;
      const cells = m[spec.vector].map((v, i): GridCell => {
        if (v.norm === 0) return { zero: true, norm: m.delta[i]!.norm, isTarget: false };
        const token = v[spec.list]?.[0];
        return { ...(token ? { token } : {}), norm: m.delta[i]!.norm, isTarget: token?.id === a.targetTokens[0]?.id };
      });
      return [{ layer: layer.layer, layerIndex, moduleIndex, cells }];
    });
    if (rows.length === 0) return [];
    const maxNorm = Math.max(0, ...rows.flatMap((r) => r.cells.map((c) => (Number.isFinite(c.norm) ? c.norm : 0))));
    const module = a.layers[rows[0]!.layerIndex]!.modules[rows[0]!.moduleIndex]!.module;
    return [{ spec, module, rows, maxNorm }];
  });
}

/** The grid's columns: the prompt tokens, then the teacher-forced target tokens (marked). */
export function gridColumns(a: Analysis): { token: Token; forced: boolean }[] {
  return [...a.tokens.map((token) => ({ token, forced: false })), ...a.forced.map((token) => ({ token, forced: true }))];
}

export interface LayerSummary {
  readonly layer: number;
  /** FF2's delta_n at the last prompt token: the target's and the original answer's rank from the bottom. */
  readonly targetRank?: number;
  readonly originalRank?: number;
  /** ‖δ_n‖ at the last prompt token, per analysed module. */
  readonly lastDeltaNorms: readonly { module: string; norm: number }[];
  /** Exact gradient rank, per analysed module; ambiguous when decided near the threshold. */
  readonly ranks: readonly { module: string; rank: number; ambiguous: boolean }[];
}

/** Per layer, the last layer first. */
export function layerSummaries(a: Analysis): LayerSummary[] {
  const last = a.tokens.length - 1;
  return byLayerDescending(a).map(({ layerIndex }) => {
    const { layer, modules } = a.layers[layerIndex]!;
    const ff2 = modules.find((m: ModuleView) => paperRole(m.module) === 'ff_out')?.delta[last];
    return {
      layer,
      ...(ff2?.targetRank !== undefined ? { targetRank: ff2.targetRank } : {}),
      ...(ff2?.originalRank !== undefined ? { originalRank: ff2.originalRank } : {}),
      lastDeltaNorms: modules.map((m) => ({ module: m.module, norm: m.delta[last]!.norm })),
      ranks: modules.map((m) => ({ module: m.module, rank: m.rank, ambiguous: m.rankAmbiguous })),
    };
  });
}

function byLayerDescending(a: Analysis): { layerIndex: number }[] {
  return a.layers.map((l, layerIndex) => ({ layer: l.layer, layerIndex })).sort((x, y) => y.layer - x.layer);
}

/** A rank as the reports print it: `?` marks one decided near the threshold. */
export const rankText = (r: { rank: number; ambiguous: boolean }): string => `${r.rank}${r.ambiguous ? '?' : ''}`;

/** The reports' note under a rank table with an ambiguous rank. */
export const AMBIGUOUS_NOTE = '?: a singular value of XᵀΔ lies within 1e-9..1e-7 of the largest, near float32\'s threshold: the rank may be off by one';
