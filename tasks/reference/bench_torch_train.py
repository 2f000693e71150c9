"""PyTorch CPU reference for the training benchmarks of `deno task bench` (same shapes, same
recipe): one transcoder training step and one tiny-GPT-2 language-model training step.

Run by tasks/bench.ts as `/usr/bin/python3 tasks/reference/bench_torch_train.py <json args>`;
prints one JSON object with median seconds per step.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

from timing import median_time

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))
torch.manual_seed(0)


def transcoder_bench(d_in, d_sae, batch, dead_fraction, repeats):
    p = {
        "W_enc": torch.nn.Parameter(torch.empty(d_in, d_sae).uniform_(-(6 / d_sae) ** 0.5, (6 / d_sae) ** 0.5)),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(torch.empty(d_sae, d_in).uniform_(-(6 / d_in) ** 0.5, (6 / d_in) ** 0.5)),
        "b_dec": torch.nn.Parameter(torch.zeros(d_in)),
        "b_dec_out": torch.nn.Parameter(torch.zeros(d_in)),
    }
    opt = torch.optim.Adam(list(p.values()), lr=4e-4)
    x, y = torch.randn(batch, d_in), torch.randn(batch, d_in)
    dead = torch.zeros(d_sae, dtype=torch.bool)
    dead[: int(dead_fraction * d_sae)] = True

    def step():
        with torch.no_grad():
            p["W_dec"].data /= p["W_dec"].data.norm(dim=1, keepdim=True)
        hidden_pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
        z = F.relu(hidden_pre)
        y_hat = z @ p["W_dec"] + p["b_dec_out"]
        mse_elem = (y_hat - y).pow(2) / y.pow(2).sum(-1, keepdim=True).sqrt()
        loss = mse_elem.mean() + 1.4e-4 * z.abs().sum(-1).mean()
        if dead.any():
            residual = y - y_hat
            ghost_out = torch.exp(hidden_pre[:, dead]) @ p["W_dec"][dead]
            scale = residual.norm(dim=-1) / (1e-6 + 2 * ghost_out.norm(dim=-1))
            ghost_out = ghost_out * scale[:, None].detach()
            r = residual.detach()
            ghost_elem = (ghost_out - r).pow(2) / r.pow(2).sum(-1, keepdim=True).sqrt()
            loss = loss + ((mse_elem / (ghost_elem + 1e-6)).detach() * ghost_elem).mean()
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            g, w = p["W_dec"].grad, p["W_dec"].data
            g -= (g * w).sum(-1, keepdim=True) * w
        opt.step()

    return median_time(step, repeats)


def lm_bench(cfg, batch, repeats):
    d, h, m, V, n_ctx, L = cfg["d_model"], cfg["n_heads"], cfg["d_mlp"], cfg["d_vocab"], cfg["n_ctx"], cfg["n_layers"]
    dh = d // h
    P = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
    Z = lambda *s: torch.nn.Parameter(torch.zeros(*s))
    O = lambda *s: torch.nn.Parameter(torch.ones(*s))
    p = {"W_E": P(V, d), "W_pos": P(n_ctx, d), "lnf_w": O(d), "lnf_b": Z(d)}
    blocks = [dict(ln1_w=O(d), ln1_b=Z(d), W_QKV=P(d, 3 * d), b_QKV=Z(3 * d), W_O=P(d, d), b_O=Z(d),
                   ln2_w=O(d), ln2_b=Z(d), W_in=P(d, m), b_in=Z(m), W_out=P(m, d), b_out=Z(d)) for _ in range(L)]
    params = list(p.values()) + [t for b in blocks for t in b.values()]
    decay = [t for t in params if t.ndim >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": [t for t in params if t.ndim < 2], "weight_decay": 0.0}], lr=1e-3)
    tokens = torch.randint(0, V, (batch, n_ctx))
    mask = torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool))

    def step():
        x = p["W_E"][tokens] + p["W_pos"]
        for b in blocks:
            n = F.layer_norm(x, (d,), b["ln1_w"], b["ln1_b"])
            q, k, v = (n @ b["W_QKV"] + b["b_QKV"]).split(d, -1)
            q, k, v = (t.view(batch, n_ctx, h, dh).transpose(1, 2) for t in (q, k, v))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
            z = (s.masked_fill(~mask, float("-inf")).softmax(-1) @ v).transpose(1, 2).reshape(batch, n_ctx, d)
            x = x + z @ b["W_O"] + b["b_O"]
            n2 = F.layer_norm(x, (d,), b["ln2_w"], b["ln2_b"])
            x = x + F.gelu(n2 @ b["W_in"] + b["b_in"], approximate="tanh") @ b["W_out"] + b["b_out"]
        logits = F.layer_norm(x, (d,), p["lnf_w"], p["lnf_b"]) @ p["W_E"].T
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return median_time(step, repeats)


out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
tc = args["transcoder"]
out["transcoder_step_s"] = transcoder_bench(tc["d_in"], tc["d_sae"], tc["batch"], tc["dead_fraction"], args["repeats"])
out["lm_step_s"] = lm_bench(args["lm"]["model"], args["lm"]["batch"], args["repeats"])
print(json.dumps(out))
