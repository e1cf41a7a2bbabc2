// The analysis settings in the URL hash (#prompt=...&target=...), so a view can be
// shared as a link; the page reads it on load and on every hashchange, and writes it
// on every run. Values go back into the form as text and are checked like typed ones.
import { LINEAR_MODULES, type LinearModule } from '../src/model/config.ts';

export interface ViewSettings {
  prompt: string;
  target: string;
  k: number;
  normalized: boolean;
  /** The layers field as typed (the CLI's --layers grammar); absent: every layer. */
  layers?: string;
  modules: LinearModule[];
}

/** What a link sets, as the form's text; absent keys keep the form's values. */
export interface HashSettings {
  prompt?: string;
  target?: string;
  k?: string;
  normalized?: boolean;
  layers?: string;
  modules?: LinearModule[];
}

export function writeHash(s: ViewSettings): void {
  const q = new URLSearchParams({ prompt: s.prompt, target: s.target, k: String(s.k) });
  if (s.normalized) q.set('normalized', '1');
  if (s.layers) q.set('layers', s.layers);
  if (s.modules.length !== LINEAR_MODULES.length) q.set('modules', s.modules.join(','));
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
  if (modules) out.modules = modules.split(',').filter((m): m is LinearModule => (LINEAR_MODULES as readonly string[]).includes(m));
  return out;
}
