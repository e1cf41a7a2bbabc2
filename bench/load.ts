// Loading a 500 MB F32 checkpoint (random, gpt2-small-shaped, written to a temp dir,
// never committed): wall time and the loading process's peak resident memory against
// the file size. The load runs in a child process so the memory spent generating the
// file does not count.
//   node dist/bench/load.js [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getEngine } from '../src/gpu/engine.ts';
import { gpt2, gpt2Config, type Gpt2Sizes } from '../src/model/families/gpt2.ts';
import { checkpointShapes } from '../src/model/families/index.ts';
import { loadModelPath } from '../src/model/load-node.ts';
import { writeSafetensorsFile } from '../src/model/node-file.ts';
import { peakRss } from './lib/memory.ts';

const GPT2_SMALL: Gpt2Sizes = { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: 50257, nInner: 3072, eps: 1e-5 };
const { values } = parseArgs({ options: { child: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('node dist/bench/load.js [--json FILE]: load time and peak memory of a random 500 MB gpt2-small checkpoint');
  process.exit(0);
}

if (values.child) {
  const k = await getEngine();
  const before = peakRss();
  const t0 = performance.now();
  const { model } = await loadModelPath(k, values.child);
  await k.sync();
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, peakRss: peakRss(), rssBeforeLoad: before, params: [...model.params.values()].reduce((s, p) => s + p.size, 0), adapter: k.gpu.adapterName }));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'bl-load-'));
try {
  const tensors = [...checkpointShapes(gpt2Config(GPT2_SMALL))].map(([name, shape]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1e5;
    return { name, dtype: 'F32' as const, shape, data };
  });
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2.writeConfig(gpt2Config(GPT2_SMALL))));
  const fileBytes = statSync(join(dir, 'model.safetensors')).size;
  const runs = [0, 1, 2].map(() => {
    const r = spawnSync(process.execPath, [process.argv[1]!, '--child', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; peakRss: number; rssBeforeLoad: number; adapter: string };
  });
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[1]!;
  const peak = Math.max(...runs.map((r) => r.peakRss));
  console.log(`adapter: ${runs[0]!.adapter}`);
  console.log(`file ${(fileBytes / 1e6).toFixed(0)} MB; load median of 3: ${(ms / 1000).toFixed(2)} s (${(fileBytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s)`);
  console.log(`peak RSS of the loading process ${(peak / 1e6).toFixed(0)} MB = ${(peak / fileBytes).toFixed(2)} x the file (before loading: ${(runs[0]!.rssBeforeLoad / 1e6).toFixed(0)} MB)`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ fileBytes, runs, medianMs: ms, peakRss: peak, ratio: peak / fileBytes }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
