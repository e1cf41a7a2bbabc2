// Runs every built test file with uvu in one process (one GPU device for all) and
// ends with the line CI reads: `N passed, N failed`.
import { spawn } from 'node:child_process';

const args = ['node_modules/uvu/bin.js', 'dist/test', '.test.js$', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
child.on('close', (code) => {
  // eslint-disable-next-line no-control-regex
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const failed = total - passed + (code !== 0 && total === passed ? 1 : 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code === 0 && failed === 0 && total > 0 ? 0 : 1);
});
