// The edit panel: apply a shift or SGD edit for the analysis form's pair, show the
// next-token top-5 and a greedy continuation before and after, list the stacked
// edits, and undo the last one. Undo restores the original bytes (model.restore())
// and replays the edits below it, so an undone stack leaves the exact weights.
// Its fields start at the CLI's per-model defaults (src/edit/defaults.ts).
import { editDefaults, type EditDefaults } from '../src/edit/defaults.ts';
import { edit } from '../src/edit/edit.ts';
import { look, type Side } from '../src/edit/look.ts';
import { preparePair } from '../src/pass/prepare.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { quoted } from '../src/report/format.ts';
import { describeEdit } from '../src/report/html.ts';
import type { AppliedEdit } from '../src/report/json.ts';
import type { Loaded } from './analysis-panel.ts';
import { $, el } from './dom.ts';
import { numberField } from './fields.ts';

type PageMethod = 'shift' | 'sgd';

const CONTINUATION_TOKENS = 20;
const stack: AppliedEdit[] = [];
let defaults: EditDefaults | undefined;

/** The edits applied to the loaded model, oldest first. */
export const appliedEdits = (): readonly AppliedEdit[] => stack;

/** A new model: no edits, and the edit fields at its defaults, or empty where it has none. */
export function resetEdits(config: ModelConfig, isDefaultModel: boolean): void {
  stack.length = 0;
  renderStack();
  $('edit-result').replaceChildren();
  defaults = editDefaults(config, isDefaultModel);
  $<HTMLInputElement>('edit-layer').max = String(config.nLayer - 1);
  $<HTMLInputElement>('edit-layer').value = defaults ? String(defaults.layers[0]) : '';
  methodDefaults();
}

/** η and steps follow the method, as the CLI's defaults do. */
export function methodDefaults(): void {
  const method = $<HTMLSelectElement>('method').value as PageMethod;
  $<HTMLInputElement>('lr').value = String(defaults?.lr[method] ?? '');
  $<HTMLInputElement>('steps').value = String(defaults?.steps?.[method] ?? 1);
}

/** Applies the form's edit; false when it changed nothing (a shift whose target already was the top-1 answer). */
export async function applyEdit(m: Loaded): Promise<boolean> {
  const prompt = $<HTMLInputElement>('prompt').value;
  const target = $<HTMLInputElement>('target').value;
  const method = $<HTMLSelectElement>('method').value as PageMethod;
  const spec = { method, layers: [numberField('edit-layer', 'layer', true)], lr: numberField('lr', 'η'), steps: numberField('steps', 'steps', true) };
  const pair = [{ prompt, target }];
  // Checked the way the edit checks it, before the look at the model runs on it.
  const { promptLength } = preparePair(m.model, m.tokenizer, prompt, target);
  const tokens = Math.min(CONTINUATION_TOKENS, m.model.config.nPositions - promptLength);
  const before = await look(m.model, m.tokenizer, pair, tokens);
  const result = await edit(m.model, m.tokenizer, pair, spec);
  const changed = result.spec.method !== 'shift' || result.shifts[0]! > 0;
  if (changed) stack.push({ prompt, target, method, layers: result.spec.layers, lr: result.spec.lr, steps: result.spec.steps });
  const after = await look(m.model, m.tokenizer, pair, tokens);
  renderStack();
  show(prompt, before[0]!, after[0]!);
  return changed;
}

export async function undoEdit(m: Loaded): Promise<void> {
  const undone = stack.pop();
  if (!undone) return;
  const pair = [{ prompt: undone.prompt, target: undone.target }];
  const { promptLength } = preparePair(m.model, m.tokenizer, undone.prompt, undone.target);
  const tokens = Math.min(CONTINUATION_TOKENS, m.model.config.nPositions - promptLength);
  const before = await look(m.model, m.tokenizer, pair, tokens);
  m.model.restore();
  for (const e of stack) await edit(m.model, m.tokenizer, [{ prompt: e.prompt, target: e.target }], e);
  const after = await look(m.model, m.tokenizer, pair, tokens);
  renderStack();
  show(undone.prompt, before[0]!, after[0]!, 'undone');
}

function renderStack(): void {
  $('edits').replaceChildren(...stack.map((e) => el('li', describeEdit(e))));
  $<HTMLButtonElement>('undo').disabled = stack.length === 0;
}

const pct = (p: number) => (p >= 0.001 ? `${(100 * p).toFixed(1)} %` : p.toExponential(1));

function side(label: string, prompt: string, s: Side, which: 'before' | 'after'): HTMLElement {
  const box = el('div', undefined, { class: 'edit-side', 'data-side': which });
  const table = el('table');
  table.append(el('caption', label));
  for (const t of s.top) {
    const tr = el('tr', undefined, { 'data-id': String(t.id), 'data-prob': String(t.prob) });
    tr.append(el('td', quoted(t.text)), el('td', pct(t.prob), { class: 'p' }));
    table.append(tr);
  }
  box.append(
    table,
    el('p', `target ${quoted(s.target.text)}: rank ${s.target.rank}, p ${pct(s.target.prob)}`, { class: 'edit-target', 'data-rank': String(s.target.rank), 'data-prob': String(s.target.prob) }),
    el('p', prompt + s.continuation, { class: 'continuation' }),
  );
  return box;
}

function show(prompt: string, before: Side, after: Side, what = 'after'): void {
  const out = el('div', undefined, { class: 'edit-out' });
  out.append(side('before', prompt, before, 'before'), side(what, prompt, after, 'after'));
  $('edit-result').replaceChildren(out);
}
