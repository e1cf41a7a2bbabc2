// A second thread for the CPU lens (lens-wasm.ts): a worker that runs lensCore on the
// chunks it is sent, in Node (worker_threads) and in a browser (a Worker from a Blob)
// alike. Its code is lens-core.ts's function as text, so no second bundle has to be
// found at run time. One worker per lens call (~20 ms to start in Node): kept idle, it
// held ~15 MB until the end of `analyze`, where the peak is.
import { lensCore, type CoreSetup } from './lens-core.ts';

type Message =
  | { type: 'setup'; module: WebAssembly.Module; setup: CoreSetup }
  | { type: 'chunk'; id0: number; n: number; data: Float32Array; skipped: Int32Array }
  | { type: 'result' };

/** The worker's side; `makeCore` is lensCore, passed in as text. */
function workerMain(makeCore: typeof lensCore): void {
  const g = globalThis as unknown as { require?: (id: string) => { parentPort: Port }; self: Port & { onmessage: unknown } };
  interface Port {
    postMessage(m: unknown, transfer?: Transferable[]): void;
    on?(event: 'message', f: (m: Message) => void): void;
  }
  const port: Port = g.require ? g.require('node:worker_threads').parentPort : g.self;
  let core: ReturnType<typeof lensCore> | undefined;
  const handle = (m: Message) => {
    if (m.type === 'setup') {
      core = makeCore(m.module, m.setup);
    } else if (m.type === 'chunk') {
      core!.packed().set(m.data);
      core!.chunk(m.id0, m.n, m.skipped);
      port.postMessage(m.data, [m.data.buffer]);
    } else {
      const out = core!.result();
      port.postMessage(out, [out.buffer]);
      core = undefined;
    }
  };
  if (port.on) port.on('message', handle);
  else g.self.onmessage = (ev: MessageEvent<Message>) => handle(ev.data);
}

const SOURCE = `(${workerMain.toString()})(${lensCore.toString()});`;

interface Handle {
  post(m: Message, transfer?: Transferable[]): void;
  end(): void;
}

export class LensThread {
  private readonly waiting: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private broken: unknown;

  private constructor(private readonly handle: Handle) {}

  /** A new worker, or undefined where none can be made (the calling thread then does it all). */
  static start(): LensThread | undefined {
    const node = (globalThis as unknown as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:worker_threads') as typeof import('node:worker_threads') | undefined;
    try {
      if (node) {
        // A young generation of V8's smallest size: the worker allocates little but the chunks' messages.
        const w = new node.Worker(SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
        const t: LensThread = new LensThread({ post: (m, transfer) => w.postMessage(m, transfer as never), end: () => void w.terminate() });
        w.on('message', (m) => t.answer(m));
        w.on('error', (e) => t.fail(e));
        return t;
      }
      if (typeof Worker !== 'function' || typeof Blob !== 'function') return undefined;
      const url = URL.createObjectURL(new Blob([SOURCE], { type: 'text/javascript' }));
      const w = new Worker(url);
      const t: LensThread = new LensThread({
        post: (m, transfer) => w.postMessage(m, transfer ?? []),
        end: () => {
          w.terminate();
          URL.revokeObjectURL(url);
        },
      });
      w.onmessage = (ev) => t.answer(ev.data);
      w.onerror = (ev) => t.fail(new Error(`lens worker: ${ev.message}`));
      return t;
    } catch {
      return undefined;
    }
  }

  /** Hands it its rows: `setup.h` and `setup.watchedLogits` move there (their buffers are detached here). */
  setup(module: WebAssembly.Module, setup: CoreSetup): void {
    this.handle.post({ type: 'setup', module, setup }, [setup.h.buffer, setup.watchedLogits.buffer]);
  }

  /** Projects a packed chunk there; `data` comes back once it is projected, to be packed again. */
  chunk(id0: number, n: number, data: Float32Array, skipped: Int32Array): Promise<Float32Array> {
    return this.ask({ type: 'chunk', id0, n, data, skipped }, [data.buffer]);
  }

  /** Its rows' result words. */
  result(): Promise<Float32Array> {
    return this.ask({ type: 'result' });
  }

  /** Stops the worker: its memory goes at once, not at its next collection. */
  end(): void {
    this.handle.end();
  }

  private ask<T>(m: Message, transfer?: Transferable[]): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (v: unknown) => void, reject });
      this.handle.post(m, transfer);
    });
  }

  private answer(m: unknown): void {
    this.waiting.shift()?.resolve(m);
  }

  private fail(e: unknown): void {
    this.broken = e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
