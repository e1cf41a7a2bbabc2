"""The peer's lens primitives on given data, for test/peer-lens.test.ts.

stdin: {"cases": [{"scores": [[...], ...], "k": K, "ids": [...]}, ...], "factors": [{"x": [[...]], "delta": [[...]]}, ...]}
stdout: {"cases": [{"top": [[ids]], "bottom": [[ids]], "rankFromTop": [[...]], "rankFromBottom": [[...]]}, ...], "factorRanks": [...]}
(one process for every case: importing torch takes seconds)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from lens import ordered_topk, rank_of, rank_of_product  # noqa: E402



def lens_case(c):
    s = torch.tensor(c['scores'], dtype=torch.float32)
    return {
        'top': ordered_topk(s, c['k'])[0].tolist(),
        'bottom': ordered_topk(-s, c['k'])[0].tolist(),
        'rankFromTop': [rank_of(s, t, 1).tolist() for t in c['ids']],
        'rankFromBottom': [rank_of(s, t, -1).tolist() for t in c['ids']],
    }


req = json.load(sys.stdin)
print(json.dumps({
    'cases': [lens_case(c) for c in req['cases']],
    'factorRanks': [rank_of_product(torch.tensor(f['x']), torch.tensor(f['delta']))[0] for f in req['factors']],
}))
