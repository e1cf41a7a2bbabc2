// `backward-lens doctor` (issue 14, item 8): which adapter the engine uses and how,
// the driver paths it tried, and, when no driver answers, what to install (exit 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeRandomCheckpoint } from '../checkpoint.ts';

const doctor = (env: Record<string, string> = {}) => spawnSync(process.execPath, ['dist/cli.js', 'doctor'], { encoding: 'utf8', env: { ...process.env, ...env } });

test('doctor names the adapter the engine uses, how it was found, and every driver path tried', () => {
  const r = doctor();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /software driver paths tried:\n/);
  assert.match(r.stdout, /(found|missing) +\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/);
  assert.match(r.stdout, /lvp_icd/);
  assert.match(r.stdout, /^the engine uses: .+$/m);
  assert.match(r.stdout, /^ {2}found as: /m);
  assert.match(r.stdout, /^embedded models \(--model NAME\):\n {2}default: GPT-2 layout.*\/weights\/default\n {2}llama-default: Llama layout.*(\/weights\/llama-default|missing)/m);
});

test('doctor --model: the bytes the weights take on the device, 16-bit matrices kept 16-bit', async () => {
  const { dir } = await writeRandomCheckpoint({ nLayer: 1, nHead: 2, nEmbd: 64, nPositions: 16, vocabSize: 50257, nInner: 256, eps: 1e-5 }, 3, { dtype: 'F16' });
  try {
    const r = spawnSync(process.execPath, ['dist/cli.js', 'doctor', '--model', dir], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    // wte alone is 50257 x 64 halves: 6.1 MiB.
    assert.match(r.stdout, /^weights on the device \(.+\): 6\.\d MiB \(f16 6\.\d MiB, f32 0\.0 MiB\)$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no driver that answers: doctor exits 1 with the line saying what to install', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bl-doctor-'));
  try {
    // A manifest whose driver library does not exist: the Vulkan loader finds no driver.
    const icd = join(dir, 'missing_icd.json');
    writeFileSync(icd, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir, 'libvk_missing.so'), api_version: '1.3.0' } }));
    const r = doctor({ BACKWARD_LENS_VK_ICD: icd });
    assert.is(r.status, 1);
    assert.match(r.stdout, /BACKWARD_LENS_VK_ICD: no adapter/);
    assert.match(r.stderr, /backward-lens: no WebGPU adapter found: .*apt-get install chromium.*mesa-vulkan-drivers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
