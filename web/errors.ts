// The page's one-line messages: the core's errors describe values; where one input
// is at fault the page says how to give it again in its own words (form fields).
import { BadInputError, type Input } from '../src/errors.ts';
import { NoAdapterError } from '../src/gpu/device.ts';

export const NO_WEBGPU = 'This browser has no WebGPU: use Chrome or Edge 113+ on Windows, macOS or ChromeOS, Chrome on Linux with chrome://flags/#enable-unsafe-webgpu (or --enable-unsafe-webgpu), Safari 26+, or Firefox 141+ on Windows; the page must come from https or 127.0.0.1.';

const FIX: Record<Input, string> = {
  prompt: 'type a prompt',
  target: 'type a target such as " word"',
};

export function describe(e: unknown): string {
  if (e instanceof NoAdapterError) return NO_WEBGPU;
  if (e instanceof BadInputError) return e.phrased(FIX).split('\n')[0]!;
  const text = e instanceof Error ? e.message : String(e);
  const line = text.split('\n')[0]!;
  return e instanceof Error ? `${e.name}: ${line}` : line;
}
