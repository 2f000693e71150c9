/**
 * Helpers for `deno task bench`: timing, the PyTorch reference subprocess and table printing.
 *
 * @module
 */

/** Median wall time in seconds of `repeats` runs after one warm-up run. */
export async function medianSeconds(fn: () => Promise<unknown>, repeats: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The Python that has torch (Debian's), or undefined. */
export function findTorchPython(): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const out = new Deno.Command(py, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (out.success) return py;
    } catch { /* not installed */ }
  }
  return undefined;
}

/** Runs a PyTorch reference script with JSON arguments and parses its JSON output. */
export async function runTorchReference(
  script: string,
  args: unknown,
): Promise<Record<string, unknown> | string> {
  const py = findTorchPython();
  if (!py) {
    return "PyTorch not found: install Debian's python3-torch and libopenblas0-openmp for the reference figures";
  }
  const out = await new Deno.Command(py, {
    args: [script, JSON.stringify(args)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    return `PyTorch reference failed: ${
      new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ")
    }`;
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Says which BLAS torch loaded, and warns when it is the unoptimised reference BLAS. */
export function describeBlas(libs: string[]): string {
  if (libs.length === 0) return "no BLAS library mapped (statically linked?)";
  const optimised = libs.some((l) => /openblas|mkl|blis/i.test(l));
  return `${libs.join(", ")}${
    optimised
      ? ""
      : "  <-- WARNING: reference BLAS, ratios are meaningless; install libopenblas0-openmp"
  }`;
}

/** Prints rows as an aligned Markdown table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

/**
 * Formats a number with `digits` significant digits, keeping trailing zeros (`5.000`, not `5`);
 * numbers with more integer digits than that are rounded to integers with thousands separators.
 *
 * @example
 * ```ts
 * import { fmt } from "./bench_util.ts";
 * [fmt(4.99996, 4), fmt(0.96), fmt(1120.4), fmt(0.000123456), fmt(NaN)]; // ["5.000", "0.960", "1,120", "0.000123", "-"]
 * ```
 */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return "-";
  if (Math.abs(x) >= 10 ** digits) return Math.round(x).toLocaleString("en-US");
  return x.toPrecision(digits);
}
