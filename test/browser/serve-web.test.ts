// The web app's server under attack: malformed escapes, traversal in every
// spelling, other methods, absolute-form targets. Each request gets a status, never
// a file outside the served folder, and the server answers normally afterwards.
// The script itself: --help, a bad port and a port in use are one line each.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { serveWeb } from '../../scripts/serve-web.ts';

const SECRET = '{"secret": "outside the served folder"}';
const dir = mkdtempSync(join(tmpdir(), 'bl-serve-'));
// Secrets one and two levels above the served folder, so every depth of '..' would find one.
const root = join(dir, 'a', 'served');
mkdirSync(join(root, 'model'), { recursive: true });
writeFileSync(join(dir, 'secret.json'), SECRET);
writeFileSync(join(dir, 'a', 'secret.json'), SECRET);
writeFileSync(join(root, 'index.html'), '<!doctype html><title>page</title>');
writeFileSync(join(root, 'model', 'config.json'), '{"n_layer": 1}');
let server: Server;
let port = 0;

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request with the path exactly as written (curl --path-as-is). */
function send(path: string, method = 'GET'): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function stillServes(): Promise<void> {
  const r = await send('/');
  assert.is(r.status, 200, 'the server answers afterwards');
  assert.match(r.body, /<title>page<\/title>/);
}

test.before(async () => {
  const s = await serveWeb(root);
  server = s.server;
  port = Number(new URL(s.url).port);
});
test.after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('files inside the folder: GET and HEAD', async () => {
  assert.is((await send('/')).status, 200);
  const config = await send('/model/config.json?x=1');
  assert.is(config.status, 200);
  assert.is(config.body, '{"n_layer": 1}');
  const head = await send('/model/config.json', 'HEAD');
  assert.is(head.status, 200);
  assert.is(head.headers['content-length'], '14');
  assert.is(head.body, '');
  assert.is((await send('/model/missing.json')).status, 404);
  assert.is((await send('/model/')).status, 404, 'a folder without index.html');
  assert.is((await send('/model')).status, 404, 'a folder is not a file');
});

test('malformed escapes are 400 and do not stop the server', async () => {
  for (const path of ['/%zz', '/%E0%A4%A.js', '/%', '/model/%c0%ae%c0%ae.json']) {
    assert.is((await send(path)).status, 400, path);
    await stillServes();
  }
});

test('traversal in any spelling never reaches a file outside the folder', async () => {
  const paths = [
    '/../secret.json', '/../../secret.json', '/model/../../secret.json',
    '/..%2fsecret.json', '/..%2f..%2fsecret.json', '/..%2F..%2Fsecret.json', '/model%2f..%2f..%2fsecret.json',
    '/..%5csecret.json', '/..%5c..%5csecret.json', '/..\\..\\secret.json',
    '/%2e%2e/secret.json', '/%2e%2e/%2e%2e/secret.json', '/%2E%2E%2F%2E%2E%2Fsecret.json', '/.%2e/secret.json',
    '/..%252f..%252fsecret.json', '/%252e%252e/%252e%252e/secret.json', '/%25252e%25252e/secret.json',
    '/./../secret.json', '//../secret.json', '/model/config.json%00.html', '/%00',
  ];
  for (const path of paths) {
    const r = await send(path);
    assert.ok(r.status === 400 || r.status === 404, `${path}: status ${r.status}`);
    assert.not.match(r.body, /secret/, path);
  }
  await stillServes();
});

test('a request target that is not a path is 400', async () => {
  for (const path of ['http://127.0.0.1/../secret.json', '*']) assert.is((await send(path)).status, 400, path);
  await stillServes();
});

test('only GET and HEAD: 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await send('/', method);
    assert.is(r.status, 405, method);
    assert.is(r.headers.allow, 'GET, HEAD');
  }
  await stillServes();
});

const script = (args: string[]) => spawnSync(process.execPath, ['dist/scripts/serve-web.js', ...args], { encoding: 'utf8', timeout: 30_000 });

test('the script: --help, a bad port and a port in use are one line, no stack', () => {
  const help = script(['--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /--port N/);
  for (const bad of [['abc'], ['--port', '70000'], ['--port', '-1'], ['--port'], ['--port', '1', 'x']]) {
    const r = script(bad);
    assert.is(r.status, 2, bad.join(' '));
    assert.match(r.stderr, /^serve-web: .*\nusage: /, bad.join(' '));
    assert.not.match(r.stderr, /\n\s+at /);
  }
  const busy = script(['--port', String(port)]);
  assert.is(busy.status, 1);
  assert.is(busy.stderr, `serve-web: port ${port} is in use: pass another with --port N (0: any free port)\n`);
});

test.run();
