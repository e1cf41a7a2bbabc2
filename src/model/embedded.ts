// The models shipped under weights/ and the names that pick them (--model NAME in the
// CLI, loadModel(NAME) in the library; the web page lists the folders the build finds
// under weights/, in dist/web/models/index.json). Data only: Node resolves the folders
// in load-default.ts.

export interface EmbeddedModel {
  /** What --model takes. */
  readonly name: string;
  /** Its folder under weights/. */
  readonly folder: string;
  /** One line for doctor and the page. */
  readonly description: string;
}

export const EMBEDDED_MODELS: readonly EmbeddedModel[] = [
  { name: 'default', folder: 'default', description: 'GPT-2 layout, 4 layers, trained here on 1,000 CounterFact records (the model used when none is named)' },
  { name: 'llama-default', folder: 'llama-default', description: 'Llama layout (RMSNorm, rotary, SwiGLU, GQA 8/4, untied head), 4 layers, trained here on the same records' },
];

/** The embedded model a --model value names: `undefined` is the default one; a path names none. */
export function embeddedModel(value: string | undefined): EmbeddedModel | undefined {
  return EMBEDDED_MODELS.find((m) => m.name === (value ?? 'default'));
}
