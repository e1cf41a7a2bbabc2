// The edits `eval` and `sweep` apply, behind the Editor interface of run.ts: one
// CounterFact record is one pair, prompt -> " " + target_new.
import { spaced } from '../data/counterfact.ts';
import { edit } from '../edit/edit.ts';
import type { Gpt2 } from '../model/gpt2.ts';
import type { Tokenizer } from '../tokenizer.ts';
import type { Editor } from './run.ts';

export function modelEditor(model: Gpt2, tokenizer: Tokenizer): Editor {
  return {
    async apply(m, record) {
      const r = await edit(model, tokenizer, [{ prompt: record.prompt, target: spaced(record.target_new) }], {
        method: m.kind, layers: m.layers, ...(m.lr === undefined ? {} : { lr: m.lr }), ...(m.steps === undefined ? {} : { steps: m.steps }),
      });
      return { steps: r.steps, changeNorm: Math.hypot(...r.changes.map((c) => c.norm)), ...(r.losses.length ? { losses: r.losses } : {}) };
    },
    restore: () => void model.restore(),
  };
}
