/**
 * Installing weight sets from the registry into a weights folder: planning (which files, where,
 * how big, what is already there), and downloading with progress, verification against the
 * registry or the lock file, and trust-on-first-use recording.
 *
 * @module
 */
import { basename, join } from "node:path";
import { ByteProgress, formatBytes } from "./_byte_progress.ts";
import { ChecksumError, downloadFile } from "./download.ts";
import { type Lock, LOCK_FILE, readLock, writeLock } from "./_lock.ts";
import {
  HF_ENDPOINT,
  type Registry,
  RegistryError,
  resolveUrl,
  type WeightFile,
} from "./registry.ts";
import { formatDuration } from "../train/_progress.ts";

/** A registry file resolved for one weights folder and endpoint. */
export interface PlannedFile extends WeightFile {
  /** The weight set it belongs to. */
  set: string;
  /** The URL actually fetched (the registry URL on the chosen endpoint). */
  fetchUrl: string;
  /** Destination path (the weights folder joined with `dest`). */
  path: string;
}

/**
 * The files of the named sets, in registry order.
 *
 * @example
 * ```ts
 * import { planDownloads } from "./_install.ts";
 * import { REGISTRY } from "./registry.ts";
 * const plan = planDownloads(REGISTRY, ["gpt2-small"], { dir: "weights" });
 * plan[1].path; // "weights/gpt2-small/model.safetensors"
 * ```
 */
export function planDownloads(
  registry: Registry,
  sets: string[],
  { dir, endpoint = HF_ENDPOINT }: { dir: string; endpoint?: string },
): PlannedFile[] {
  const plan: PlannedFile[] = [];
  for (const set of sets) {
    const ws = registry[set];
    if (!ws) {
      throw new RegistryError(
        `unknown weight set "${set}"; known: ${Object.keys(registry).join(", ")}`,
      );
    }
    for (const f of ws.files) {
      plan.push({ ...f, set, fetchUrl: resolveUrl(f.url, endpoint), path: join(dir, f.dest) });
    }
  }
  return plan;
}

/** What is on disk for a planned file (sizes only, nothing is hashed). */
export interface FileState {
  /** `present`: the file exists (with the expected size where known); `partial`: a `.part` to resume. */
  state: "present" | "partial" | "missing" | "differs";
  /** Bytes already on disk towards this file (the file, or the `.part`). */
  have: number;
  /** The expected size: registry, then lock file; null when unknown. */
  size: number | null;
  /** Where the sha256 to verify against comes from. */
  checksum: "pinned" | "lock" | "tofu";
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? st.size : null;
  } catch {
    return null;
  }
}

/**
 * Inspects a planned file on disk.
 *
 * @example
 * ```ts
 * import { fileState, planDownloads } from "./_install.ts";
 * import { REGISTRY } from "./registry.ts";
 * const [config] = planDownloads(REGISTRY, ["gpt2-small"], { dir: "/nonexistent" });
 * (await fileState(config, { files: {} })).state; // "missing"
 * ```
 */
export async function fileState(file: PlannedFile, lock: Lock): Promise<FileState> {
  const locked = lock.files[file.url];
  const size = file.size ?? locked?.size ?? null;
  const checksum = file.sha256 !== null ? "pinned" : locked ? "lock" : "tofu";
  const existing = await sizeOf(file.path);
  if (existing !== null) {
    if (size === null || existing === size) {
      return { state: "present", have: existing, size, checksum };
    }
    return { state: "differs", have: 0, size, checksum };
  }
  const part = await sizeOf(`${file.path}.part`);
  if (part !== null && part > 0) return { state: "partial", have: part, size, checksum };
  return { state: "missing", have: 0, size, checksum };
}

/**
 * Bytes still to download for a file (estimated from `approxSize` when the size is unknown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesToGet, planDownloads } from "./_install.ts";
 * import { REGISTRY } from "./registry.ts";
 * const [config] = planDownloads(REGISTRY, ["gpt2-small"], { dir: "weights" });
 * const partial = { state: "partial", have: 65, size: 665, checksum: "pinned" } as const;
 * bytesToGet(config, partial); // { bytes: 600, exact: true }
 * const [pt] = planDownloads(REGISTRY, ["gpt2-small-transcoders"], { dir: "weights" });
 * const estimate = bytesToGet(pt, { state: "missing", have: 0, size: null, checksum: "tofu" });
 * assert.deepEqual(estimate, { bytes: 151_000_000, exact: false }); // from approxSize
 * ```
 */
export function bytesToGet(file: PlannedFile, state: FileState): { bytes: number; exact: boolean } {
  if (state.state === "present") return { bytes: 0, exact: true };
  const size = state.size ?? file.approxSize ?? 0;
  return { bytes: Math.max(0, size - state.have), exact: state.size !== null };
}

/** Options of {@link installWeights}. */
export interface InstallOptions {
  /** The weights folder (holds the lock file). */
  dir: string;
  retries?: number;
  backoffMs?: number;
  fetch?: typeof fetch;
  /** No progress lines. */
  quiet?: boolean;
  /** Where notes and progress go (default stderr). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What {@link installWeights} did. */
export interface InstallSummary {
  downloaded: string[];
  present: string[];
  /** Files recorded in the lock file by this run (trust on first use). */
  recorded: string[];
  /** Bytes transferred by this run. */
  bytes: number;
  seconds: number;
  lockPath: string;
}

/**
 * Downloads every planned file that is not already complete, verifying each against the
 * registry's sha256 or, failing that, the lock file, and recording the sha256 of files with
 * neither in the lock file. Stops at the first failure (completed files stay, the current one's
 * `.part` is kept for resuming).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installWeights, planDownloads } from "./_install.ts";
 * import { readLock } from "./_lock.ts";
 * import type { Registry } from "./registry.ts";
 * // A one-file set without a published sha256, served by a local server:
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));
 * const registry: Registry = {
 *   demo: {
 *     kind: "model",
 *     description: "demo",
 *     files: [{ url: `http://127.0.0.1:${server.addr.port}/a.txt`, dest: "demo/a.txt", size: null, sha256: null }],
 *   },
 * };
 * const dir = await Deno.makeTempDir();
 * const plan = planDownloads(registry, ["demo"], { dir });
 * const summary = await installWeights(plan, { dir, quiet: true, log: () => {} });
 * summary.recorded; // ["demo/a.txt"]: its sha256 went to the lock file (trust on first use)
 * assert.equal((await readLock(summary.lockPath)).files[plan[0].url].size, 5);
 * const again = await installWeights(plan, { dir, quiet: true, log: () => {} });
 * assert.deepEqual(again.present, ["demo/a.txt"]); // verified against the lock file, not fetched
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function installWeights(
  plan: PlannedFile[],
  options: InstallOptions,
): Promise<InstallSummary> {
  const log = options.log ?? ((line: string) => console.error(line));
  const lockPath = join(options.dir, LOCK_FILE);
  const lock = await readLock(lockPath);
  const summary: InstallSummary = {
    downloaded: [],
    present: [],
    recorded: [],
    bytes: 0,
    seconds: 0,
    lockPath,
  };
  const t0 = performance.now();
  for (const [i, file] of plan.entries()) {
    const label = `[${i + 1}/${plan.length}] ${basename(file.dest)}`;
    const locked = lock.files[file.url];
    let progress: ByteProgress | undefined;
    let first: number | undefined;
    const t = performance.now();
    const result = await downloadFile(file.fetchUrl, file.path, {
      size: file.size ?? locked?.size ?? null,
      sha256: file.sha256 ?? locked?.sha256 ?? null,
      retries: options.retries,
      backoffMs: options.backoffMs,
      fetch: options.fetch,
      signal: options.signal,
      onProgress: (done, total) => {
        first ??= done;
        progress ??= new ByteProgress(label, total, { quiet: options.quiet, start: first });
        progress.update(done);
      },
    }).catch((e) => {
      if (e instanceof ChecksumError && file.sha256 === null && locked) {
        e.message += `. The expected sha256 was recorded on the first download in ${lockPath}; ` +
          `if the upstream file really changed, delete its entry there and run again`;
      }
      throw e;
    });
    const check = file.sha256 !== null
      ? "sha256 ok (pinned)"
      : locked
      ? "sha256 ok (lock file)"
      : "sha256 recorded";
    if (result.skipped) {
      summary.present.push(file.dest);
      if (!options.quiet) log(`${label}: already present, ${formatBytes(result.size)}, ${check}`);
    } else {
      summary.downloaded.push(file.dest);
      summary.bytes += result.transferred;
      const secs = (performance.now() - t) / 1000;
      const line = `${label} ${formatBytes(result.size)} in ${formatDuration(secs)}` +
        `${result.resumed ? " (resumed)" : ""}, ${check}`;
      if (progress) progress.done(line);
      else if (!options.quiet) log(line);
    }
    if (file.sha256 === null && !locked) {
      lock.files[file.url] = {
        dest: file.dest,
        size: result.size,
        sha256: result.sha256,
        recorded: new Date().toISOString(),
      };
      await writeLock(lockPath, lock);
      summary.recorded.push(file.dest);
      log(
        `note: ${file.dest} has no published sha256; recorded ${result.sha256} in ${lockPath} ` +
          `(trust on first use); later runs verify against it`,
      );
    }
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
