"""PyTorch peer of `backward-lens analyze` (all four modules), for bench/peer.ts.

One forward and backward pass with hooks on the four linear modules of every
block capture x_i (inputs) and delta_i (gradients of the loss w.r.t. outputs);
then row norms, exact gradient ranks and the logit lens of the d-dimensional
spanning vectors, as src/lens/analyze.ts does. Token ids come in already
tokenized: tokenization is not part of the work compared.

  /usr/bin/python3 bench/peers/analyze.py --model DIR --ids 1,2,3 --target 4 [--reps N]
      [--warmup N] [--k 5] [--normalized] [--target-tokens first|all] [--loss sum|mean]
      [--threads N] [--factors OURS.safetensors] [--out RESULT.json]

Prints one JSON object (also to --out): timings in ms, the BLAS in use, each
factor's largest difference from --factors, gradient ranks and top-1 ids.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
except ImportError:
    print(json.dumps({'skipped': 'torch does not import for ' + sys.executable + ': apt-get install python3-torch'}))
    sys.exit(0)

from blas import blas_info
from gpt2 import load_gpt2
from lens import logit_lens, rank_of_product
from safetensors_io import read_safetensors

MODULES = ('attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj')


def gradient_pass(model, ids, prompt_len, target_ids, loss_kind):
    """Forward + backward; returns {(layer, module): (X, Delta)} and the next-token logits after the prompt."""
    captured = {}
    handles = []

    def hook(name):
        def forward_hook(module, inputs, output):
            slot = captured.setdefault(name, {})
            slot['x'] = inputs[0].detach()
            output.register_hook(lambda g: slot.__setitem__('delta', g.detach()))
        return forward_hook

    for l, block in enumerate(model.h):
        for m in MODULES:
            handles.append(block.get_submodule(m).register_forward_hook(hook((l, m))))
    try:
        positions = [prompt_len - 1 + j for j in range(len(target_ids))]
        # Weights are frozen and the embedding is the leaf, so backward computes only
        # input gradients, as the engine's analysis tape does (no dense dW).
        x0 = model.embed(torch.tensor(ids)).requires_grad_(True)
        h = model.hidden(x0)
        logits = model.ln_f(h[positions]) @ model.head.T
        nll = torch.nn.functional.cross_entropy(logits, torch.tensor(target_ids), reduction='none')
        loss = nll.sum() if loss_kind == 'sum' else nll.mean()
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    return {key: (v['x'], v['delta']) for key, v in captured.items()}, logits[0].detach(), float(loss)


def analyze(model, ids, prompt_len, target_ids, args, times):
    t = time.perf_counter()
    factors, last_logits, loss = gradient_pass(model, ids, prompt_len, target_ids, args.loss)
    times['pass'] += lap(t)

    t = time.perf_counter()
    norms = {key: (x.norm(dim=1), d.norm(dim=1)) for key, (x, d) in factors.items()}
    times['norms'] += lap(t)

    t = time.perf_counter()
    ranks = {key: rank_of_product(x, d)[0] for key, (x, d) in factors.items()}
    times['ranks'] += lap(t)

    t = time.perf_counter()
    d_model = model.config['n_embd']
    keys, parts = [], []
    for l in range(len(model.h)):
        for m in MODULES:
            x, delta = factors[(l, m)]
            if x.shape[1] == d_model:
                keys.append(f'h.{l}.{m}.x')
                parts.append(x)
            if delta.shape[1] == d_model:
                keys.append(f'h.{l}.{m}.delta')
                parts.append(delta)
    original = int(last_logits.argmax())
    proj = logit_lens(model, torch.cat(parts), args.k, [target_ids[0], original], args.normalized)
    times['projections'] += lap(t)
    return {'factors': factors, 'norms': norms, 'ranks': ranks, 'keys': keys, 'rows': len(ids),
            'projections': proj, 'original': original, 'loss': loss}


def lap(t):
    return 1000 * (time.perf_counter() - t)


def compare(factors, path):
    """Largest absolute difference, and relative to the tensor's largest magnitude, per factor."""
    ours, _ = read_safetensors(path)
    diffs = {}
    for (l, m), (x, d) in factors.items():
        for what, mine in (('x', x), ('delta', d)):
            theirs = ours[f'h.{l}.{m}.{what}']
            abs_diff = float((mine - theirs).abs().max())
            scale = float(theirs.abs().max())
            diffs[f'h.{l}.{m}.{what}'] = {'maxAbs': abs_diff, 'rel': abs_diff / scale if scale > 0 else 0.0, 'scale': scale}
    return diffs


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', required=True)
    p.add_argument('--ids', required=True, help='comma-separated prompt token ids')
    p.add_argument('--target', required=True, help='comma-separated target token ids')
    p.add_argument('--target-tokens', choices=['first', 'all'], default='first')
    p.add_argument('--loss', choices=['sum', 'mean'], default='sum')
    p.add_argument('--k', type=int, default=5)
    p.add_argument('--normalized', action='store_true')
    p.add_argument('--reps', type=int, default=1)
    p.add_argument('--warmup', type=int, default=0)
    p.add_argument('--threads', type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument('--factors')
    p.add_argument('--out')
    args = p.parse_args()
    # Debian's torch defaults to one thread here; the engine uses every core.
    torch.set_num_threads(args.threads)

    prompt = [int(i) for i in args.ids.split(',')]
    target = [int(i) for i in args.target.split(',')]
    ids = prompt + target[:-1] if args.target_tokens == 'all' else prompt
    target_ids = target if args.target_tokens == 'all' else target[:1]

    t = time.perf_counter()
    model = load_gpt2(args.model)
    load_ms = lap(t)
    for _ in range(args.warmup):
        analyze(model, ids, len(prompt), target_ids, args, {'pass': 0, 'norms': 0, 'ranks': 0, 'projections': 0})
    runs = []
    for _ in range(args.reps):
        times = {'pass': 0.0, 'norms': 0.0, 'ranks': 0.0, 'projections': 0.0}
        result = analyze(model, ids, len(prompt), target_ids, args, times)
        times['total'] = sum(times.values())
        runs.append(times)

    proj = result['projections']
    n = result['rows']
    # Top-1 of LL(x_i) and bottom-1 of LL(delta_i), the grids' cells, in analyze's key order.
    cells = {key: (proj['top'] if key.endswith('.x') else proj['bottom'])[j * n:(j + 1) * n, 0].tolist()
             for j, key in enumerate(result['keys'])}
    out = {
        'torch': torch.__version__, 'python': sys.executable, 'threads': torch.get_num_threads(),
        'blas': blas_info(), 'loadMs': load_ms, 'runs': runs, 'loss': result['loss'], 'original': result['original'],
        'projected': int(proj['top'].shape[0]),
        'ranks': {f'h.{l}.{m}': r for (l, m), r in result['ranks'].items()},
        'cells': cells,
        'targetRankFromBottom': {key: proj['rankFromBottom'][j * n:(j + 1) * n, 0].tolist() for j, key in enumerate(result['keys'])},
    }
    if args.factors:
        out['factorDiff'] = compare(result['factors'], args.factors)
    text = json.dumps(out)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    print(text)


if __name__ == '__main__':
    main()
