/**
 * Per-feature top-k examples kept in flat arrays: for feature `i`, slots `i*k .. i*k+k-1` of
 * `values` and `tokens` hold a binary min-heap of its best `size[i]` examples (the root is the
 * worst kept one), ordered by value and, on ties, by the earlier token, so that the result does
 * not depend on the order examples are offered in.
 *
 * @module
 */

/** The flat arrays of the heaps: `size` `[d_sae]`, `values` and `tokens` `[d_sae, k]`. */
export interface TopHeaps {
  k: number;
  size: Int32Array;
  values: Float32Array;
  tokens: Float64Array;
}

/** Whether example (va, ta) ranks below (vb, tb): a lower value, or equal and a later token. */
function worse(va: number, ta: number, vb: number, tb: number): boolean {
  return va < vb || (va === vb && ta > tb);
}

/** Offers an example to feature `i`'s heap (kept when it beats the worst kept one). */
export function pushTop(h: TopHeaps, i: number, value: number, token: number): void {
  const k = h.k;
  if (k === 0) return;
  const base = i * k, vals = h.values, toks = h.tokens;
  let n = h.size[i];
  if (n === k) {
    // Full: most offers lose to the root (the worst kept entry) and stop here.
    if (!worse(vals[base], toks[base], value, token)) return;
  } else {
    let c = n++;
    h.size[i] = n;
    while (c > 0) { // sift up: the root holds the worst entry
      const p = (c - 1) >> 1;
      if (!worse(value, token, vals[base + p], toks[base + p])) break;
      vals[base + c] = vals[base + p];
      toks[base + c] = toks[base + p];
      c = p;
    }
    vals[base + c] = value;
    toks[base + c] = token;
    return;
  }
  let c = 0; // replace the root and sift down
  for (;;) {
    const l = 2 * c + 1, r = l + 1;
    let m = -1;
    if (l < n && worse(vals[base + l], toks[base + l], value, token)) m = l;
    if (
      r < n && worse(vals[base + r], toks[base + r], value, token) &&
      (m < 0 || worse(vals[base + r], toks[base + r], vals[base + l], toks[base + l]))
    ) m = r;
    if (m < 0) break;
    vals[base + c] = vals[base + m];
    toks[base + c] = toks[base + m];
    c = m;
  }
  vals[base + c] = value;
  toks[base + c] = token;
}
