// Bind group layouts written out from the WGSL instead of 'auto', for the memory of
// their descriptor sets. Dawn gives each layout a pool with room for 512 descriptors
// and allocates every set in it at once; lavapipe backs each set with a page of its own.
// An auto layout of 3 bindings so takes 170 pages (680 KiB) at its first bind group, and
// an analysis's 17 layouts took 8 MiB (bench/RESULTS.md, issue 28, 9). Here entry points
// with the same binding types share one layout, padded with uniform buffer entries to
// 16 descriptors (the limit of 12 uniform buffers a stage allowing): 32 sets a pool, a
// page each. Not with samplers: SwiftShader's sampler descriptors are large (20 MiB
// more at the same peak). Used on lavapipe only (src/gpu/kernels.ts).

/** What a binding holds, as its WGSL declaration says. */
export type BindingKind = 'uniform' | 'read' | 'read_write' | 'texture' | 'uint_texture' | 'storage_texture';

/** Descriptors per set: 16 still fit lavapipe's one page a set (20 take two). */
export const DESCRIPTORS = 16;
/** The padding's binding numbers start here, above any a kernel declares. */
export const PADDING_FROM = 100;

/**
 * The bindings of group 0 that an entry point may use: those its body, or a function it
 * calls, names (not as a member: v.y). A name a local variable shadows counts too (a
 * binding too many only gets a placeholder). Undefined when a binding number would get two kinds, or when the
 * declarations are not understood: the caller then keeps 'auto'.
 */
export function entryBindings(code: string, entry: string): Map<number, BindingKind> | undefined {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  const vars = new Map<string, { binding: number; kind: BindingKind }>();
  for (const m of text.matchAll(/@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*(<[^>]*>)?\s*(\w+)\s*:\s*([^;]+);/g)) {
    const kind = kindOf(m[2] ?? '', m[4]!);
    if (!kind) return undefined;
    vars.set(m[3]!, { binding: Number(m[1]), kind });
  }
  const bodies = new Map<string, Set<string>>();
  for (const m of text.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = text.indexOf('{', m.index);
    if (open < 0) return undefined;
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      if (text[end] === '{') depth++;
      else if (text[end] === '}') {
        depth -= 1;
        if (depth === 0) break;
      }
    }
    // Not after a dot: v.y is a member, not the binding y.
    bodies.set(m[1]!, new Set(text.slice(open, end).match(/(?<![.\w])[A-Za-z_]\w*/g) ?? []));
  }
  if (!bodies.has(entry)) return undefined;
  const names = new Set<string>();
  const pending = [entry];
  const seen = new Set(pending);
  while (pending.length) {
    for (const name of bodies.get(pending.pop()!)!) {
      names.add(name);
      if (bodies.has(name) && !seen.has(name)) {
        seen.add(name);
        pending.push(name);
      }
    }
  }
  const out = new Map<number, BindingKind>();
  for (const [name, { binding, kind }] of vars) {
    if (!names.has(name)) continue;
    if (out.has(binding) && out.get(binding) !== kind) return undefined;
    out.set(binding, kind);
  }
  return out;
}

function kindOf(space: string, type: string): BindingKind | undefined {
  const s = space.replace(/\s/g, '');
  if (s === '<uniform>') return 'uniform';
  if (s === '<storage>' || s === '<storage,read>') return 'read';
  if (s === '<storage,read_write>') return 'read_write';
  if (s === '' && /^texture_2d\s*<\s*f32\s*>$/.test(type.trim())) return 'texture';
  if (s === '' && /^texture_2d\s*<\s*u32\s*>$/.test(type.trim())) return 'uint_texture';
  if (s === '' && /^texture_storage_2d\s*<\s*rgba32float\s*,\s*write\s*>$/.test(type.trim())) return 'storage_texture';
  return undefined;
}

/** The layout's entries for these bindings, in binding order, then at most `padding` uniform buffers. */
export function layoutEntries(bindings: ReadonlyMap<number, BindingKind>, padding: number): GPUBindGroupLayoutEntry[] {
  const visibility = GPUShaderStage.COMPUTE;
  const entries: GPUBindGroupLayoutEntry[] = [...bindings].sort(([a], [b]) => a - b).map(([binding, kind]) => {
    switch (kind) {
      case 'uniform': return { binding, visibility, buffer: { type: 'uniform' } };
      case 'read': return { binding, visibility, buffer: { type: 'read-only-storage' } };
      case 'read_write': return { binding, visibility, buffer: { type: 'storage' } };
      case 'texture': return { binding, visibility, texture: { sampleType: 'unfilterable-float' } };
      case 'uint_texture': return { binding, visibility, texture: { sampleType: 'uint' } };
      case 'storage_texture': return { binding, visibility, storageTexture: { access: 'write-only', format: 'rgba32float' } };
    }
  });
  for (let i = 0; i < padding && entries.length < DESCRIPTORS; i++) entries.push({ binding: PADDING_FROM + i, visibility, buffer: { type: 'uniform' } });
  return entries;
}
