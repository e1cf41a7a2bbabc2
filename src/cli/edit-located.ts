// `backward-lens edit --method rome:layer=L | memit:layers=A-B`: the located edits,
// which need each pair's subject and the layers' second-moment statistics. Shares
// the before/after display and the output files with the other edit methods.
import { LocatedEditor } from '../edit/located/editor.ts';
import { look } from '../edit/look.ts';
import { AUTHORS_VALUES, locatedDefaults } from '../edit/located/rome-hparams.ts';
import { checkEditReaches } from '../edit/located/value-vector.ts';
import { parseMethod } from '../eval/methods.ts';
import { BadInputError } from '../errors.ts';
import { saveModelDir } from '../model/save-node.ts';
import { capTokens, loadModel, modelInfo, UsageError, modelPath, isDefaultModel } from './common.ts';
import { renderChanges, renderPairs, renderRounding } from '../report/edit.ts';
import { layerMoments } from './moments.ts';
import { checkOutputDir } from './output-dir.ts';
import { OutputSet, textWriter } from './output-file.ts';

/** Said after the weight changes when no --out was given. */
export const unsavedNote = (saved: boolean): string[] => (saved ? [] : ['(the edit lived in memory only: the model on disk is unchanged; --out DIR saves the edited model)']);

export interface LocatedArgs {
  method: string;
  model: string | undefined;
  pairs: { prompt: string; target: string; subject?: string; where: string }[];
  subject: string | undefined;
  cache: string | undefined;
  tokens: number;
  out: string | undefined;
  /** How --out writes edited matrices of a 16-bit model. */
  dtype: 'f32' | 'source';
  force: boolean;
  json: string | undefined;
  /** Options of the other methods that were given (refused here). */
  foreign: string[];
}

export const isLocated = (method: string): boolean => /^(rome|memit)(:|$)/.test(method);

export async function editLocated(a: LocatedArgs): Promise<void> {
  if (a.foreign.length) throw new UsageError(`${a.foreign.join(', ')} ${a.foreign.length > 1 ? 'do' : 'does'} not apply to ${a.method.split(':')[0]} (its hyperparameters are ROME's/MEMIT's own: docs/rome-memit.md)`);
  const pairs = a.pairs.map((p) => {
    const subject = p.subject ?? a.subject;
    if (subject === undefined) throw new UsageError(`${p.where ? `${p.where}: ` : ''}rome and memit need the subject: pass --subject TEXT (or "subject" in each --pairs line)`);
    return { ...p, subject };
  });
  const files = await OutputSet.check([['--json', a.json]]);
  if (a.out !== undefined) await checkOutputDir(a.out, '--out', a.force);
  const loaded = await loadModel(a.model);
  const { model, tokenizer } = loaded;
  const defaults = locatedDefaults(model.config, isDefaultModel(a.model));
  const bare = a.method === 'rome' || a.method === 'memit';
  if (bare && !defaults) throw new UsageError(`--method ${a.method} needs its layers on this model: ${a.method === 'rome' ? 'rome:layer=L' : 'memit:layers=A-B'}`);
  const spec = parseMethod(bare ? (a.method === 'rome' ? `rome:layer=${defaults!.romeLayer}` : `memit:layers=${defaults!.memitLayers[0]}-${defaults!.memitLayers.at(-1)}`) : a.method);
  if (spec.kind !== 'rome' && spec.kind !== 'memit') throw new UsageError(`--method ${a.method} is not rome or memit`);
  const bad = spec.layers.find((l) => l >= model.config.nLayer);
  if (bad !== undefined) throw new BadInputError(`layer ${bad} does not exist: this model has layers 0-${model.config.nLayer - 1}`);
  for (const p of pairs) {
    try {
      checkEditReaches(tokenizer, p.prompt, p.subject, Math.max(...spec.layers), model.config.nLayer);
    } catch (e) {
      throw p.where && e instanceof BadInputError ? new BadInputError(`${p.where}: ${e.message}`) : e;
    }
  }
  const moments = await layerMoments(loaded, spec.layers, { model: a.model, ...(a.cache === undefined ? {} : { cache: a.cache }) });
  const editor = new LocatedEditor(model, tokenizer, async (l) => moments.get(l)!.moment);
  await editor.contexts(spec.kind);
  const row = defaults ?? AUTHORS_VALUES;
  const lambda = spec.kind === 'memit' ? (spec.lambda ?? row.memitLambda) : 0;
  const value = spec.kind === 'rome' ? row.romeValue : row.memitValue;

  const tokens = capTokens(a.tokens, model.config.nPositions);
  const before = await look(model, tokenizer, pairs, tokens);
  const started = performance.now();
  const result = await editor.apply({ method: spec.kind, layers: spec.layers, lambda, value }, pairs);
  const seconds = (performance.now() - started) / 1000;
  const after = await look(model, tokenizer, pairs, tokens);
  const steps = result.losses.map((l) => `${l.length} steps, loss ${l[0]!.toPrecision(3)} → ${l[l.length - 1]!.toPrecision(3)}`);
  const head = `${spec.label}${spec.kind === 'memit' ? ` (λ ${lambda})` : ''}: value search ${steps.join('; ')}; ${seconds.toFixed(2)} s${bare ? ` (layers from ${defaults!.source})` : ''}`;
  process.stdout.write(`${[head, ...renderPairs(pairs, before, after), ...renderChanges(result.changes), ...unsavedNote(a.out !== undefined)].join('\n')}\n`);

  try {
    if (a.json !== undefined) {
      const doc = { version: 1, model: modelInfo(a.model, model), method: spec.label, lambda, ...result, seconds, pairs: pairs.map((p, i) => ({ prompt: p.prompt, subject: p.subject, target: p.target, before: before[i], after: after[i] })) };
      await files.stage(a.json, textWriter(`${JSON.stringify(doc, null, 2)}\n`));
    }
    if (a.out !== undefined) {
      const rounded = await saveModelDir(model, modelPath(a.model), a.out, { replace: a.force, dtype: a.dtype, metadata: { backward_lens_edit: JSON.stringify({ method: spec.label, lambda, pairs: pairs.map(({ prompt, subject, target }) => ({ prompt, subject, target })) }) } });
      process.stderr.write(`backward-lens: wrote the edited model to ${a.out}\n${renderRounding(rounded)}`);
    }
    await files.commit();
    if (a.json !== undefined) process.stderr.write(`backward-lens: wrote ${a.json} (json)\n`);
  } finally {
    await files.discard();
  }
}
