/**
 * An independent reference for influence (circuit-tracer's `compute_influence`): the Neumann sum
 * `sum_{k>=1} w Â^k = w Â (Id - Â)^-1`, solved by Gaussian elimination in float64 rather than
 * iterated as the library does.
 *
 * @module
 */

/** I = w Â (Id - Â)^-1 by Gaussian elimination with partial pivoting, in float64. */
export function neumannInfluence(
  Ahat: Float64Array,
  n: number,
  w: ArrayLike<number>,
): Float64Array {
  // Solve (Id - Â)^T x = (w Â)^T.
  const M = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n + 1);
    for (let j = 0; j < n; j++) row[j] = (i === j ? 1 : 0) - Ahat[j * n + i];
    let b = 0;
    for (let k = 0; k < n; k++) b += w[k] * Ahat[k * n + i];
    row[n] = b;
    return row;
  });
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(M[i][c]) > Math.abs(M[p][c])) p = i;
    [M[c], M[p]] = [M[p], M[c]];
    for (let i = 0; i < n; i++) {
      if (i === c || M[i][c] === 0) continue;
      const f = M[i][c] / M[c][c];
      for (let j = c; j <= n; j++) M[i][j] -= f * M[c][j];
    }
  }
  return Float64Array.from(M, (row, i) => row[n] / row[i]);
}
