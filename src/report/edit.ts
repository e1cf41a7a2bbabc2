// What `edit` prints for every method: each pair before and after, and the weight changes.
import type { Side } from '../edit/look.ts';
import type { WeightChange } from '../edit/types.ts';
import type { Rounding } from '../model/save-node.ts';

/** Each pair's top-5 and target before and after, and the continuations. */
export function renderPairs(pairs: readonly { prompt: string; target: string }[], before: Side[], after: Side[], notes: readonly string[] = []): string[] {
  const lines: string[] = [];
  const pct = (p: number) => (p >= 0.001 ? `${(100 * p).toFixed(1)} %` : `${p.toExponential(1)}`);
  const side = (label: string, x: Side) => [
    `  ${label}  ${x.top.map((t) => `${JSON.stringify(t.text)} ${pct(t.prob)}`).join(', ')}`,
    `  ${' '.repeat(label.length)}  target ${JSON.stringify(x.target.text)}: rank ${x.target.rank}, p ${pct(x.target.prob)}`,
  ];
  pairs.forEach((p, i) => {
    lines.push('', `${JSON.stringify(p.prompt)} → ${JSON.stringify(p.target)}${notes[i] ?? ''}`);
    lines.push(...side('before', before[i]!), ...side('after ', after[i]!));
    if (before[i]!.continuation || after[i]!.continuation) {
      lines.push(`  continuation before: ${JSON.stringify(p.prompt + before[i]!.continuation)}`, `  continuation after:  ${JSON.stringify(p.prompt + after[i]!.continuation)}`);
    }
  });
  return lines;
}

/** The norm of each weight change. */
export function renderChanges(changes: readonly WeightChange[]): string[] {
  const lines = ['', changes.length ? 'weight changes (‖ΔW‖ Frobenius, relative to ‖W‖):' : 'no weight changed'];
  for (const c of changes) lines.push(`  ${c.name.padEnd(26)} ${c.norm.toPrecision(4)}  (${(100 * c.norm / c.originalNorm).toFixed(2)} %)`);
  return lines;
}

/** What rounding edited matrices back to 16 bits (--dtype source) did to each edit, for stderr. */
export function renderRounding(rounded: readonly Rounding[]): string {
  return rounded.map((r) => `backward-lens: ${r.name} written in ${r.dtype}: the rounding changed its edit by ${(100 * r.relative).toFixed(2)} % (‖rounding error‖ / ‖ΔW‖)\n`).join('');
}
