// Method specs of `eval`: `original`, `shift:layers=L,lr=η[,steps=N]`,
// `sgd:layers=L,lr=η[,steps=k]`, `adam:layers=L[,lr=η,steps=k]`, `rome:layer=L`,
// `memit:layers=A-B[,batch=N,lambda=λ]`. Layers are one layer, a range `a-b`, or a
// list joined by `+` (commas separate parameters). Each spec has one canonical
// label, which names it in records.jsonl and the tables.
import { expandRanges, formatRanges, parseRanges } from '../data/ranges.ts';
import { BadInputError } from '../errors.ts';

import type { EditDefaults } from '../edit/defaults.ts';
import type { LocatedDefaults } from '../edit/located/rome-hparams.ts';

export type EditKind = 'shift' | 'sgd' | 'adam';

/** Parameters a spec left out that the model's documented defaults filled in, and where those come from. */
export interface Defaulted {
  params: string[];
  source: string;
}

export type MethodSpec =
  | { kind: 'original'; label: string }
  | { kind: EditKind; label: string; layers: number[]; lr?: number; steps?: number; defaulted?: Defaulted }
  | { kind: 'rome'; label: string; layers: number[]; defaulted?: Defaulted }
  /** batch: records edited at once (consecutive in the selection), each then measured on the batch-edited model. */
  | { kind: 'memit'; label: string; layers: number[]; batch: number; lambda?: number; defaulted?: Defaulted };

/** The model's documented defaults (src/edit/defaults.ts, rome-hparams.ts); a model without them has neither. */
export interface MethodDefaults {
  edit?: EditDefaults | undefined;
  located?: LocatedDefaults | undefined;
}

export type EditMethodSpec = Extract<MethodSpec, { kind: EditKind }>;

export class BadMethodError extends BadInputError {
  override name = 'BadMethodError';
}

const PARAMS: Record<EditKind | 'rome' | 'memit', { required: string[]; allowed: string[] }> = {
  shift: { required: ['layers', 'lr'], allowed: ['layers', 'lr', 'steps'] },
  sgd: { required: ['layers', 'lr'], allowed: ['layers', 'lr', 'steps'] },
  adam: { required: ['layers'], allowed: ['layers', 'lr', 'steps'] },
  rome: { required: ['layer'], allowed: ['layer'] },
  memit: { required: ['layers'], allowed: ['layers', 'batch', 'lambda'] },
};

export const METHOD_SYNTAX = 'original | shift:layers=L,lr=η[,steps=N] | sgd:layers=L,lr=η[,steps=k] | adam:layers=L[,lr=η,steps=k] | rome:layer=L | memit:layers=A-B[,batch=N,lambda=λ]';

function parseLayers(text: string, spec: string): number[] {
  return expandRanges(parseRanges(text, { separator: '+', noun: 'layer', fail: (p) => new BadMethodError(`method "${spec}": layers: ${p} (e.g. layers=2, layers=0-3, layers=0+3)`) }));
}

function positive(value: string, name: string, spec: string, integer: boolean): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) {
    throw new BadMethodError(`method "${spec}": ${name}=${value} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return x;
}

/**
 * Fills the required parameters a spec left out from the model's defaults, as edit
 * does: layers and eta, and the steps that go with the default eta (shift). Returns
 * what it filled, or undefined when nothing was.
 */
function fillDefaults(kind: keyof typeof PARAMS, values: Map<string, string>, d: MethodDefaults): Defaulted | undefined {
  const params: string[] = [];
  const fill = (key: string, value: string | undefined) => {
    if (values.has(key) || value === undefined) return;
    values.set(key, value);
    params.push(key);
  };
  let source: string | undefined;
  if (kind === 'rome' || kind === 'memit') {
    source = d.located?.source;
    fill(kind === 'rome' ? 'layer' : 'layers', d.located && (kind === 'rome' ? String(d.located.romeLayer) : formatRanges(d.located.memitLayers, '+')));
  } else if (d.edit) {
    source = d.edit.source;
    fill('layers', formatRanges(d.edit.layers, '+'));
    if (PARAMS[kind].required.includes('lr') && !values.has('lr')) {
      fill('lr', d.edit.lr[kind]?.toString());
      fill('steps', d.edit.steps?.[kind]?.toString());
    }
  }
  return params.length && source ? { params, source } : undefined;
}

export function parseMethod(spec: string, defaults: MethodDefaults = {}): MethodSpec {
  if (spec === 'original') return { kind: 'original', label: 'original' };
  const colon = spec.indexOf(':');
  const kind = (colon < 0 ? spec : spec.slice(0, colon)) as keyof typeof PARAMS;
  const rules = PARAMS[kind];
  if (!rules || !Object.hasOwn(PARAMS, kind)) throw new BadMethodError(`unknown method "${spec}": use ${METHOD_SYNTAX}`);
  const values = new Map<string, string>();
  for (const pair of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !rules.allowed.includes(key)) throw new BadMethodError(`method "${spec}": unknown parameter "${key}"; ${kind} takes ${rules.allowed.join(', ')}`);
    if (values.has(key)) throw new BadMethodError(`method "${spec}": ${key} is given twice`);
    values.set(key, pair.slice(eq + 1));
  }
  const defaulted = fillDefaults(kind, values, defaults);
  const missing = rules.required.find((r) => !values.has(r));
  if (missing) throw new BadMethodError(`method "${spec}": ${kind} needs ${missing}=... (${METHOD_SYNTAX}); documented defaults exist for the embedded model and gpt2-xl`);
  const also = defaulted ? { defaulted } : {};
  if (kind === 'rome') {
    const layer = values.get('layer')!;
    if (!/^\d+$/.test(layer)) throw new BadMethodError(`method "${spec}": layer=${layer} must be one layer (ROME edits a single layer; memit:layers=A-B spreads over several)`);
    return { kind, label: `rome:layer=${Number(layer)}`, layers: [Number(layer)], ...also };
  }
  const layers = parseLayers(values.get('layers')!, spec);
  if (kind === 'memit') {
    const batch = values.has('batch') ? positive(values.get('batch')!, 'batch', spec, true) : 1;
    const lambda = values.has('lambda') ? positive(values.get('lambda')!, 'lambda', spec, false) : undefined;
    const label = [`memit:layers=${formatRanges(layers, '+')}`, ...(batch === 1 ? [] : [`batch=${batch}`]), ...(lambda === undefined ? [] : [`lambda=${lambda}`])].join(',');
    return { kind, label, layers, batch, ...(lambda === undefined ? {} : { lambda }), ...also };
  }
  const lr = values.has('lr') ? positive(values.get('lr')!, 'lr', spec, false) : undefined;
  const steps = values.has('steps') ? positive(values.get('steps')!, 'steps', spec, true) : undefined;
  const label = [`${kind}:layers=${formatRanges(layers, '+')}`, ...(lr === undefined ? [] : [`lr=${lr}`]), ...(steps === undefined ? [] : [`steps=${steps}`])].join(',');
  return { kind, label, layers, ...(lr === undefined ? {} : { lr }), ...(steps === undefined ? {} : { steps }), ...also };
}

/** Throws unless every layer of the method exists in a model of `nLayer` layers and the edit can act. */
export function checkLayers(m: MethodSpec, nLayer: number): void {
  if (m.kind === 'original') return;
  const bad = m.layers.find((l) => l >= nLayer);
  if (bad !== undefined) throw new BadMethodError(`method "${m.label}": layer ${bad} does not exist; the model has layers 0-${nLayer - 1}`);
  // As checkEditReaches, for every record at once: a CounterFact prompt never ends with its subject.
  if ((m.kind === 'rome' || m.kind === 'memit') && Math.max(...m.layers) === nLayer - 1) {
    throw new BadMethodError(`method "${m.label}": its value is written at layer ${nLayer - 1}, the model's last, where no later layer carries the subject to the end of the prompt, so it would change nothing; use layers below ${nLayer - 1}`);
  }
}
