"""GPT-2 in PyTorch for the references of `deno task bench`: TransformerLens-processed semantics
(LayerNormPre), random weights, optional MLP replacements (zero ablation or a transcoder)."""
import math

import torch


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

    def forward(self, tokens, keep=None, replace=None):
        """The final residual; `replace` maps a layer to "zero" or a transcoder's
        (W_enc, b_enc, W_dec, b_dec), which then stands in for that layer's MLP."""
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
            r = (replace or {}).get(l)
            if r is None:
                out = torch.nn.functional.gelu(n2 @ w["W_in"] + w["b_in"], approximate="tanh") @ w["W_out"] + w["b_out"]
            elif r == "zero":
                out = torch.zeros_like(x)
            else:
                W_enc, b_enc, W_dec, b_dec = r
                out = torch.relu(n2 @ W_enc + b_enc) @ W_dec + b_dec
            if keep is not None:
                keep.append(n2.clone())
                keep.append(out.clone())
            x = x + out
        return x

    def logits(self, tokens, replace=None):
        return self.ln(self.forward(tokens, replace=replace)) @ self.W_U + self.b_U

    def loss(self, tokens):
        logits = self.logits(tokens)
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
