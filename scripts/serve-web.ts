// `npm run web`: serves dist/web (the page, its bundle and the default model) on
// 127.0.0.1 with Node's http; a secure context, so navigator.gpu exists. The browser
// test starts the same server.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
};

/** Serves `root` on 127.0.0.1:port (0: any free port); resolves to the server and its URL. */
export async function serveWeb(root: string, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    // URL parsing has already resolved any '..' segments.
    let path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const type = TYPES[extname(path)];
    const body = type ? await readFile(join(root, path)).catch(() => undefined) : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': type!, 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

// Run as `node dist/scripts/serve-web.js [port]`; a test or bench bundles this file
// into its own, where import.meta.url is that bundle's.
const self = fileURLToPath(import.meta.url);
if (self.endsWith('serve-web.js') && self === process.argv[1]) {
  const root = fileURLToPath(new URL('../web/', import.meta.url));
  const { url } = await serveWeb(root, Number(process.argv[2] ?? 8080));
  console.log(`backward-lens web app: ${url}  (Chrome/Edge with WebGPU; Ctrl-C stops)`);
}
