// WikiText-2 (raw) rows for the perplexity metric (App. G.2): the first `count` rows
// of the test split with at least `minChars` characters. A row is one line of
// wiki.test.raw with its newline, as the Hugging Face dataset stores it.
export function wikitextRows(raw: string, count = 100, minChars = 30): string[] {
  const rows: string[] = [];
  for (const line of raw.split('\n')) {
    const row = `${line}\n`;
    if (row.length >= minChars) rows.push(row);
    if (rows.length === count) break;
  }
  return rows;
}
