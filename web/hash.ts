// The analysis settings in the URL hash (#prompt=...&target=...), so a view can be
// shared as a link; the page reads it on load and writes it on every run.
import { ROLES, type Role } from '../src/model/config.ts';
import { roleNamed } from '../src/model/families/index.ts';

export interface ViewSettings {
  prompt: string;
  target: string;
  k: number;
  normalized: boolean;
  /** Undefined: every layer. */
  layers?: number[];
  modules: Role[];
}

export function writeHash(s: ViewSettings): void {
  const q = new URLSearchParams({ prompt: s.prompt, target: s.target, k: String(s.k) });
  if (s.normalized) q.set('normalized', '1');
  if (s.layers) q.set('layers', s.layers.join(','));
  if (s.modules.length !== ROLES.length) q.set('modules', s.modules.join(','));
  history.replaceState(null, '', `#${q}`);
}

/** What the hash sets; absent keys keep the form's values. */
export function readHash(): Partial<ViewSettings> {
  const q = new URLSearchParams(location.hash.slice(1));
  const out: Partial<ViewSettings> = {};
  const prompt = q.get('prompt');
  const target = q.get('target');
  if (prompt !== null) out.prompt = prompt;
  if (target !== null) out.target = target;
  if (q.has('k')) out.k = Number(q.get('k'));
  if (q.has('normalized')) out.normalized = q.get('normalized') === '1';
  const layers = q.get('layers');
  if (layers) out.layers = layers.split(',').map(Number).filter(Number.isInteger);
  const modules = q.get('modules');
  // Roles, or (links made before roles) the checkpoint's module names.
  if (modules) out.modules = modules.split(',').flatMap((m) => roleNamed(m) ?? []);
  return out;
}
