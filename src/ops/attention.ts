// Causal attention over fused q/k/v rows, with grouped-query heads.
//   attention(tape, qkv [B*T, (H + 2KV) hd], B, T, H, KV = H) -> [B*T, H hd]
//   attentionDecode(tape, cache [B*T, (H + 2KV) hd], last i32 [B], B, T, H, KV = H) -> [B, H hd]
// Rows are q (H heads) | k (KV heads) | v (KV heads); hd = row width / (H + 2KV), so it
// may differ from d / H. Query head h reads key/value head floor(h / (H/KV)); scores
// are scaled by 1/sqrt(hd). Backward sums each key/value head's gradient over its
// group. KV = H is GPT-2's fused q|k|v layout and runs the very same arithmetic as before.
import type { Tape } from '../autograd/tape.ts';
import { f32, grid1d, type Param } from '../gpu/kernels.ts';
import { ATTENTION } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

const MAX_HEAD_DIM = 128; // kernels/attention.wgsl MAX_HD

/** The head size of fused rows of `width` columns, and the kernels' uniform block. */
function heads(width: number, batch: number, T: number, nHead: number, nKvHead: number): { hd: number; params: Param[] } {
  const hd = width / (nHead + 2 * nKvHead);
  if (!Number.isInteger(nHead / nKvHead)) throw new RangeError(`attention: ${nHead} query heads do not divide into ${nKvHead} key/value heads`);
  if (!Number.isInteger(hd) || hd < 1 || hd > MAX_HEAD_DIM) throw new RangeError(`attention: head size ${hd} (rows of ${width}, ${nHead} query and ${nKvHead} key/value heads) must be an integer ≤ ${MAX_HEAD_DIM}`);
  return { hd, params: [batch, T, nHead, hd, f32(1 / Math.sqrt(hd)), nKvHead] };
}

/** A batch of B sequences of T positions (shorter ones padded at the end). */
export function attention(tape: Tape, qkv: Tensor, batch: number, T: number, nHead: number, nKvHead = nHead): Tensor {
  const { hd, params } = heads(qkv.cols, batch, T, nHead, nKvHead);
  if (qkv.rows !== batch * T) throw new RangeError(`attention: ${qkv.rows} rows for batch ${batch} x ${T}`);
  const items = batch * nHead * T;
  const out = tape.zeros([batch * T, nHead * hd], 'f32', 'attn');
  const lse = tape.zeros([items], 'f32', 'attn.lse');
  tape.k.dispatch(ATTENTION, 'attention_forward', params, [qkv.buffer, out.buffer, lse.buffer], grid1d(items, 64));
  tape.record(() => {
    const dout = tape.gradOf(out);
    if (!dout) return;
    const dqkv = tape.zeros(qkv.shape, 'f32', 'attn.dqkv');
    const dsum = tape.zeros([items], 'f32', 'attn.D');
    tape.k.dispatch(ATTENTION, 'attention_backward_query', params, [qkv.buffer, out.buffer, dout.buffer, lse.buffer, dqkv.buffer, dsum.buffer], grid1d(items, 64));
    tape.k.dispatch(ATTENTION, 'attention_backward_key', params, [qkv.buffer, null, dout.buffer, lse.buffer, dqkv.buffer, dsum.buffer], grid1d(batch * nKvHead * T, 64));
    tape.accumulate(qkv, dqkv);
  });
  return out;
}

/**
 * One new token per sequence against a key/value cache (forward only): sequence b at
 * rows b*T.. of the cache, with the new token's row already at position last[b].
 */
export function attentionDecode(tape: Tape, cache: Tensor, last: Tensor, batch: number, T: number, nHead: number, nKvHead = nHead): Tensor {
  const { hd, params } = heads(cache.cols, batch, T, nHead, nKvHead);
  if (cache.rows !== batch * T || last.size !== batch) throw new RangeError(`attentionDecode: cache of ${cache.rows} rows and ${last.size} positions for batch ${batch} x ${T}`);
  const out = tape.zeros([batch, nHead * hd], 'f32', 'attn.decode');
  tape.k.dispatch(ATTENTION, 'attention_decode', params, [null, out.buffer, null, null, null, null, cache.buffer, last.buffer], grid1d(batch * nHead, 64));
  return out;
}
