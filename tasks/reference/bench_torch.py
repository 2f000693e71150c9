"""PyTorch CPU reference for `deno task bench`: the same GPT-2-shaped work, timed the same way.

Run by tasks/bench.ts as `/usr/bin/python3 tasks/reference/bench_torch.py <json args>`; prints one
JSON object. Needs Debian's python3-torch, and an optimised BLAS (libopenblas0-openmp): without
it torch falls back to the reference BLAS (~30x slower) and any ratio is meaningless, so the BLAS
library actually loaded is reported.
"""
import json
import math
import sys

import torch

from timing import blas_in_use, median_time

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))
torch.manual_seed(0)


class GPT2:
    """GPT-2 with TransformerLens-processed semantics (LayerNormPre), random weights."""

    def __init__(self, n_layers, d_model, n_heads, d_mlp, d_vocab, n_ctx):
        g = lambda *s: torch.randn(*s) * 0.02
        self.h, self.dh = n_heads, d_model // n_heads
        self.W_E, self.W_pos = g(d_vocab, d_model), g(n_ctx, d_model)
        self.blocks = [
            dict(W_QKV=g(d_model, 3 * d_model), b_QKV=torch.zeros(3 * d_model), W_O=g(d_model, d_model),
                 b_O=torch.zeros(d_model), W_in=g(d_model, d_mlp), b_in=torch.zeros(d_mlp),
                 W_out=g(d_mlp, d_model), b_out=torch.zeros(d_model))
            for _ in range(n_layers)
        ]
        self.W_U, self.b_U = g(d_model, d_vocab), torch.zeros(d_vocab)

    @staticmethod
    def ln(x):
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt()

    def forward(self, tokens, keep=None):
        b, p = tokens.shape
        x = self.W_E[tokens] + self.W_pos[:p]
        mask = torch.tril(torch.ones(p, p, dtype=torch.bool))
        for l, w in enumerate(self.blocks):
            n = self.ln(x)
            q, k, v = (n @ w["W_QKV"] + w["b_QKV"]).split(x.shape[-1], -1)
            q, k, v = (t.view(b, p, self.h, self.dh).transpose(1, 2) for t in (q, k, v))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)
            pat = s.masked_fill(~mask, float("-inf")).softmax(-1)
            z = (pat @ v).transpose(1, 2).reshape(b, p, -1)
            x = x + z @ w["W_O"] + w["b_O"]
            n2 = self.ln(x)
            out = torch.nn.functional.gelu(n2 @ w["W_in"] + w["b_in"], approximate="tanh") @ w["W_out"] + w["b_out"]
            if keep is not None:
                keep.append(n2.clone())
                keep.append(out.clone())
            x = x + out
        return x

    def loss(self, tokens):
        logits = self.ln(self.forward(tokens)) @ self.W_U + self.b_U
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": []}
with torch.no_grad():
    n = args["matmul"]
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = median_time(lambda: a @ b, args["repeats"])
    results["matmul_gflops"] = 2 * n**3 / t / 1e9
    results["blas"] = blas_in_use()
    cfg = args["model"]
    model = GPT2(cfg["n_layers"], cfg["d_model"], cfg["n_heads"], cfg["d_mlp"], cfg["d_vocab"], cfg["n_ctx"])
    tokens = torch.randint(0, cfg["d_vocab"], (args["batch"], args["pos"]))
    r = args["repeats"]
    results["loss_s"] = median_time(lambda: model.loss(tokens), r)
    results["resid_s"] = median_time(lambda: model.forward(tokens), r)
    results["hooks_s"] = median_time(lambda: model.forward(tokens, keep=[]), r)
print(json.dumps(results))
