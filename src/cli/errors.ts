// How the CLI says to give an input again, for the core's errors that name one.
import { BadInputError, type Input } from '../errors.ts';

const FIX: Record<Input, string> = {
  prompt: 'pass --prompt "some text"',
  target: 'pass --target " word" (GPT-2 words usually start with a space)',
};

/** The error's one-line message in the CLI's words. */
export function cliMessage(e: Error): string {
  return e instanceof BadInputError ? e.phrased(FIX) : e.message;
}
