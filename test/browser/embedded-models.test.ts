// The page's embedded models as the build lists them: dist/web/models/index.json
// names every folder under weights/ that holds config.json and weights, default
// first (the page loads the first at once), with copies of its model files and
// their sizes; nothing else of the folder (a model card) goes beside the page.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EmbeddedModel } from '../../web/embedded-models.ts';

const LIST = 'dist/web/models/index.json';
const hasWeights = (d: string) => ['model.safetensors', 'model.safetensors.index.json'].some((f) => existsSync(join('weights', d, f)));

test('models/index.json lists the model folders under weights/, default first, with their files copied', () => {
  const list = JSON.parse(readFileSync(LIST, 'utf8')) as EmbeddedModel[];
  const folders = readdirSync('weights').filter((d) => existsSync(join('weights', d, 'config.json')) && hasWeights(d));
  assert.is(list[0]!.name, 'default');
  assert.equal(list.map((m) => m.name).sort(), folders.sort());
  for (const m of list) {
    assert.ok(m.files.includes('config.json'), `${m.name}: config.json`);
    assert.not.ok(m.files.some((f) => f.endsWith('.md')), `${m.name}: only model files`);
    for (const f of m.files) assert.ok(readFileSync(join('dist/web/models', m.name, f)).equals(readFileSync(join('weights', m.name, f))), `${m.name}/${f} copied`);
    assert.is(m.bytes, m.files.reduce((n, f) => n + statSync(join('weights', m.name, f)).size, 0), `${m.name}: bytes`);
  }
});

test.run();
