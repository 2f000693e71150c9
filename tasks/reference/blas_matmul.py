"""Times torch's [N, N] x [N, N] float32 matmul, for `deno task bench` to pick the fastest OpenBLAS
kernel (it runs this once per OPENBLAS_CORETYPE candidate). Prints one JSON object."""
import json
import sys

import torch

from timing import blas_in_use, median_time

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))
n = args.get("matmul", 2048)
a, b = torch.randn(n, n), torch.randn(n, n)
s = median_time(lambda: torch.mm(a, b), args.get("repeats", 3))
print(json.dumps({"matmul_gflops": 2 * n**3 / s / 1e9, "blas": blas_in_use()}))
