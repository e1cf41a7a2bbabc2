import { factorTensors } from '../lens/factor-export.ts';
import { GradientPass } from '../pass/pass.ts';
import { preparePair } from '../pass/prepare.ts';
import { checkFiniteLogits } from '../model/finite.ts';
import { writeSafetensorsNew } from '../model/node-file.ts';
import { MODEL_OPTION, loadModel, oneOf, parse, reportWarnings, required, UsageError, type Command } from './common.ts';
import { OutputSet } from './output-file.ts';
import { FF1_NAMES, namesOf } from '../model/families/index.ts';
import { ROLES } from '../model/config.ts';

const usage = `backward-lens factors --prompt TEXT --target TEXT --out FILE.safetensors [--model DIR|NAME] [--target-tokens first|all] [--strict]

Runs one forward and backward pass and writes every linear module's gradient
factors under the checkpoint's name of the module (its weight's name without
.weight and a leading model.): NAME.x [n, in] (the layer inputs x_i) and
NAME.delta [n, out] (the VJPs delta_i), so that dL/dW = delta^T x in nn.Linear's
[out, in] (x^T delta in GPT-2's Conv1D [in, out]); e.g. h.{l}.mlp.c_fc.x,
layers.{l}.self_attn.k_proj.delta. Plus logits [vocab] at the last prompt
position and input_ids [n] (I32); under a reduced vocabulary the metadata
"vocab" lists the GPT-2 id of every model id. Modules:
  ${ROLES.map(namesOf).join(';\n  ')};
FF1 is ${FF1_NAMES}. Modules that read the same input (q/k/v, gate/up) have
equal x. Load in Python with safetensors.torch.load_file(FILE).

  --prompt TEXT          the prompt
  --target TEXT          the new answer; the loss is its first token's NLL at the
                         last prompt position (start words with a space: " Paris")
  --target-tokens all    teacher-force every target token and sum their NLLs
  --out FILE             output .safetensors (written atomically)
  --strict               refuse text the model's vocabulary spells in single bytes
                         (and a target whose first token is a lone byte), instead
                         of warning
  --model DIR|NAME       config.json + model.safetensors (or its shards with their
                         index), or an embedded model by name:
                         default (GPT-2, used when absent) or llama-default`;

export const factorsCommand: Command = {
  summary: 'write the gradient factors x_i, delta_i of every linear layer to a safetensors file',
  usage,
  async run(argv) {
    const { values } = parse(argv, { ...MODEL_OPTION, prompt: { type: 'string' }, target: { type: 'string' }, out: { type: 'string' }, 'target-tokens': { type: 'string' }, strict: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage);
    const out = required(values.out, '--out');
    if (!out.endsWith('.safetensors')) throw new UsageError(`--out ${out}: the file name must end in .safetensors`);
    const mode = oneOf(values['target-tokens'], '--target-tokens', ['first', 'all'] as const, 'first');
    const files = await OutputSet.check([['--out', out]]);
    const { model, tokenizer, vocab } = await loadModel(values.model);
    const prepared = preparePair(model, tokenizer, required(values.prompt, '--prompt'), required(values.target, '--target'), mode);
    reportWarnings(prepared.warnings, values.strict ?? false);
    const pass = GradientPass.fromPrepared(model, [prepared], { targetTokens: mode });
    try {
      const { loss, logits } = (await pass.readOutputs())[0]!;
      const pair = pass.pairs[0]!;
      checkFiniteLogits(logits, JSON.stringify(pair.prompt));
      const tensors = await factorTensors(pass, 0);
      await files.stage(out, (temp) => writeSafetensorsNew(temp, tensors, { prompt: pair.prompt, target: pair.target, target_tokens: mode, loss: String(loss), ...(vocab ? { vocab: JSON.stringify(vocab) } : {}) }));
      await files.commit();
      console.log(`wrote ${tensors.length} tensors (${pair.ids.length} tokens, ${model.config.nLayer} layers) to ${out}; loss ${loss.toFixed(4)}`);
    } finally {
      pass.dispose();
      await files.discard();
    }
  },
};
