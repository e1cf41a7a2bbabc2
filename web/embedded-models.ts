// The models the page ships: every model folder under weights/ that the build
// copies to models/<name>/ and lists in models/index.json, so a new one needs no
// change to the page. Each is downloaded with progress and then read like the
// visitor's files.
import { BadModelError } from '../src/model/config.ts';
import { familyOf, readConfig } from '../src/model/families/index.ts';
import { modelFromFiles, type ModelInput, type Progress } from './model-source.ts';

/** One entry of models/index.json (scripts/build.mjs writes it). */
export interface EmbeddedModel {
  name: string;
  /** File names inside models/<name>/. */
  files: string[];
  /** Their sizes added up, for the progress bar. */
  bytes: number;
}

const MISSING = 'build with npm run build, which copies weights/*/ beside the page';

export async function embeddedModels(): Promise<EmbeddedModel[]> {
  const res = await fetch('models/index.json');
  if (!res.ok) throw new BadModelError(`the list of embedded models is missing beside the page (models/index.json: HTTP ${res.status}); ${MISSING}`);
  return (await res.json()) as EmbeddedModel[];
}

/** "name (family, L layers)" for the picker, from the model's config.json; just the name where that cannot be read. */
export async function describeEmbedded(m: EmbeddedModel): Promise<string> {
  try {
    const res = await fetch(`models/${m.name}/config.json`);
    const config = readConfig(await res.json(), 'config.json');
    return `${m.name} (${familyOf(config).displayName}, ${config.nLayer} layers)`;
  } catch {
    return m.name;
  }
}

/** Downloads an embedded model's files with progress; its weights are then read from memory, slice by slice. */
export async function embeddedModel(m: EmbeddedModel, onRead: (p: Progress) => void): Promise<ModelInput> {
  const progress: Progress = { bytes: 0, total: m.bytes, tensors: 0 };
  const files: File[] = [];
  for (const name of m.files) {
    const res = await fetch(`models/${m.name}/${name}`);
    if (!res.ok || !res.body) throw new BadModelError(`the embedded model ${m.name} is missing ${name} beside the page (HTTP ${res.status}); ${MISSING}`);
    const chunks: Uint8Array[] = [];
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      progress.bytes += value.length;
      onRead({ ...progress, total: Math.max(progress.total, progress.bytes) });
    }
    files.push(new File(chunks as BlobPart[], name));
  }
  return modelFromFiles(files, onRead, m.name, true);
}
