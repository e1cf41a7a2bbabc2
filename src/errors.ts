// The engine's error for bad input: a value it was given (a prompt, a layer list, a
// record file, a checkpoint) that it cannot use. Messages describe the value and
// name no CLI flag or form field; where the fix is to give one input again, `input`
// says which, and each shell (src/cli/errors.ts, web/errors.ts) says how in its own
// words.
export type Input = 'prompt' | 'target';

export class BadInputError extends Error {
  override name = 'BadInputError';

  constructor(message: string, readonly input?: Input) {
    super(message);
  }

  /** The message with a shell's words for giving the input again. */
  phrased(fix: Readonly<Record<Input, string>>): string {
    return this.input ? `${this.message}: ${fix[this.input]}` : this.message;
  }
}
