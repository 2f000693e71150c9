/**
 * `deno task setup`: downloads pretrained weights (GPT-2 small and its transcoders) from the
 * Hugging Face Hub, pinned to fixed commits, with resume, retries and checksum verification.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { formatBytes } from "../lib/weights/byte_progress.ts";
import { freeBytes } from "../lib/weights/disk.ts";
import { DownloadError } from "../lib/weights/download.ts";
import {
  bytesToGet,
  type FileState,
  fileState,
  installWeights,
  planDownloads,
  type PlannedFile,
} from "../lib/weights/install.ts";
import { LOCK_FILE, LockError, readLock } from "../lib/weights/lock.ts";
import {
  HF_ENDPOINT,
  REGISTRY,
  type Registry,
  RegistryError,
  validateRegistry,
  type WeightSet,
} from "../lib/weights/registry.ts";
import { formatDuration } from "../lib/train/progress.ts";
import { parseIntOption, usageError } from "./cli.ts";

/** The environment variable that overrides the Hub endpoint, like `--base-url`. */
const ENDPOINT_ENV = "TC_HF_ENDPOINT";

const HELP = `Usage: deno task setup [options]

Downloads pretrained weights from the Hugging Face Hub into the weights folder, pinned to fixed
commits: interrupted downloads resume, network errors are retried, and each file's size and
sha256 are verified before it is moved into place. Files without a published sha256 are recorded
on their first download in <dir>/${LOCK_FILE} (trust on first use) and verified
against it on later runs. Files already complete are skipped.

Options:
  --model <name>        model to install: gpt2-small (default), or none
  --transcoders <name>  transcoders to install: gpt2-small (default: its 12 layers), or none
  --dir <folder>        weights folder (default weights)
  --base-url <url>      Hub endpoint or mirror (default $${ENDPOINT_ENV}, else ${HF_ENDPOINT})
  --dry-run             list the files, their sizes and the disk space needed; download nothing
  --registry <file>     take the weight sets from this JSON file (same shape as the built-in
                        registry: {"<set>": {"kind", "description", "files": [{"url", "dest",
                        "size", "sha256"}]}}) instead of the built-in ones
  --retries <n>         further attempts after a network error, HTTP 5xx or cut transfer (default 4)
  --backoff-ms <n>      delay before the first retry, doubled for each further one (default 1000)
  --quiet               no progress lines
  --help                show this help

Built-in weight sets:
${Object.entries(REGISTRY).map(([name, s]) => `  ${name.padEnd(24)} ${s.description}`).join("\n")}
`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        model: { type: "string", default: "gpt2-small" },
        transcoders: { type: "string", default: "gpt2-small" },
        dir: { type: "string", default: "weights" },
        "base-url": { type: "string" },
        "dry-run": { type: "boolean", default: false },
        registry: { type: "string" },
        retries: { type: "string", default: "4" },
        "backoff-ms": { type: "string", default: "1000" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    usageError((e as Error).message);
  }
}
const values = parseOptions();
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

const retries = parseIntOption("retries", values.retries, 0, 100);
const backoffMs = parseIntOption("backoff-ms", values["backoff-ms"], 0, 600_000);
const dir = values.dir;
const endpoint = values["base-url"] ?? Deno.env.get(ENDPOINT_ENV) ?? HF_ENDPOINT;
if (!/^https?:\/\/[^/]/.test(endpoint)) {
  usageError(
    `${
      values["base-url"] !== undefined ? "--base-url" : `$${ENDPOINT_ENV}`
    } must be an http(s) URL, got "${endpoint}"`,
  );
}

/** Prints the error and exits with status 1. */
function fail(e: unknown): never {
  const known = e instanceof DownloadError || e instanceof RegistryError || e instanceof LockError;
  console.error(
    `error: ${
      known ? (e as Error).message : (e instanceof Error ? e.stack ?? e.message : String(e))
    }`,
  );
  Deno.exit(1);
}

async function loadRegistry(path: string | undefined): Promise<Registry> {
  if (path === undefined) return REGISTRY;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    usageError(`--registry "${path}": ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return validateRegistry(json, path);
}

/** The set named by `--model`/`--transcoders`: `<name>` or `<name>-<kind>`, of that kind. */
function pickSet(
  registry: Registry,
  option: string,
  name: string,
  kind: WeightSet["kind"],
): string {
  for (const candidate of [name, `${name}-${kind}`]) {
    if (registry[candidate]?.kind === kind) return candidate;
  }
  const known = Object.entries(registry).filter(([, s]) => s.kind === kind).map(([n]) =>
    kind === "transcoders" ? n.replace(/-transcoders$/, "") : n
  );
  usageError(
    `--${option} "${name}": no such ${kind} weight set; known: ${[...known, "none"].join(", ")}`,
  );
}

function describeState(state: FileState): string {
  switch (state.state) {
    case "present":
      return "present";
    case "partial":
      return `partial (${formatBytes(state.have)}, resumes)`;
    case "differs":
      return "differs (downloads again)";
    default:
      return "to download";
  }
}

/** The longest common prefix of some URLs, cut after its last `/`. */
function commonBase(urls: string[]): string {
  let prefix = urls[0] ?? "";
  for (const u of urls) while (!u.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf("/") + 1);
}

async function dryRun(plan: PlannedFile[], states: FileState[], registry: Registry): Promise<void> {
  const out: string[] = [`Weights folder: ${dir}`, `Endpoint: ${endpoint}`];
  let total = 0;
  let inexact = 0;
  let toGet = 0;
  let toGetCount = 0;
  for (const set of new Set(plan.map((f) => f.set))) {
    const files = plan.map((f, i) => [f, states[i]] as const).filter(([f]) => f.set === set);
    out.push(
      "",
      `${set}: ${registry[set].description}`,
      `  from ${commonBase(files.map(([f]) => f.fetchUrl))}`,
    );
    for (const [file, state] of files) {
      const size = state.size ?? file.approxSize ?? null;
      const sizeText = size === null
        ? "size unknown"
        : `${state.size === null ? "~" : ""}${formatBytes(size)}`;
      if (state.size === null) inexact++;
      total += size ?? 0;
      toGet += bytesToGet(file, state).bytes;
      if (state.state !== "present") toGetCount++;
      const checksum = state.checksum === "pinned"
        ? "sha256 pinned"
        : state.checksum === "lock"
        ? "sha256 in lock"
        : "sha256 on first use";
      out.push(
        `  ${sizeText.padStart(12)}  ${checksum.padEnd(19)}  ${
          describeState(state).padEnd(11)
        }  ${file.dest}`,
      );
    }
  }
  const free = await freeBytes(dir);
  const approx = inexact > 0 ? ` (${inexact} sizes approximate, marked ~)` : "";
  out.push(
    "",
    `${plan.length} files, ${formatBytes(total)} in all${approx}`,
    `to download: ${toGetCount} files, ${formatBytes(toGet)}; free space in ${dir}: ${
      free === null ? "unknown" : formatBytes(free)
    }${free !== null && toGet > free ? " (NOT ENOUGH)" : ""}`,
    "Dry run: nothing was downloaded.",
  );
  console.log(out.join("\n"));
}

async function main(): Promise<void> {
  const registry = await loadRegistry(values.registry);
  const sets: string[] = [];
  if (values.model !== "none") sets.push(pickSet(registry, "model", values.model, "model"));
  if (values.transcoders !== "none") {
    sets.push(pickSet(registry, "transcoders", values.transcoders, "transcoders"));
  }
  if (sets.length === 0) usageError("nothing to install: --model none and --transcoders none");
  const plan = planDownloads(registry, sets, { dir, endpoint });
  const lock = await readLock(join(dir, LOCK_FILE));
  const states = await Promise.all(plan.map((f) => fileState(f, lock)));
  if (values["dry-run"]) return await dryRun(plan, states, registry);

  const needed = plan.reduce((sum, f, i) => sum + bytesToGet(f, states[i]).bytes, 0);
  const free = await freeBytes(dir);
  if (free !== null && needed > free) {
    throw new DownloadError(
      `not enough disk space in ${dir}: the downloads need about ${formatBytes(needed)}, ` +
        `${formatBytes(free)} free`,
      plan[0].fetchUrl,
    );
  }
  const summary = await installWeights(plan, { dir, retries, backoffMs, quiet: values.quiet });
  const lines = [
    `Done in ${formatDuration(summary.seconds)}: ${summary.downloaded.length} downloaded (${
      formatBytes(summary.bytes)
    }), ${summary.present.length} already present, in ${dir}.`,
  ];
  if (summary.recorded.length > 0) {
    lines.push(
      `${summary.recorded.length} sha256 recorded on first use in ${summary.lockPath}.`,
    );
  }
  for (const set of sets) {
    const first = registry[set].files[0];
    if (registry[set].kind === "model" && first) {
      lines.push(`Model folder: ${join(dir, first.dest, "..")}`);
    }
  }
  console.log(lines.join("\n"));
}

try {
  await main();
} catch (e) {
  fail(e);
}
