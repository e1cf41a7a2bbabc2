import { factorTensors } from '../lens/factor-export.ts';
import { GradientPass } from '../lens/pass.ts';
import { writeSafetensorsFile } from '../model/node-file.ts';
import { MODEL_OPTION, loadModel, oneOf, parse, required, UsageError, type Command } from './common.ts';

const usage = `backward-lens factors --prompt TEXT --target TEXT --out FILE.safetensors [--model DIR] [--target-tokens first|all]

Runs one forward and backward pass and writes every linear layer's gradient
factors: h.{l}.{module}.x [n, in] (the layer inputs x_i) and h.{l}.{module}.delta
[n, out] (the VJPs delta_i), so that dL/dW = x^T delta; plus logits [vocab] at the
last prompt position and input_ids [n] (I32). Modules: attn.c_attn, attn.c_proj,
mlp.c_fc (FF1), mlp.c_proj (FF2). Load in Python with
safetensors.torch.load_file(FILE).

  --prompt TEXT          the prompt
  --target TEXT          the new answer; the loss is its first token's NLL at the
                         last prompt position (start words with a space: " Paris")
  --target-tokens all    teacher-force every target token and sum their NLLs
  --out FILE             output .safetensors (written atomically)
  --model DIR            config.json + model.safetensors (default: the embedded model)`;

export const factorsCommand: Command = {
  summary: 'write the gradient factors x_i, delta_i of every linear layer to a safetensors file',
  usage,
  async run(argv) {
    const { values } = parse(argv, { ...MODEL_OPTION, prompt: { type: 'string' }, target: { type: 'string' }, out: { type: 'string' }, 'target-tokens': { type: 'string' } }, usage);
    if (values.help) return void console.log(usage);
    const out = required(values.out, '--out');
    if (!out.endsWith('.safetensors')) throw new UsageError(`--out ${out}: the file name must end in .safetensors`);
    const mode = oneOf(values['target-tokens'], '--target-tokens', ['first', 'all'] as const, 'first');
    const { model, tokenizer } = await loadModel(values.model);
    const pass = GradientPass.run(model, tokenizer, [{ prompt: required(values.prompt, '--prompt'), target: required(values.target, '--target') }], { targetTokens: mode });
    try {
      const tensors = await factorTensors(pass, 0);
      const { loss } = (await pass.readOutputs())[0]!;
      const pair = pass.pairs[0]!;
      await writeSafetensorsFile(out, tensors, { prompt: pair.prompt, target: pair.target, target_tokens: mode, loss: String(loss) });
      console.log(`wrote ${tensors.length} tensors (${pair.ids.length} tokens, ${model.config.nLayer} layers) to ${out}; loss ${loss.toFixed(4)}`);
    } finally {
      pass.dispose();
    }
  },
};
