// WikiText-2 (raw) rows for the perplexity metric (App. G.2): the first `count` rows
// of the test split with at least `minChars` characters. A row is one line of
// wiki.test.raw with its newline, as the Hugging Face dataset stores it.
export function wikitextRows(raw: string, count = 100, minChars = 30): string[] {
  return splitAtPerplexityRows(raw, count, minChars).rows;
}

/**
 * The text after the perplexity's rows: the corpus of ROME/MEMIT key statistics
 * (src/edit/located/second-moment.ts), so that statistics and perplexity never share text.
 * ROME used 100k Wikipedia samples; offline, this is the largest held-out text there is.
 */
export function wikitextStatsText(raw: string, count = 100, minChars = 30): string {
  return splitAtPerplexityRows(raw, count, minChars).rest;
}

function splitAtPerplexityRows(raw: string, count: number, minChars: number): { rows: string[]; rest: string } {
  const rows: string[] = [];
  const lines = raw.split('\n');
  let i = 0;
  for (; i < lines.length && rows.length < count; i++) {
    const row = `${lines[i]}\n`;
    if (row.length >= minChars) rows.push(row);
  }
  return { rows, rest: lines.slice(i).join('\n') };
}
