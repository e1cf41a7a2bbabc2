// The edit panel: apply a shift or SGD edit for the analysis form's pair, show the
// next-token top-5 and a greedy continuation before and after, list the stacked
// edits, and undo the last one. Undo restores the original bytes (model.restore())
// and replays the edits below it, so an undone stack leaves the exact weights.
import { edit } from '../src/edit/edit.ts';
import { look, type Side } from '../src/edit/look.ts';
import type { EditSpec } from '../src/edit/types.ts';
import type { Loaded } from './analysis-panel.ts';
import { $, el } from './dom.ts';

interface AppliedEdit {
  prompt: string;
  target: string;
  spec: EditSpec;
}

const CONTINUATION_TOKENS = 20;
const stack: AppliedEdit[] = [];

export function resetEdits(): void {
  stack.length = 0;
  renderStack();
  $('edit-result').replaceChildren();
}

export async function applyEdit(m: Loaded): Promise<void> {
  const prompt = $<HTMLInputElement>('prompt').value;
  const target = $<HTMLInputElement>('target').value;
  const method = $<HTMLSelectElement>('method').value as 'shift' | 'sgd';
  const layer = Number($<HTMLInputElement>('edit-layer').value);
  const lr = Number($<HTMLInputElement>('lr').value);
  const spec: EditSpec = { method, layers: [layer], lr };
  const pair = [{ prompt, target }];
  const before = await look(m.model, m.tokenizer, pair, CONTINUATION_TOKENS);
  await edit(m.model, m.tokenizer, pair, spec);
  stack.push({ prompt, target, spec });
  const after = await look(m.model, m.tokenizer, pair, CONTINUATION_TOKENS);
  renderStack();
  show(prompt, before[0]!, after[0]!);
}

export async function undoEdit(m: Loaded): Promise<void> {
  const undone = stack.pop();
  if (!undone) return;
  const pair = [{ prompt: undone.prompt, target: undone.target }];
  const before = await look(m.model, m.tokenizer, pair, CONTINUATION_TOKENS);
  m.model.restore();
  for (const e of stack) await edit(m.model, m.tokenizer, [{ prompt: e.prompt, target: e.target }], e.spec);
  const after = await look(m.model, m.tokenizer, pair, CONTINUATION_TOKENS);
  renderStack();
  show(undone.prompt, before[0]!, after[0]!, 'undone');
}

function renderStack(): void {
  $('edits').replaceChildren(...stack.map((e) => el('li', `${e.spec.method} at layer ${e.spec.layers.join(',')}, η ${e.spec.lr}: ${JSON.stringify(e.prompt)} → ${JSON.stringify(e.target)}`)));
  $<HTMLButtonElement>('undo').disabled = stack.length === 0;
}

const pct = (p: number) => (p >= 0.001 ? `${(100 * p).toFixed(1)} %` : p.toExponential(1));

function side(label: string, prompt: string, s: Side, which: 'before' | 'after'): HTMLElement {
  const box = el('div', undefined, { class: 'edit-side', 'data-side': which });
  const table = el('table');
  table.append(el('caption', label));
  for (const t of s.top) {
    const tr = el('tr', undefined, { 'data-id': String(t.id), 'data-prob': String(t.prob) });
    tr.append(el('td', JSON.stringify(t.text)), el('td', pct(t.prob), { class: 'p' }));
    table.append(tr);
  }
  box.append(
    table,
    el('p', `target ${JSON.stringify(s.target.text)}: rank ${s.target.rank}, p ${pct(s.target.prob)}`, { class: 'edit-target', 'data-rank': String(s.target.rank), 'data-prob': String(s.target.prob) }),
    el('p', prompt + s.continuation, { class: 'continuation' }),
  );
  return box;
}

function show(prompt: string, before: Side, after: Side, what = 'after'): void {
  const out = el('div', undefined, { class: 'edit-out' });
  out.append(side('before', prompt, before, 'before'), side(what, prompt, after, 'after'));
  $('edit-result').replaceChildren(out);
}
