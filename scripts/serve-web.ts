// `npm run web`: serves dist/web (the page, its bundle and the embedded models) on
// 127.0.0.1 with Node's http; a secure context, so navigator.gpu exists. The browser
// test starts the same server. It serves files under its folder and nothing else,
// whatever a request's path spells, and no request can stop it.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
};

const DEFAULT_PORT = 8080;

export const SERVE_USAGE = `usage: node dist/scripts/serve-web.js [--port N]   (npm run web -- --port N)

Serves the web app (dist/web) on http://127.0.0.1:N/, loopback only; N is 0-65535,
${DEFAULT_PORT} by default, 0 for any free port. Only GET and HEAD of files inside dist/web.`;

/**
 * The file a request path names under `root`, or an HTTP status for why there is
 * none. The path is decoded once and then taken literally: a '..' segment, a
 * backslash or a NUL after decoding is refused rather than resolved, so no spelling
 * (%2f, %5c, %2e, doubled escapes) reaches outside `root`.
 */
export function fileFor(root: string, rawUrl: string): string | 400 | 404 {
  const path = rawUrl.split(/[?#]/, 1)[0]!;
  if (!path.startsWith('/')) return 400;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 400;
  }
  if (/[\\\0]/.test(decoded) || decoded.split('/').some((s) => s === '..' || s === '.')) return 400;
  const file = resolve(root, `.${decoded.endsWith('/') ? `${decoded}index.html` : decoded}`);
  const base = resolve(root);
  return file.startsWith(base + sep) && TYPES[extname(file)] ? file : 404;
}

async function answer(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
  const file = fileFor(root, req.url ?? '/');
  if (typeof file === 'number') return void res.writeHead(file).end();
  const body = (await stat(file).catch(() => undefined))?.isFile() ? await readFile(file).catch(() => undefined) : undefined;
  if (!body) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': TYPES[extname(file)]!, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Serves `root` on 127.0.0.1:port (0: any free port); resolves to the server and its URL. */
export async function serveWeb(root: string, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    answer(root, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // A client that sends garbage gets 400 from Node; the socket error must not reach the process.
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((done, fail) => server.once('error', fail).listen(port, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** The port of `--port N` (or a bare N, as before the option existed); a usage message otherwise. */
export function parsePort(argv: readonly string[]): number | { usage: string } | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const args = argv[0] === '--port' ? argv.slice(1) : argv[0]?.startsWith('--port=') ? [argv[0].slice(7), ...argv.slice(1)] : argv;
  if (args.length === 0 && argv.length === 0) return DEFAULT_PORT;
  if (args.length !== 1) return { usage: `serve-web: expected --port N, got "${argv.join(' ')}"` };
  const text = args[0]!;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) return { usage: `serve-web: port "${text}" is not a whole number 0-65535` };
  return Number(text);
}

// Run as `node dist/scripts/serve-web.js [--port N]`; a test or bench bundles this
// file into its own, where import.meta.url is that bundle's.
const self = fileURLToPath(import.meta.url);
if (self.endsWith('serve-web.js') && self === process.argv[1]) {
  const port = parsePort(process.argv.slice(2));
  if (port === 'help') {
    console.log(SERVE_USAGE);
  } else if (typeof port === 'object') {
    console.error(`${port.usage}\n${SERVE_USAGE.split('\n')[0]}`);
    process.exitCode = 2;
  } else {
    const root = fileURLToPath(new URL('../web/', import.meta.url));
    try {
      const { url } = await serveWeb(root, port);
      console.log(`backward-lens web app: ${url}  (Chrome/Edge with WebGPU; Ctrl-C stops)`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? `port ${port} is in use: pass another with --port N (0: any free port)`
        : code === 'EACCES' ? `port ${port} needs privileges: pass one above 1023 with --port N` : (e as Error).message;
      console.error(`serve-web: ${why}`);
      process.exitCode = 1;
    }
  }
}
