"""PyTorch CPU reference for the eval section of `deno task bench`: transcoder evaluation as a
TransformerLens / SAELens user writes it, on the same shapes: under no_grad, one clean pass (its
log-probabilities kept), then one pass per comparison (every layer replaced by its transcoder,
every layer zero-ablated, and each layer alone replaced and ablated), each with a full
log-softmax for its cross-entropy and KL(clean || compared).

Run by tasks/bench.ts as `/usr/bin/python3 tasks/reference/bench_torch_eval.py <json args>`;
prints one JSON object.
"""
import json
import sys

import torch

from gpt2_torch import GPT2
from timing import median_time

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))
torch.manual_seed(0)
cfg, d_sae = args["model"], args["d_sae"]
model = GPT2(cfg["n_layers"], cfg["d_model"], cfg["n_heads"], cfg["d_mlp"], cfg["d_vocab"], cfg["n_ctx"])
d = cfg["d_model"]
tcs = {
    l: (torch.randn(d, d_sae) * 0.05, torch.zeros(d_sae) - 0.1, torch.randn(d_sae, d) * 0.05, torch.zeros(d))
    for l in range(cfg["n_layers"])
}
tokens = torch.randint(0, cfg["d_vocab"], (args["batch"], args["pos"]))
layers = list(range(cfg["n_layers"]))
comparisons = [tcs, {l: "zero" for l in layers}]
for l in layers:
    comparisons += [{l: tcs[l]}, {l: "zero"}]


def evaluate():
    targets = tokens[:, 1:].reshape(-1)
    clean = model.logits(tokens).log_softmax(-1)
    out = [torch.nn.functional.nll_loss(clean[:, :-1].reshape(-1, clean.shape[-1]), targets)]
    for replace in comparisons:
        lp = model.logits(tokens, replace=replace).log_softmax(-1)
        ce = torch.nn.functional.nll_loss(lp[:, :-1].reshape(-1, lp.shape[-1]), targets)
        kl = (clean.exp() * (clean - lp)).sum(-1).mean()
        out.append((ce, kl))
    return out


with torch.no_grad():
    seconds = median_time(evaluate, args["repeats"])
print(json.dumps({"eval_s": seconds, "comparisons": len(comparisons)}))
