"""The analysis done on captured factors: logit-lens projections and exact gradient ranks.

Mirrors src/lens/logit-lens.ts and src/autograd/linalg.ts so that both sides do
the same work and give comparable answers; the tie rule is kernels/vocab.wgsl's
(equal scores: the lower id counts as better).
"""
import torch

# Rows per chunk, as the engine: bounds the [rows, vocab] logits (64 x 50,257 x 4 B = 13 MB).
CHUNK = 64


def ordered_topk(scores, k):
    """Ids of the k largest scores per row, best first, ties to the lower id."""
    vals, ids = torch.topk(scores, k, dim=1)
    kth = vals[:, -1:]
    # Where the k-th score ties with ids outside the list, topk's choice among
    # them is arbitrary: those rows take their lowest ids among the tied. (Random
    # checkpoints repeat embedding rows, so such ties are common there.)
    at_least = scores >= kth
    crowded = (at_least.sum(1, dtype=torch.int32) > k).nonzero().flatten().tolist()
    for r in crowded:
        cand = at_least[r].nonzero().flatten()
        ids[r] = cand[_best_first(scores[r, cand])[:k]]
    return _reordered(scores, ids)


def _best_first(values):
    """Positions of `values` (given in ascending-id order) best first; a stable sort keeps ties in id order."""
    return torch.sort(values, dim=-1, descending=True, stable=True).indices


def _reordered(scores, ids):
    ids, _ = ids.sort(dim=1)
    ids = ids.gather(1, _best_first(scores.gather(1, ids)))
    return ids, scores.gather(1, ids)


def rank_of(scores, token, sign):
    """1-based rank of `token` per row: ids with a better sign*score, or equal and lower id, come first."""
    s = scores * sign
    tv = s[:, token:token + 1]
    return (s > tv).sum(1, dtype=torch.int32) + (s[:, :token] == tv).sum(1, dtype=torch.int32) + 1


def logit_lens(model, vectors, k, watched, normalized=False):
    """LL(v) = softmax(ln_f(v) . D) of every row: top-k, bottom-k (ids, probs), watched ranks."""
    out = []
    with torch.no_grad():
        for start in range(0, vectors.shape[0], CHUNK):
            v = vectors[start:start + CHUNK]
            if normalized:
                norm = v.norm(dim=1, keepdim=True)
                v = torch.where(norm > 0, v / norm, torch.zeros_like(v))
            logits = model.ln_f(v) @ model.head.T
            # log_softmax, not logsumexp: the latter is 50x slower in Debian's torch 1.13.
            logp = torch.log_softmax(logits, dim=1)
            top_ids, _ = ordered_topk(logits, k)
            bot_ids, _ = ordered_topk(-logits, k)
            out.append({
                'top': top_ids, 'topProb': logp.gather(1, top_ids).exp(),
                'bottom': bot_ids, 'bottomProb': logp.gather(1, bot_ids).exp(),
                'rankFromTop': torch.stack([rank_of(logits, t, 1) for t in watched], 1),
                'rankFromBottom': torch.stack([rank_of(logits, t, -1) for t in watched], 1),
            })
    return {key: torch.cat([o[key] for o in out]) for key in out[0]}


def _threshold_rank(sv, dims):
    if sv.numel() == 0:
        return 0
    return int((sv > sv[0] * max(dims) * 2.0 ** -23).sum())


def _balanced(x):
    """Rows and columns alternately scaled by their largest magnitude, then rows to unit length (rank-preserving)."""
    a = x.clone()
    safe = lambda m: torch.where(m > 0, m, torch.ones_like(m))
    for _ in range(4):
        a = a / safe(a.abs().amax(1, keepdim=True))
        a = a / safe(a.abs().amax(0, keepdim=True))
    return a / safe(a.norm(dim=1, keepdim=True))


def rank_of_product(x, delta):
    """Exact rank of X^T Delta from float32 factors [n, in], [n, out] (Lemma 4.1), as linalg.ts decides it."""
    x, delta = x.double(), delta.double()
    n = x.shape[0]
    rx = torch.linalg.qr(x.T, mode='r').R
    rd = torch.linalg.qr(delta.T, mode='r').R
    sv = torch.linalg.svdvals(rx @ rd.T)
    live = (x != 0).any(1) & (delta != 0).any(1)
    m = int(live.sum())
    if m == 0:
        return 0, sv
    rank_x = _threshold_rank(torch.linalg.svdvals(_balanced(x[live])), [m, x.shape[1]])
    rank_d = _threshold_rank(torch.linalg.svdvals(_balanced(delta[live])), [m, delta.shape[1]])
    if rank_x == m:
        return rank_d, sv
    if rank_d == m:
        return rank_x, sv
    return _threshold_rank(sv, [x.shape[1], delta.shape[1], n]), sv
