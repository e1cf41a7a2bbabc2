// The kernel benchmark in a page: the same cases as `npm run bench`, on the
// browser's WebGPU adapter. Options come from the query string (?quick=1&reps=5&only=matmul&spin=1);
// bench/chromium.ts drives it headless and reads window.benchDone.
import { getEngine } from '../src/gpu/engine.ts';
import { DEFAULTS, ROOFLINE, measureAll, resultLine, rooflineLine, table, type Result } from './lib/harness.ts';
import { ourSpecs, select, tfjsOn, tfjsSpecs } from './lib/suite.ts';

export interface BrowserReport {
  date: string;
  runtime: string;
  adapter: string;
  options: typeof DEFAULTS & { quick: boolean; only: string | null };
  roofline: typeof ROOFLINE | null;
  results: Result[];
  table: string;
}

function show(line: string): void {
  console.log(line);
  const pre = document.querySelector('pre') ?? document.body.appendChild(document.createElement('pre'));
  pre.textContent += `${line}\n`;
}

async function main(): Promise<BrowserReport> {
  const q = new URLSearchParams(location.search);
  const quick = q.has('quick');
  const reps = Number(q.get('reps') ?? (quick ? 5 : DEFAULTS.reps));
  const only = q.get('only');
  const options = { ...DEFAULTS, reps, ...(q.has('spin') ? { sleepBeforeSync: 0 } : {}) };
  const k = await getEngine();
  const adapter = k.gpu.adapterName;
  const cases = select(ourSpecs(k), tfjsSpecs(k, await tfjsOn(k.device)), { quick, ...(only ? { only } : {}) });
  const roofline = k.gpu.software ? ROOFLINE : undefined;
  show(`adapter: ${adapter}`);
  if (roofline) show(rooflineLine(roofline));
  const results = await measureAll(cases, adapter, options, roofline, (r) => show(resultLine(r)));
  const t = table(results);
  show(`\n${t}`);
  return {
    date: new Date().toISOString(), runtime: navigator.userAgent, adapter,
    options: { ...options, quick, only }, roofline: roofline ?? null, results, table: t,
  };
}

(window as unknown as { benchDone: Promise<BrowserReport> }).benchDone = main();
