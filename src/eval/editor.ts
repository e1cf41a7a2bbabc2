// The edits `eval` and `sweep` apply, behind the Editor interface of run.ts.
import type { Gpt2 } from '../model/gpt2.ts';
import type { Tokenizer } from '../tokenizer.ts';
import type { Editor } from './run.ts';

export class EditUnavailableError extends Error {
  override name = 'EditUnavailableError';
}

/** The editing module has not landed on this branch yet: edit methods are refused. */
export function modelEditor(_model: Gpt2, _tokenizer: Tokenizer): Editor {
  return {
    apply: async (m) => {
      throw new EditUnavailableError(`method "${m.label}": this build has no editing module yet; only "original" can be evaluated`);
    },
    restore: () => undefined,
  };
}
