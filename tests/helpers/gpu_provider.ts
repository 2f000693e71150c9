/**
 * The GPU provider for the parity tests: WebGPU on a real adapter (a GPU, or Mesa's lavapipe, a
 * Vulkan driver that runs on the CPU), or CUDA; without one, a note that says how to get it.
 * `TC_REQUIRE_WEBGPU=1` (CI) and `TC_REQUIRE_CUDA=1` (`deno task gpu-check`) make a missing
 * provider an error.
 */
import assert from "node:assert/strict";
import { probeProvider } from "../../tasks/gpu_check.ts";

/** How to install lavapipe on Debian 12. */
export const LAVAPIPE_INSTALL =
  "add Debian's bookworm-backports suite to apt's sources, then `sudo apt-get install -t " +
  "bookworm-backports mesa-vulkan-drivers libvulkan1` (Mesa 25; Debian 12's own Mesa 22.3 is " +
  "refused by Dawn), and set XDG_RUNTIME_DIR to a writable folder";

/** The GPU provider the parity tests compare with `cpu`: `$TC_PARITY_PROVIDER`, else webgpu. */
export const PARITY_PROVIDER: GpuProvider = (() => {
  const p = Deno.env.get("TC_PARITY_PROVIDER") || "webgpu";
  if (p !== "webgpu" && p !== "cuda") {
    throw new Error(`TC_PARITY_PROVIDER must be webgpu or cuda, got "${p}"`);
  }
  return p;
})();

/** The GPU providers. */
export type GpuProvider = "webgpu" | "cuda";

const HOW_TO_GET: Record<GpuProvider, string> = {
  webgpu: LAVAPIPE_INSTALL,
  cuda:
    "run `deno task setup --cuda` on a machine with an NVIDIA GPU, its driver, CUDA 13 and cuDNN 9",
};
const REQUIRE_ENV: Record<GpuProvider, string> = {
  webgpu: "TC_REQUIRE_WEBGPU",
  cuda: "TC_REQUIRE_CUDA",
};

/**
 * Whether a GPU provider works here: compiles and runs a ReLU on it (which must be right).
 * Without it, checks that the error says what is missing, then throws when
 * `TC_REQUIRE_WEBGPU=1` / `TC_REQUIRE_CUDA=1`, else prints a `note:` (naming `what`) and returns
 * false.
 *
 * @example
 * ```ts
 * import { gpuAvailable } from "./gpu_provider.ts";
 * // In a test: if (!(await gpuAvailable("webgpu", "the WebGPU parity tests"))) return;
 * typeof gpuAvailable; // "function"
 * ```
 */
export async function gpuAvailable(provider: GpuProvider, what: string): Promise<boolean> {
  const e = await probeProvider(provider);
  if (e === null) return true;
  // The error names what is missing.
  if (provider === "webgpu") {
    assert.match(e.message, /WebGPU execution provider found no usable adapter/);
    assert.match(e.message, /libvulkan\.so\.1/);
  } else {
    assert.match(e.message, /CUDA execution provider is not available.*Missing: /);
  }
  const why = provider === "webgpu"
    ? `no WebGPU adapter (${e.message.split(":")[1]?.trim() ?? e.message})`
    : e.message;
  const env = REQUIRE_ENV[provider];
  if (Deno.env.get(env) === "1") {
    throw new Error(`${env}=1 but ${why}; to get it, ${HOW_TO_GET[provider]}`);
  }
  console.error(`note: ${what} did not run: ${why}; to run them, ${HOW_TO_GET[provider]}`);
  return false;
}
