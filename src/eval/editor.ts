// The edits `eval` and `sweep` apply, behind the Editor interface of run.ts: one
// CounterFact record is one pair, prompt -> " " + target_new (ROME and MEMIT also
// take its subject). A memit batch is one edit of all its records.
import { spaced } from '../data/counterfact.ts';
import { edit } from '../edit/edit.ts';
import type { LocatedEditor } from '../edit/located/editor.ts';
import type { ValueHparams } from '../edit/located/value-vector.ts';
import type { Model } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { Editor } from './run.ts';

export interface LocatedSetup {
  editor: LocatedEditor;
  /** MEMIT's λ when the spec gives none, and the value searches: the model's row of src/edit/located/rome-hparams.ts. */
  memitLambda: number;
  romeValue: ValueHparams;
  memitValue: ValueHparams;
}

export function modelEditor(model: Model, tokenizer: Tokenizer, located?: LocatedSetup): Editor {
  return {
    async apply(m, records) {
      if (m.kind === 'rome' || m.kind === 'memit') {
        if (!located) throw new Error(`${m.kind} needs second-moment statistics; this editor has none`);
        const requests = records.map((r) => ({ prompt: r.prompt, subject: r.subject, target: spaced(r.target_new) }));
        const lambda = m.kind === 'memit' ? (m.lambda ?? located.memitLambda) : 0;
        const value = m.kind === 'rome' ? located.romeValue : located.memitValue;
        const r = await located.editor.apply({ method: m.kind, layers: m.layers, lambda, value }, requests);
        return {
          steps: r.losses.reduce((s, l) => s + l.length, 0) / r.losses.length,
          changeNorm: Math.hypot(...r.changes.map((c) => c.norm)),
          valueLoss: r.losses.map((l) => l[l.length - 1]!),
          ...(m.kind === 'memit' ? { batch: records.length, lambda } : {}),
        };
      }
      const [record] = records;
      if (records.length !== 1 || !record) throw new RangeError(`${m.kind} edits one record at a time`);
      const r = await edit(model, tokenizer, [{ prompt: record.prompt, target: spaced(record.target_new) }], {
        method: m.kind, layers: m.layers, ...(m.lr === undefined ? {} : { lr: m.lr }), ...(m.steps === undefined ? {} : { steps: m.steps }),
      });
      return { steps: r.steps, changeNorm: Math.hypot(...r.changes.map((c) => c.norm)), ...(r.losses.length ? { losses: r.losses } : {}) };
    },
    restore: () => void model.restore(),
  };
}
