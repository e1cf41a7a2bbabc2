// The analysis settings in the URL hash (#prompt=...&target=...), so a view can be
// shared as a link; the page reads it on load and on every hashchange, and writes it
// on every run. Values go back into the form as text and are checked like typed ones.
import { ROLES, type Role } from '../src/model/config.ts';
import { roleNamed } from '../src/model/families/index.ts';

export interface ViewSettings {
  prompt: string;
  target: string;
  k: number;
  normalized: boolean;
  /** The layers field as typed (the CLI's --layers grammar); absent: every layer. */
  layers?: string;
  modules: Role[];
}

/** What a link sets, as the form's text; absent keys keep the form's values. */
export interface HashSettings {
  prompt?: string;
  target?: string;
  k?: string;
  normalized?: boolean;
  layers?: string;
  modules?: Role[];
}

export function writeHash(s: ViewSettings): void {
  const q = new URLSearchParams({ prompt: s.prompt, target: s.target, k: String(s.k) });
  if (s.normalized) q.set('normalized', '1');
  if (s.layers) q.set('layers', s.layers);
  if (s.modules.length !== ROLES.length) q.set('modules', s.modules.join(','));
  history.replaceState(null, '', `#${q}`);
}

export function readHash(): HashSettings {
  const q = new URLSearchParams(location.hash.slice(1));
  const out: HashSettings = {};
  for (const key of ['prompt', 'target', 'k', 'layers'] as const) {
    const value = q.get(key);
    if (value !== null) out[key] = value;
  }
  if (q.has('normalized')) out.normalized = q.get('normalized') === '1';
  const modules = q.get('modules');
  // Roles, or (links made before roles) the checkpoint's module names.
  if (modules) out.modules = modules.split(',').flatMap((m) => roleNamed(m) ?? []);
  return out;
}
