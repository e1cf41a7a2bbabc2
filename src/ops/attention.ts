import type { Tape } from '../autograd/tape.ts';
import { f32, grid1d } from '../gpu/kernels.ts';
import { ATTENTION } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

const MAX_HEAD_DIM = 128; // kernels/attention.wgsl MAX_HD

/**
 * Causal multi-head attention over the fused q/k/v projection qkv [B*T, 3d] for a batch of
 * B sequences of T positions (shorter ones padded at the end). Returns [B*T, d].
 */
export function attention(tape: Tape, qkv: Tensor, batch: number, T: number, nHead: number): Tensor {
  const d = qkv.cols / 3;
  const hd = d / nHead;
  if (!Number.isInteger(hd) || hd > MAX_HEAD_DIM) throw new RangeError(`attention: head size ${hd} (d=${d}, heads=${nHead}) must be an integer ≤ ${MAX_HEAD_DIM}`);
  if (qkv.rows !== batch * T) throw new RangeError(`attention: ${qkv.rows} rows for batch ${batch} x ${T}`);
  const params = [batch, T, nHead, hd, f32(1 / Math.sqrt(hd))];
  const items = batch * nHead * T;
  const out = tape.zeros([batch * T, d], 'f32', 'attn');
  const lse = tape.zeros([items], 'f32', 'attn.lse');
  tape.k.dispatch(ATTENTION, 'attention_forward', params, [qkv.buffer, out.buffer, lse.buffer], grid1d(items, 64));
  tape.record(() => {
    const dout = tape.gradOf(out);
    if (!dout) return;
    const dqkv = tape.zeros(qkv.shape, 'f32', 'attn.dqkv');
    const dsum = tape.zeros([items], 'f32', 'attn.D');
    tape.k.dispatch(ATTENTION, 'attention_backward_query', params, [qkv.buffer, out.buffer, dout.buffer, lse.buffer, dqkv.buffer, dsum.buffer], grid1d(items, 64));
    tape.k.dispatch(ATTENTION, 'attention_backward_key', params, [qkv.buffer, null, dout.buffer, lse.buffer, dqkv.buffer, dsum.buffer], grid1d(items, 64));
    tape.accumulate(qkv, dqkv);
  });
  return out;
}

/**
 * One new token per sequence against a key/value cache (forward only).
 * cache: [B*T, 3d] q/k/v rows, sequence b at rows b*T.., with the new token's row
 * already at position last[b] (i32 [B]). Returns [B, d].
 */
export function attentionDecode(tape: Tape, cache: Tensor, last: Tensor, batch: number, T: number, nHead: number): Tensor {
  const d = cache.cols / 3;
  const hd = d / nHead;
  if (!Number.isInteger(hd) || hd > MAX_HEAD_DIM) throw new RangeError(`attention: head size ${hd} (d=${d}, heads=${nHead}) must be an integer ≤ ${MAX_HEAD_DIM}`);
  if (cache.rows !== batch * T || last.size !== batch) throw new RangeError(`attentionDecode: cache of ${cache.rows} rows and ${last.size} positions for batch ${batch} x ${T}`);
  const out = tape.zeros([batch, d], 'f32', 'attn.decode');
  const params = [batch, T, nHead, hd, f32(1 / Math.sqrt(hd))];
  tape.k.dispatch(ATTENTION, 'attention_decode', params, [null, out.buffer, null, null, null, null, cache.buffer, last.buffer], grid1d(batch * nHead, 64));
  return out;
}
