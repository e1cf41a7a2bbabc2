// The page's model files (web/model-source.ts) in Node, whose File is the browser's:
// a picked folder of shards + model.safetensors.index.json + tokenizer.json loads
// the same model as the CLI's loader on that directory, reading each tensor in its
// own slice (no read spans a whole shard); a missing or stray file is one line that
// names it and the fix; a folder's subfolders are left alone.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { BadModelError } from '../../src/model/config.ts';
import { loadModelFrom } from '../../src/model/load.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';
import { modelFromFiles, userModel, type Progress } from '../../web/model-source.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';

const CFG: LlamaConfigRef = {
  nLayer: 3, nHead: 6, nKvHead: 2, headDim: 8, nEmbd: 72, nInner: 200, vocabSize: 503, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const INDEX = 'model.safetensors.index.json';
let dir: string;

/** A File as the folder input gives it: the path below the picked folder's parent in webkitRelativePath. */
function picked(path: string, relative?: string): File {
  const f = new File([readFileSync(path)], basename(path));
  if (relative) Object.defineProperty(f, 'webkitRelativePath', { value: relative });
  return f;
}

const folderFiles = (names = readdirSync(dir)) => names.map((n) => picked(join(dir, n), `${basename(dir)}/${n}`));
const plainFiles = (names: string[]) => names.map((n) => picked(join(dir, n)));

async function refused(files: File[], message: RegExp): Promise<void> {
  await modelFromFiles(files, () => {}).then(() => assert.unreachable('accepted'), (e: Error) => {
    assert.instance(e, BadModelError);
    assert.match(e.message, message);
  });
}

test.before(async () => {
  dir = (await writeLlamaCheckpoint(CFG, 11, { shards: 3, dtype: 'BF16' })).dir;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a picked folder of shards: named after the folder, shards in the index\'s order, tokenizer texts, subfolders ignored', async () => {
  const stray = new File(['{"not": "this one"}'], 'config.json');
  Object.defineProperty(stray, 'webkitRelativePath', { value: `${basename(dir)}/original/config.json` });
  const input = await userModel([stray, ...folderFiles().reverse()], () => {});
  assert.is(input.name, basename(dir));
  assert.is(input.embedded, false);
  const index = JSON.parse(readFileSync(join(dir, INDEX), 'utf8')) as { weight_map: Record<string, string> };
  assert.equal(input.weights.map((w) => w.name), [...new Set(Object.values(index.weight_map))]);
  assert.is((input.config as { model_type: string }).model_type, 'llama');
  assert.ok(input.tokenizer.tokenizerJson?.includes('"model"'));
  assert.ok(input.tokenizer.tokenizerConfig?.includes('add_bos_token'));
});

/** Files that record what is read of them: slices (name, length) and whole reads. */
function watched(): { files: File[]; slices: { name: string; length: number }[]; whole: string[] } {
  const slices: { name: string; length: number }[] = [];
  const whole: string[] = [];
  class Watched extends File {
    override slice(start?: number, end?: number): Blob {
      slices.push({ name: this.name, length: (end ?? this.size) - (start ?? 0) });
      return super.slice(start, end);
    }
    override arrayBuffer(): Promise<ArrayBuffer> {
      whole.push(this.name);
      return super.arrayBuffer();
    }
    override text(): Promise<string> {
      whole.push(this.name);
      return super.text();
    }
  }
  const files = readdirSync(dir).map((n) => {
    const f = new Watched([readFileSync(join(dir, n))], n);
    Object.defineProperty(f, 'webkitRelativePath', { value: `${basename(dir)}/${n}` });
    return f;
  });
  return { files, slices, whole };
}

test('the files read slice by slice give the model the CLI loads from the directory', async () => {
  const k = await getEngine();
  const { files, slices, whole } = watched();
  let last: Progress | undefined;
  const input = await userModel(files, (p) => { last = { ...p }; });
  const page = await loadModelFrom(k, input.weights, input.config, input.tokenizer);
  const cli = await loadModelPath(k, dir);
  try {
    const sizes = new Map(files.filter((f) => f.name.endsWith('.safetensors')).map((f) => [f.name, f.size]));
    assert.equal(whole.filter((n) => sizes.has(n)), [], 'no weight file read whole');
    for (const r of slices) assert.ok(r.length < sizes.get(r.name)! / 2, `a slice of ${r.length} bytes of ${r.name} (${sizes.get(r.name)} bytes)`);
    assert.is(new Set(slices.map((r) => r.name)).size, 3, 'every shard read');
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    assert.is(last!.total, total);
    // The rotary buffer (inv_freq) is skipped unread; everything else once.
    assert.ok(last!.bytes <= total && last!.bytes > total - 1024, `${last!.bytes} of ${total} bytes read`);
    const ids = promptIds(page.tokenizer, 'The Eiffel Tower is in');
    const [a] = await predictNext(page.model, page.tokenizer, [ids], 10);
    const [b] = await predictNext(cli.model, cli.tokenizer, [ids], 10);
    assert.equal(a, b, 'the same next-token distribution, bit for bit');
  } finally {
    page.model.dispose();
    cli.model.dispose();
  }
});

test('shards without their index, an index without a shard, shards without config.json: one line each, naming the file and the fix', async () => {
  const names = readdirSync(dir);
  const shards = names.filter((n) => /^model-\d+-of-\d+\.safetensors$/.test(n)).sort();
  assert.is(shards.length, 3);
  await refused(plainFiles(names.filter((n) => n !== INDEX)), /^model-00001-of-00003\.safetensors is one of 3 shards: pick model\.safetensors\.index\.json with them \(or the model's folder\)$/);
  await refused(plainFiles(names.filter((n) => n !== shards[1])), /^model-00002-of-00003\.safetensors is listed in model\.safetensors\.index\.json but not among the picked files: pick every shard with it \(or the model's folder\)$/);
  await refused(plainFiles(names.filter((n) => n !== 'config.json')), /^no config\.json among the picked files: a sharded checkpoint needs it; pick it with the shards \(or the model's folder\)$/);
  await refused([new File(['{'], INDEX), ...plainFiles(shards)], /^model\.safetensors\.index\.json: not valid JSON .*; fix or re-download model\.safetensors\.index\.json$/);
  await refused(plainFiles(['config.json', 'tokenizer.json']), /^no \.safetensors file among the files: pick the model's folder/);
});

test('model.safetensors beside an index wins, as in the CLI; picked files are named after the weights', async () => {
  const single = new File([readFileSync(join(dir, shardFile(1)))], 'model.safetensors');
  const input = await modelFromFiles([...plainFiles([INDEX, 'config.json']), single], () => {});
  assert.equal(input.weights.map((w) => w.name), ['model.safetensors']);
  assert.is(input.name, 'model.safetensors');
  assert.is((await modelFromFiles(plainFiles(readdirSync(dir)), () => {})).name, INDEX);
});

function shardFile(i: number): string {
  return `model-${String(i).padStart(5, '0')}-of-00003.safetensors`;
}

test.run();
