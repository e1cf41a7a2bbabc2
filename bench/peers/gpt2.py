"""GPT-2 as Hugging Face's GPT2LMHeadModel computes it, built from a safetensors file.

Linear layers keep the checkpoint's Conv1D layout, weight [in, out], so
z = x @ W + b with no transpose. The four linear modules of each block are
nn.Modules named as in the checkpoint (attn.c_attn, attn.c_proj, mlp.c_fc,
mlp.c_proj) so hooks can be registered on them by name.
"""
import json
import math
import os

import torch
from torch import nn

from safetensors_io import read_safetensors


class Conv1D(nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


ACTIVATIONS = {
    'gelu_new': gelu_new, 'gelu_fast': gelu_new, 'gelu_pytorch_tanh': gelu_new,
    'gelu': nn.functional.gelu, 'gelu_python': nn.functional.gelu, 'relu': torch.relu,
}


class Attention(nn.Module):
    def __init__(self, p, n_head):
        super().__init__()
        self.c_attn = Conv1D(p['attn.c_attn.weight'], p['attn.c_attn.bias'])
        self.c_proj = Conv1D(p['attn.c_proj.weight'], p['attn.c_proj.bias'])
        self.n_head = n_head

    def forward(self, x):
        n, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=1)
        heads = lambda t: t.reshape(n, self.n_head, d // self.n_head).transpose(0, 1)
        q, k, v = heads(q), heads(k), heads(v)
        scores = q @ k.transpose(1, 2) / math.sqrt(d // self.n_head)
        mask = torch.ones(n, n, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float('-inf'))
        mixed = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(mixed.transpose(0, 1).reshape(n, d))


class Mlp(nn.Module):
    def __init__(self, p, activation):
        super().__init__()
        self.c_fc = Conv1D(p['mlp.c_fc.weight'], p['mlp.c_fc.bias'])
        self.c_proj = Conv1D(p['mlp.c_proj.weight'], p['mlp.c_proj.bias'])
        self.act = activation

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


def layer_norm(x, p, prefix, eps):
    return nn.functional.layer_norm(x, x.shape[-1:], p[prefix + '.weight'], p[prefix + '.bias'], eps)


class Block(nn.Module):
    def __init__(self, p, config):
        super().__init__()
        self.p = p
        self.eps = config['layer_norm_epsilon']
        self.attn = Attention(p, config['n_head'])
        self.mlp = Mlp(p, ACTIVATIONS[config.get('activation_function', 'gelu_new')])

    def forward(self, x):
        x = x + self.attn(layer_norm(x, self.p, 'ln_1', self.eps))
        return x + self.mlp(layer_norm(x, self.p, 'ln_2', self.eps))


class Gpt2(nn.Module):
    """One unpadded sequence of token ids -> final hidden states [n, d] (before ln_f)."""

    def __init__(self, params, config):
        super().__init__()
        self.config = config
        self.params = params
        self.eps = config['layer_norm_epsilon']
        self.h = nn.ModuleList(
            Block({k[len(f'h.{l}.'):]: v for k, v in params.items() if k.startswith(f'h.{l}.')}, config)
            for l in range(config['n_layer']))
        self.head = params.get('lm_head.weight', params['wte.weight'])

    def embed(self, ids):
        return self.params['wte.weight'][ids] + self.params['wpe.weight'][: len(ids)]

    def hidden(self, x):
        for block in self.h:
            x = block(x)
        return x

    def ln_f(self, x):
        return layer_norm(x, self.params, 'ln_f', self.eps)


def load_gpt2(model_dir):
    with open(os.path.join(model_dir, 'config.json')) as f:
        config = json.load(f)
    tensors, _ = read_safetensors(os.path.join(model_dir, 'model.safetensors'))
    params = {}
    for name, t in tensors.items():
        name = name[len('transformer.'):] if name.startswith('transformer.') else name
        if name.endswith('.attn.bias') or name.endswith('.attn.masked_bias'):
            continue
        params[name] = t
    config.setdefault('layer_norm_epsilon', 1e-5)
    return Gpt2(params, config)
