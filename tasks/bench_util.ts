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

/**
 * The environment a PyTorch reference runs in: this process's, without the OpenBLAS overrides
 * (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set for safety and which pick a
 * slow kernel), plus `extra`.
 */
export function referenceEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return { ...env, ...extra };
}

/** Runs a PyTorch reference script with JSON arguments and parses its JSON output. */
export async function runTorchReference(
  script: string,
  args: unknown,
  env: Record<string, string> = referenceEnv(),
): Promise<Record<string, unknown> | string> {
  const py = findTorchPython();
  if (!py) {
    return "PyTorch not found: install Debian's python3-torch and libopenblas0-openmp for the reference figures";
  }
  const out = await new Deno.Command(py, {
    args: [script, JSON.stringify(args)],
    env,
    clearEnv: true,
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

/** The CPU's model name, flags and clock (MHz), from /proc/cpuinfo (empty where there is none). */
export function cpuInfo(): { model: string; flags: Set<string>; mhz: number } {
  let text = "";
  try {
    text = Deno.readTextFileSync("/proc/cpuinfo");
  } catch { /* not Linux */ }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(text)?.[1] ?? "";
  return {
    model: field("model name"),
    flags: new Set(field("flags").split(/\s+/).filter(Boolean)),
    mhz: Number(field("cpu MHz")) || NaN,
  };
}

/**
 * The OpenBLAS core types worth trying for a CPU with these flags, best guesses first; "" is
 * OpenBLAS's own detection (which OpenBLAS 0.3.21 gets wrong on recent Intel CPUs).
 *
 * @example
 * ```ts
 * import { openblasCoreTypes } from "./bench_util.ts";
 * openblasCoreTypes(new Set(["avx2", "fma", "avx512f"])); // ["", "SkylakeX", "Cooperlake", "SapphireRapids", "Haswell"]
 * openblasCoreTypes(new Set(["avx2", "fma"])); // ["", "Haswell", "Zen"]
 * ```
 */
export function openblasCoreTypes(flags: ReadonlySet<string>): string[] {
  if (flags.has("avx512f")) return ["", "SkylakeX", "Cooperlake", "SapphireRapids", "Haswell"];
  if (flags.has("avx2")) return ["", "Haswell", "Zen"];
  return [""];
}

/** One core type tried: its matmul GFLOP/s, or why it failed. */
export interface CoreTypeTrial {
  coreType: string;
  gflops: number;
  error?: string;
}

/**
 * Times PyTorch's [n, n] matmul under each candidate OpenBLAS core type and returns the
 * environment of the fastest, with every trial, so that the reference runs on the best kernel
 * the CPU supports (a candidate that crashes is skipped).
 */
export async function tuneOpenBlas(
  script: string,
  { threads, n, candidates }: { threads: number; n: number; candidates: string[] },
): Promise<{ env: Record<string, string>; best: CoreTypeTrial; trials: CoreTypeTrial[] }> {
  const trials: CoreTypeTrial[] = [];
  for (const coreType of candidates) {
    const env = referenceEnv(coreType ? { OPENBLAS_CORETYPE: coreType } : {});
    const r = await runTorchReference(script, { threads, matmul: n, repeats: 3 }, env);
    trials.push(
      typeof r === "string"
        ? { coreType, gflops: NaN, error: r }
        : { coreType, gflops: r.matmul_gflops as number },
    );
  }
  const ok = trials.filter((t) => Number.isFinite(t.gflops));
  const best = ok.length ? ok.reduce((a, b) => (b.gflops > a.gflops ? b : a)) : trials[0];
  return {
    env: referenceEnv(best.coreType ? { OPENBLAS_CORETYPE: best.coreType } : {}),
    best,
    trials,
  };
}

/**
 * The machine's peak float32 FLOP/s: cores x FMA units x SIMD lanes x 2 (multiply and add) x
 * clock, with the assumptions said in `formula`. SIMD lanes come from the CPU flags (16 with
 * AVX-512, 8 with AVX2, 4 otherwise); two FMA units per core are assumed on AVX-512 server CPUs
 * (one-unit parts exist: the figure is then twice the truth).
 *
 * @example
 * ```ts
 * import { peakGflops } from "./bench_util.ts";
 * peakGflops({ cores: 2, flags: new Set(["avx512f", "fma"]), mhz: 2100 }).gflops; // 268.8
 * ```
 */
export function peakGflops(
  { cores, flags, mhz }: { cores: number; flags: ReadonlySet<string>; mhz: number },
): { gflops: number; formula: string } {
  const lanes = flags.has("avx512f") ? 16 : flags.has("avx2") ? 8 : 4;
  const units = flags.has("fma") || flags.has("avx512f") ? 2 : 1;
  const gflops = cores * units * lanes * 2 * mhz / 1000;
  const isa = lanes === 16 ? "AVX-512" : lanes === 8 ? "AVX2" : "SSE";
  return {
    gflops,
    formula: `${cores} cores x ${units} ${isa} FMA units (assumed) x ${lanes} float32 lanes x 2 x ${
      (mhz / 1000).toFixed(2)
    } GHz`,
  };
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
