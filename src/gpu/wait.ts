// dawn.node resolves its promises (onSubmittedWorkDone, mapAsync) from a callback that
// re-queues itself with the global setImmediate for as long as one is pending, so a
// wait spins a whole core; on a software adapter (SwiftShader, lavapipe) that is one
// of the cores doing the work being waited for. Dawn looks setImmediate up on every
// re-queue, so while our waits are pending it gets one that answers the first few
// turns at once (short waits stay short) and then polls on a 1 ms timer.
// Browsers have no global setImmediate and never spin; there this is a plain await.

/** Turns answered at once before polling on the timer: enough for a wait of ~0.1 ms. */
const FAST_TURNS = 16;

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
const host = globalThis as unknown as { setImmediate?: Immediate };

let depth = 0;
let turns = 0;
let original: Immediate | undefined;

function polling(callback: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  return turns++ < FAST_TURNS ? original!(callback, ...args) : setTimeout(callback, 1, ...args);
}

/**
 * Awaits the promise that `start` makes with dawn.node's polling slowed down; `start`
 * runs after the swap because dawn queues its first turn when the promise is made.
 */
export async function gentleWait<T>(start: () => Promise<T>): Promise<T> {
  if (typeof host.setImmediate !== 'function') return start();
  if (depth++ === 0) {
    original = host.setImmediate;
    turns = 0;
    host.setImmediate = polling;
  }
  try {
    return await start();
  } finally {
    if (--depth === 0) host.setImmediate = original;
  }
}
