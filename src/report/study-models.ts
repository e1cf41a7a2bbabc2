// Fig. 18 across models (Katz et al. App. E): each study's median rank of the target
// from the bottom of LL(δ_n) of FF2, with the layer index divided by the model's layer
// count and the rank by the ids it counts among (the vocabulary, less the special
// tokens and padded rows the lens leaves out), so that models of different depth and
// vocabulary (GPT-2's 50K, Llama 2's 32K) share one plot.
import type { StudyDocument } from '../study/document.ts';
import { linePlot } from './plot.ts';
import { COLORS, DASHES, rankedIds, type Figure } from './study.ts';

export interface ModelStudy {
  /** What the legend calls the model. */
  readonly label: string;
  readonly doc: StudyDocument;
}

export interface ModelCurve {
  readonly label: string;
  readonly source: string;
  readonly nLayer: number;
  readonly vocabSize: number;
  /** The ids the ranks count among: the vocabulary less what the lens left out (settings.excluded). */
  readonly ranked: number;
  readonly prompts: number;
  /** Per layer: layer / nLayer, the median rank from the bottom and that rank / ranked (null where no prompt gave one). */
  readonly points: readonly { readonly layer: number; readonly x: number; readonly medianRank: number | null; readonly y: number | null }[];
}

/** The normalised curves; each study must have Figs. 18-21's last-token rows (both MLP modules studied). */
export function modelCurves(studies: readonly ModelStudy[]): ModelCurve[] {
  return studies.map(({ label, doc }) => {
    const { nLayer, vocabSize, source } = doc.model;
    const ranked = rankedIds(doc);
    // combine() refuses a study without them.
    const rows = doc.aggregates.lastToken!;
    return {
      label, source, nLayer, vocabSize, ranked, prompts: doc.aggregates.prompts,
      points: rows.map((r) => {
        const medianRank = r.ff2DeltaTarget.all.median;
        return { layer: r.layer, x: r.layer / nLayer, medianRank, y: medianRank === null ? null : medianRank / ranked };
      }),
    };
  });
}

export function modelsFigure(curves: readonly ModelCurve[]): Figure {
  return {
    file: 'fig18-models.svg',
    paper: 'Fig. 18',
    caption: `The target's median rank from the bottom of LL(δ_n) of FF2 (last prompt token), over the layer index / number of layers and as a share of the vocabulary: ${curves.map((c) => `${c.label} (${c.nLayer} layers, ${c.ranked} tokens ranked, ${c.prompts} prompts)`).join('; ')}.`,
    svg: linePlot({
      title: 'Target: rank from bottom / V, FF2 δ_n',
      xLabel: 'layer / L',
      yLabel: 'median rank / V (log)',
      series: curves.map((c, j) => ({
        name: c.label, color: COLORS[j % COLORS.length]!, dash: DASHES[j % DASHES.length]!,
        points: c.points.map((p) => [p.x, p.y ?? NaN] as const),
      })),
      logY: true,
      invertY: true,
      xAxis: { domain: [0, 1], ticks: [0, 0.25, 0.5, 0.75, 1] },
    }),
  };
}
