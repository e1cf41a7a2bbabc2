// One error class for bad input (src/errors.ts): core messages describe values and
// name no CLI flag; the CLI and the page each add their own words for the input at
// fault, and print every bad-input error as its plain message.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliMessage } from '../../src/cli/errors.ts';
import { BadDataError } from '../../src/data/counterfact.ts';
import { BadInputError } from '../../src/errors.ts';
import { BadModelError } from '../../src/model/config.ts';
import { SafetensorsError } from '../../src/model/safetensors.ts';
import { TokenizerError } from '../../src/tokenizer/gpt2-bpe.ts';
import { describe } from '../../web/errors.ts';

const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});

test('no message of the core names a CLI flag', () => {
  const core = walk('src').filter((f) => !/^src[\\/]cli(\.ts$|[\\/])/.test(f));
  const flagged = core.flatMap((file) => readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return [];
    // A flag inside a string or template literal: `--word` after a quote or a space.
    return /(['"`]|\s)--[a-z][a-z-]*/.test(line.replace(/\/\/.*$/, '')) && /['"`]/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [];
  }));
  assert.equal(flagged, []);
});

test('the CLI and the page each say how to give the input at fault', () => {
  const empty = new BadInputError('the prompt is empty', 'prompt');
  assert.is(cliMessage(empty), 'the prompt is empty: pass --prompt "some text"');
  assert.is(describe(empty), 'the prompt is empty: type a prompt');
  const target = new BadInputError('the target is empty', 'target');
  assert.match(cliMessage(target), /: pass --target " word"/);
  assert.is(describe(target), 'the target is empty: type a target such as " word"');
  const plain = new BadInputError('no layers to edit: give at least one');
  assert.is(cliMessage(plain), plain.message);
  assert.is(describe(plain), plain.message);
});

test('every bad-input error is a BadInputError, shown as its message alone', () => {
  const errors = [new BadDataError('records "x": bad'), new BadModelError('config.json: bad'), new TokenizerError('bad vocabulary'), new SafetensorsError('m.safetensors', 'damaged')];
  for (const e of errors) {
    assert.ok(e instanceof BadInputError, e.name);
    assert.is(describe(e), e.message);
    assert.is(cliMessage(e), e.message);
  }
  assert.is(describe(new RangeError('bug')), 'bug');
  assert.is(describe(new TypeError('bug')), 'TypeError: bug');
});

test.run();
