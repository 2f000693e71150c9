/**
 * `deno task setup`: downloads pretrained weights (GPT-2 small and its transcoders) from the
 * Hugging Face Hub, pinned to fixed commits, with resume, retries and checksum verification;
 * `--cuda` installs onnxruntime's CUDA provider from npm instead.
 *
 * @module
 */
import { join } from "node:path";
import { nearestNames } from "../lib/graph/hooks.ts";
import { formatBytes } from "../lib/weights/_byte_progress.ts";
import { freeBytes } from "../lib/weights/_disk.ts";
import { DownloadError } from "../lib/weights/download.ts";
import {
  bytesToGet,
  type FileState,
  fileState,
  installWeights,
  planDownloads,
  type PlannedFile,
} from "../lib/weights/_install.ts";
import { LOCK_FILE, LockError, readLock } from "../lib/weights/_lock.ts";
import {
  HF_ENDPOINT,
  REGISTRY,
  type Registry,
  RegistryError,
  validateRegistry,
  type WeightSet,
} from "../lib/weights/registry.ts";
import { formatDuration } from "../lib/train/_progress.ts";
import { cacheDir, downloadsDir, WEIGHTS_DIR_ENV } from "../lib/weights/locations.ts";
import {
  CUDA_PACKAGE,
  cudaLibraryDir,
  installCudaProvider,
  NPM_REGISTRY,
  tarballUrl,
} from "../lib/weights/_cuda_install.ts";
import { type CommandSpec, type OptionValues, runCommand, UsageError } from "./command.ts";

/** The environment variable that overrides the Hub endpoint, like `--base-url`. */
const ENDPOINT_ENV = "TC_HF_ENDPOINT";
/** npm's own variable for its registry, honoured like `--npm-registry`. */
const NPM_REGISTRY_ENV = "NPM_CONFIG_REGISTRY";

/** The command line of `deno task setup`. */
export const SETUP_COMMAND = {
  name: "deno task setup",
  summary:
    `Downloads pretrained weights from the Hugging Face Hub into the weights folder, pinned to fixed commits: interrupted downloads resume, network errors are retried, and each file's size and sha256 are verified before it is moved into place. Files without a published sha256 are recorded on their first download in <dir>/${LOCK_FILE} (trust on first use) and verified against it on later runs. Files already complete are skipped.`,
  options: {
    model: {
      type: "string",
      default: "gpt2-small",
      arg: "name",
      help: "model to install: gpt2-small, or none",
    },
    transcoders: {
      type: "string",
      default: "gpt2-small",
      arg: "name",
      help: "transcoders to install: gpt2-small (its 12 layers), or none",
    },
    dir: {
      type: "string",
      default: downloadsDir(),
      arg: "folder",
      help: `weights folder ($${WEIGHTS_DIR_ENV}, else the user cache folder)`,
    },
    "base-url": {
      type: "string",
      arg: "url",
      help: `Hub endpoint or mirror (default $${ENDPOINT_ENV}, else ${HF_ENDPOINT})`,
    },
    "dry-run": {
      type: "boolean",
      help: "list the files, their sizes and the disk space needed; download nothing",
    },
    registry: {
      type: "string",
      arg: "file",
      help:
        'take the weight sets from this JSON file (same shape as the built-in registry: {"<set>": {"kind", "description", "files": [{"url", "dest", "size", "sha256"}]}}) instead of the built-in ones',
    },
    retries: {
      type: "integer",
      default: 4,
      min: 0,
      max: 100,
      help: "further attempts after a network error, HTTP 5xx or cut transfer",
    },
    "backoff-ms": {
      type: "integer",
      default: 1000,
      min: 0,
      max: 600_000,
      help: "delay before the first retry, doubled for each further one",
    },
    cuda: {
      type: "boolean",
      help:
        `install onnxruntime's CUDA provider instead of weights: ${CUDA_PACKAGE.name}@${CUDA_PACKAGE.version} from npm (${
          formatBytes(CUDA_PACKAGE.tarball.size)
        }, sha256 pinned) into <cache folder>/cuda, linked beside onnxruntime-node's libonnxruntime.so.1 (docs/gpu.md)`,
    },
    "npm-registry": {
      type: "string",
      arg: "url",
      help:
        `npm registry or mirror for --cuda (default $${NPM_REGISTRY_ENV}, else ${NPM_REGISTRY})`,
    },
    quiet: { type: "boolean", help: "no progress lines" },
  },
  epilog: `Built-in weight sets:\n${
    Object.entries(REGISTRY).map(([name, s]) => `  ${name.padEnd(24)} ${s.description}`).join("\n")
  }`,
} as const satisfies CommandSpec;

type SetupValues = OptionValues<typeof SETUP_COMMAND.options>;

/** Runs `deno task setup` with these arguments; returns the exit status. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand(SETUP_COMMAND, args, setup);
}

/** An endpoint from its option, else its environment variable, else the default; checked. */
function urlOption(
  value: string | undefined,
  { option, env, fallback }: { option: string; env: string; fallback: string },
): string {
  const url = value ?? (Deno.env.get(env) || undefined) ?? fallback;
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(
      `${value !== undefined ? option : `$${env}`} must be an http(s) URL, got "${url}"`,
    );
  }
  return url;
}

/** The Hub endpoint: `--base-url`, else `$TC_HF_ENDPOINT`, else the Hub; checked. */
const endpointOf = (baseUrl: string | undefined) =>
  urlOption(baseUrl, { option: "--base-url", env: ENDPOINT_ENV, fallback: HF_ENDPOINT });

async function loadRegistry(path: string | undefined): Promise<Registry> {
  if (path === undefined) return REGISTRY;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`--registry "${path}": ${(e as Error).message}`);
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
  const near = nearestNames(name, [...known, "none"], 1, 3)[0];
  throw new UsageError(
    `--${option} "${name}": no such ${kind} weight set; known: ${[...known, "none"].join(", ")}${
      near ? ` (did you mean ${near}?)` : ""
    }`,
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

/** Where the weights go and come from. */
interface Target {
  dir: string;
  endpoint: string;
}

async function dryRun(
  { dir, endpoint }: Target,
  plan: PlannedFile[],
  states: FileState[],
  registry: Registry,
): Promise<void> {
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

/**
 * Installs the weight sets; a download, checksum or lock-file failure (not a mistake in the
 * command line) is printed as one `error:` line with exit status 1.
 */
async function setup(values: SetupValues): Promise<number> {
  try {
    await (values.cuda ? installCuda(values) : install(values));
    return 0;
  } catch (e) {
    if (!(e instanceof DownloadError || e instanceof LockError)) throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
}

async function install(values: SetupValues): Promise<void> {
  const { dir, retries } = values;
  const endpoint = endpointOf(values["base-url"]);
  const registry = await loadRegistry(values.registry);
  const sets: string[] = [];
  if (values.model !== "none") sets.push(pickSet(registry, "model", values.model, "model"));
  if (values.transcoders !== "none") {
    sets.push(pickSet(registry, "transcoders", values.transcoders, "transcoders"));
  }
  if (sets.length === 0) {
    throw new UsageError("nothing to install: --model none and --transcoders none");
  }
  const plan = planDownloads(registry, sets, { dir, endpoint });
  const lock = await readLock(join(dir, LOCK_FILE));
  const states = await Promise.all(plan.map((f) => fileState(f, lock)));
  if (values["dry-run"]) return await dryRun({ dir, endpoint }, plan, states, registry);

  const needed = plan.reduce((sum, f, i) => sum + bytesToGet(f, states[i]).bytes, 0);
  const free = await freeBytes(dir);
  if (free !== null && needed > free) {
    throw new DownloadError(
      `not enough disk space in ${dir}: the downloads need about ${formatBytes(needed)}, ` +
        `${formatBytes(free)} free`,
      plan[0].fetchUrl,
    );
  }
  const summary = await installWeights(plan, {
    dir,
    retries,
    backoffMs: values["backoff-ms"],
    quiet: values.quiet,
  });
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

/** `--cuda`: installs the CUDA provider libraries (weights are left alone). */
async function installCuda(values: SetupValues): Promise<void> {
  const registry = urlOption(values["npm-registry"], {
    option: "--npm-registry",
    env: NPM_REGISTRY_ENV,
    fallback: NPM_REGISTRY,
  });
  const dir = join(cacheDir(), "cuda");
  if (values["dry-run"]) {
    console.log([
      `CUDA provider: ${CUDA_PACKAGE.name}@${CUDA_PACKAGE.version} (ONNX Runtime ${CUDA_PACKAGE.onnxruntime}, CUDA 13)`,
      `  from ${tarballUrl(CUDA_PACKAGE, registry)}`,
      `  ${formatBytes(CUDA_PACKAGE.tarball.size)}, sha256 pinned; unpacks ${
        CUDA_PACKAGE.files.map((f) => `${f.name} (${formatBytes(f.size)})`).join(", ")
      } into ${cudaLibraryDir(dir)}`,
      "Dry run: nothing was downloaded.",
    ].join("\n"));
    return;
  }
  const t0 = performance.now();
  const summary = await installCudaProvider({
    dir,
    registry,
    retries: values.retries,
    backoffMs: values["backoff-ms"],
    quiet: values.quiet,
  });
  console.log([
    `Done in ${
      formatDuration((performance.now() - t0) / 1000)
    }: the CUDA provider libraries are in ${summary.dir}` +
    `${summary.downloaded ? "" : " (already present)"}, linked into ${summary.runtimeDir}.`,
    `Try it: deno task demo --provider cuda (needs an NVIDIA GPU, its driver, CUDA 13 and cuDNN 9).`,
  ].join("\n"));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
