// The core's errors describe values in the CLI's words ("pass --prompt"); the page
// says the same in its own (form fields), in one line.
import { NoAdapterError } from '../src/gpu/device.ts';

export const NO_WEBGPU = 'This browser has no WebGPU: use Chrome or Edge 113+ on Windows, macOS or ChromeOS, Chrome on Linux with chrome://flags/#enable-unsafe-webgpu (or --enable-unsafe-webgpu), Safari 26+, or Firefox 141+ on Windows; the page must come from https or 127.0.0.1.';

const WORDS: [RegExp, string][] = [
  [/pass --prompt "some text"/, 'type a prompt'],
  [/pass --target " word"/, 'type a target such as " word"'],
  [/--(prompt|target|layers|lr|k|model)\b/g, 'the $1 field'],
  [/\bthe prompt take\b/, 'the prompt takes'],
  [/^learning rate (\S+): eta must be/, 'η $1 must be'],
];

// A fault in the page's own code keeps its class name, for a bug report; the
// engine's errors (bad input, a range it refuses) are read as sentences.
const FAULTS = /^(TypeError|ReferenceError|SyntaxError)$/;

export function describe(e: unknown): string {
  if (e instanceof NoAdapterError) return NO_WEBGPU;
  const text = e instanceof Error ? e.message : String(e);
  const line = WORDS.reduce((t, [re, words]) => t.replace(re, words), text).split('\n')[0]!;
  return e instanceof Error && FAULTS.test(e.name) ? `${e.name}: ${line}` : line;
}
