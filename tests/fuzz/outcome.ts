/**
 * What happened to one fuzz input. A loader either returns (`parsed`) or refuses the input with
 * one of the project's error classes and a message (`refused`); anything else is a failure:
 * another error class (`internal-error`: a TypeError, a RangeError from a typed array, a plain
 * Error, a project error that wraps one of those as its cause, or an empty message), a
 * `stack-overflow`, going over the time or memory budget, or a `side-effect` (a permission
 * error: the loader tried to write, spawn or connect; or a file appeared in the scratch folder).
 *
 * @module
 */
import { SafetensorsError } from "../../lib/formats/safetensors.ts";
import { PickleError } from "../../lib/formats/pickle.ts";
import { PtFormatError } from "../../lib/formats/torch_pt.ts";
import { ZipError } from "../../lib/formats/zip.ts";
import { ConfigError } from "../../lib/model/config.ts";
import { WeightsError } from "../../lib/model/weights.ts";
import { TranscoderError } from "../../lib/transcoder/transcoder.ts";

/** Every outcome, the two good ones first. */
export const OUTCOMES = [
  "parsed",
  "refused",
  "internal-error",
  "stack-overflow",
  "over-time",
  "over-memory",
  "side-effect",
] as const;

/** One outcome. */
export type Outcome = typeof OUTCOMES[number];

/**
 * Whether an outcome is a failure (anything but `parsed` and `refused`).
 *
 * @example
 * ```ts
 * import { isFailure } from "./outcome.ts";
 * isFailure("refused"); // false
 * isFailure("stack-overflow"); // true
 * ```
 */
export function isFailure(outcome: Outcome): boolean {
  return outcome !== "parsed" && outcome !== "refused";
}

/** The project's error classes: throwing one of these is a refusal. */
export const PROJECT_ERRORS: readonly (new (message: string) => Error)[] = [
  SafetensorsError,
  ZipError,
  PickleError,
  PtFormatError,
  TranscoderError,
  ConfigError,
  WeightsError,
];

/** How a thrown value is classified, with the name and message to report. */
export interface ErrorVerdict {
  outcome: Outcome;
  name: string;
  message: string;
  /** The innermost stack frame in the project's lib/ (of the error, or of the cause it wraps). */
  where: string;
}

/** The first stack frame of `e` that lies in lib/, as `lib/path.ts:line:col` (or `""`). */
function libFrame(e: unknown): string {
  const stack = (e as Error)?.stack ?? "";
  const m = /\/(lib\/[^\s):]+:\d+:\d+)/.exec(stack);
  return m ? m[1] : "";
}

const isPermissionError = (e: unknown) =>
  e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
const isStackOverflow = (e: unknown) =>
  e instanceof RangeError && /Maximum call stack size exceeded/.test(e.message);

/** The chain of `cause`s below an error (at most 10 deep). */
function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let c = (e as { cause?: unknown })?.cause; c !== undefined && out.length < 10;) {
    out.push(c);
    c = (c as { cause?: unknown })?.cause;
  }
  return out;
}

/**
 * Classifies a thrown value by its class (and its causes').
 *
 * @example
 * ```ts
 * import { SafetensorsError } from "../../lib/formats/safetensors.ts";
 * import { classifyError } from "./outcome.ts";
 * classifyError(new SafetensorsError("x: truncated")).outcome; // "refused"
 * classifyError(new RangeError("Invalid typed array length: -4")).outcome; // "internal-error"
 * classifyError(new Deno.errors.NotCapable("Requires run access")).outcome; // "side-effect"
 * ```
 */
export function classifyError(e: unknown): ErrorVerdict {
  const name = e instanceof Error ? e.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  const chain = [e, ...causes(e)];
  const verdict = (outcome: Outcome, msg: string, cause: unknown = e): ErrorVerdict => {
    const wrapped = cause === e
      ? ""
      : ` (wrapping ${(cause as Error).name}: ${(cause as Error).message})`;
    return { outcome, name, message: msg + wrapped, where: libFrame(cause) || libFrame(e) };
  };
  const perm = chain.find(isPermissionError);
  if (perm) return verdict("side-effect", message, perm);
  const overflow = chain.find(isStackOverflow);
  if (overflow) return verdict("stack-overflow", message, overflow);
  if (!PROJECT_ERRORS.some((cls) => e instanceof cls)) return verdict("internal-error", message);
  if (typeof message !== "string" || message.trim() === "") {
    return verdict("internal-error", "(empty message)");
  }
  const internal = causes(e).find((c) => c instanceof TypeError || c instanceof RangeError);
  if (internal) return verdict("internal-error", message, internal);
  return verdict("refused", message);
}
