"""PyTorch CPU reference for `deno task bench`: the same GPT-2-shaped work, timed the same way.

Run by tasks/bench.ts as `/usr/bin/python3 tasks/reference/bench_torch.py <json args>`; prints one
JSON object. Needs Debian's python3-torch, and an optimised BLAS (libopenblas0-openmp): without
it torch falls back to the reference BLAS (~30x slower) and any ratio is meaningless, so the BLAS
library actually loaded is reported.
"""
import json
import sys

import torch

from gpt2_torch import GPT2
from timing import blas_in_use, median_time

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))
torch.manual_seed(0)


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
