// Tensor names both ways for a family whose parameters are each one stored tensor
// (GPT-2, GPT-NeoX): canonical part -> the checkpoint's module, inside a block
// (`{blockPrefix}{l}.{module}.weight`) and outside (`{module}.weight`); buffers
// (masks, rotary frequencies) are no parameter.
import { BadModelError, type Role } from '../config.ts';
import type { Family } from './family.ts';

type Table = Readonly<Record<string, string>>;

const invert = (o: Table): Table => Object.fromEntries(Object.entries(o).map(([a, b]) => [b, a]));

export interface NameTableOptions {
  /** Stored names matching it are buffers, not parameters. */
  buffer: RegExp;
  /** A prefix some checkpoints put before every name (GPT-2's `transformer.`). */
  optionalPrefix?: string;
}

export function nameTable(displayName: string, blockPrefix: string, block: Table, top: Table, opts: NameTableOptions): Pick<Family, 'canonical' | 'checkpointName' | 'parts'> {
  const blockBack = invert(block);
  const topBack = invert(top);
  const prefix = blockPrefix.replaceAll('.', '\\.');
  const stored = new RegExp(`^${prefix}(\\d+)\\.(.+)\\.(weight|bias)$`);
  const checkpointName = (name: string): string => {
    const b = /^blocks\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name);
    const t = /^(\w+)\.(weight|bias)$/.exec(name);
    const [table, key] = b ? [block, b[2]!] : [top, t?.[1] ?? ''];
    if (!Object.hasOwn(table, key)) throw new BadModelError(`${displayName} has no tensor for the canonical parameter ${name}`);
    return b ? `${blockPrefix}${b[1]}.${table[key]}.${b[3]}` : `${table[key]}.${t![2]}`;
  };
  return {
    canonical(full) {
      const name = opts.optionalPrefix && full.startsWith(opts.optionalPrefix) ? full.slice(opts.optionalPrefix.length) : full;
      if (opts.buffer.test(name)) return null;
      const b = stored.exec(name);
      if (b) return Object.hasOwn(blockBack, b[2]!) ? `blocks.${b[1]}.${blockBack[b[2]!]}.${b[3]}` : undefined;
      const t = /^(.+)\.(weight|bias)$/.exec(name);
      return t && Object.hasOwn(topBack, t[1]!) ? `${topBack[t[1]!]}.${t[2]}` : undefined;
    },
    checkpointName,
    parts: (name) => [checkpointName(name)],
  };
}

/** The module names of such a family, every role one stored module: `{blockPrefix}{l}.{module}` inside block l. */
export function wholeModules(blockPrefix: string, modules: Readonly<Record<Role, string>>): Pick<Family, 'modules' | 'moduleParts' | 'ff1' | 'blockName' | 'linearName'> {
  return {
    modules,
    moduleParts: { attn_in: [modules.attn_in], attn_out: [modules.attn_out], ff_in: [modules.ff_in], ff_out: [modules.ff_out] },
    ff1: modules.ff_in,
    blockName: (layer, module) => `${blockPrefix}${layer}.${module}`,
    linearName: (layer, role) => `${blockPrefix}${layer}.${modules[role]}`,
  };
}
