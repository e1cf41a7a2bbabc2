// Runs every built test file with uvu in one process (one GPU device for all) and
// ends with the line CI reads: `N passed, N failed`.
// `--pass LABEL "VAR=value ..." PATTERN` (repeatable) runs the test files matching
// PATTERN once more with those variables set, e.g. on another adapter or at
// WebGPU's minimum limits; the last line then counts every pass.
import { spawn } from 'node:child_process';

function parsePasses(argv) {
  const passes = [{ label: 'default', env: {}, pattern: '.test.js$' }];
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--pass') { rest.push(argv[i]); continue; }
    const [label, vars, pattern] = argv.slice(i + 1, i + 4);
    if (pattern === undefined) throw new Error('--pass needs LABEL "VAR=value ..." PATTERN');
    const env = Object.fromEntries(vars.split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    passes.push({ label, env, pattern });
    i += 3;
  }
  return { passes, rest };
}

function run({ label, env, pattern }, rest) {
  if (label !== 'default') console.log(`\n=== test pass: ${label} (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}) ===`);
  const args = ['node_modules/uvu/bin.js', 'dist/test', pattern, ...rest];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
  return new Promise((resolve) => child.on('close', (code) => {
    // eslint-disable-next-line no-control-regex
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
    const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
    const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
    const failed = total - passed + ((code !== 0 && total === passed) || total === 0 ? 1 : 0);
    resolve({ passed, failed });
  }));
}

const { passes, rest } = parsePasses(process.argv.slice(2));
let passed = 0;
let failed = 0;
for (const p of passes) {
  const r = await run(p, rest);
  passed += r.passed;
  failed += r.failed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
