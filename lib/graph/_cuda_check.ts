/**
 * What the CUDA execution provider needs, and which of it this machine lacks. onnxruntime loads
 * `libonnxruntime_providers_cuda.so` (through `libonnxruntime_providers_shared.so`) from the
 * folder of its own `libonnxruntime.so.1`; that library in turn needs the NVIDIA driver, the
 * CUDA 13 runtime libraries and, when a graph has convolutions or attention kernels, cuDNN 9.
 * Each is probed with the system's loader (`dlopen`), as onnxruntime will load it.
 *
 * @module
 */
import { statSync } from "node:fs";
import { dirname, join } from "node:path";

/** The provider libraries that `deno task setup --cuda` places beside `libonnxruntime.so.1`. */
export const CUDA_PROVIDER_FILES = [
  "libonnxruntime_providers_cuda.so",
  "libonnxruntime_providers_shared.so",
] as const;

/** The system libraries the CUDA provider (ONNX Runtime 1.29, CUDA 13) loads, and what they are. */
export const CUDA_SYSTEM_LIBRARIES: readonly { lib: string; what: string }[] = [
  { lib: "libcuda.so.1", what: "the NVIDIA driver" },
  { lib: "libcudart.so.13", what: "the CUDA 13 runtime" },
  { lib: "libcublas.so.13", what: "cuBLAS 13" },
  { lib: "libcublasLt.so.13", what: "cuBLASLt 13" },
  { lib: "libcurand.so.10", what: "cuRAND (CUDA 13)" },
  { lib: "libcudnn.so.9", what: "cuDNN 9" },
];

/**
 * The folder of the `libonnxruntime.so.1` loaded in this process (from `/proc/self/maps`), or
 * `null` where that cannot be read (not Linux, or onnxruntime not loaded yet).
 *
 * @example
 * ```ts
 * import "./session.ts"; // loads onnxruntime-node
 * import { onnxruntimeLibraryDir } from "./_cuda_check.ts";
 * onnxruntimeLibraryDir(); // e.g. ".../onnxruntime-node/1.29.0/bin/napi-v6/linux/x64"
 * ```
 */
export function onnxruntimeLibraryDir(): string | null {
  let maps: string;
  try {
    maps = Deno.readTextFileSync("/proc/self/maps");
  } catch {
    return null;
  }
  for (const line of maps.split("\n")) {
    const path = line.slice(line.indexOf("/"));
    if (line.includes("/") && /\/libonnxruntime\.so(\.\d+)*$/.test(path)) return dirname(path);
  }
  return null;
}

/** Whether the system's loader can open `lib`; `null` when probing is not allowed. */
function loadable(lib: string): boolean | null {
  try {
    Deno.dlopen(lib, {}).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    return false;
  }
}

/** One thing the CUDA provider needs that is missing, and how to get it. */
export interface CudaGap {
  what: string;
  fix: string;
}

/**
 * What the CUDA provider lacks on this machine (empty when everything loads).
 *
 * @example
 * ```ts
 * import "./session.ts";
 * import { cudaGaps } from "./_cuda_check.ts";
 * cudaGaps().map((g) => g.what); // on a machine without a GPU: [..., "the NVIDIA driver (libcuda.so.1)", ...]
 * ```
 */
export function cudaGaps(runtimeDir: string | null = onnxruntimeLibraryDir()): CudaGap[] {
  const gaps: CudaGap[] = [];
  if (runtimeDir !== null) {
    const missing = CUDA_PROVIDER_FILES.filter((f) => !isFile(join(runtimeDir, f)));
    if (missing.length > 0) {
      gaps.push({
        what: `the provider libraries (${missing.join(", ")} in ${runtimeDir})`,
        fix: "run `deno task setup --cuda`",
      });
    }
  }
  const system = CUDA_SYSTEM_LIBRARIES.filter(({ lib }) => loadable(lib) === false);
  const driver = system.find((s) => s.lib === "libcuda.so.1");
  if (driver) {
    gaps.push({
      what: `${driver.what} (${driver.lib})`,
      fix: "install the NVIDIA driver on a machine with an NVIDIA GPU",
    });
  }
  const toolkit = system.filter((s) => s !== driver);
  if (toolkit.length > 0) {
    gaps.push({
      what: toolkit.map((s) => `${s.what} (${s.lib})`).join(", "),
      fix: "install CUDA 13 and cuDNN 9 (e.g. NVIDIA's cuda-toolkit-13 and cudnn9-cuda-13 " +
        "packages) or add their lib folders to LD_LIBRARY_PATH",
    });
  }
  return gaps;
}

/** True for a file, or a link to one (a dangling link is not). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The message for a CUDA provider that cannot start: onnxruntime's own reason (when it was
 * asked), then each missing piece with its fix.
 *
 * @example
 * ```ts
 * import "./session.ts";
 * import { cudaHint } from "./_cuda_check.ts";
 * cudaHint(); // on a machine without a GPU: "the CUDA execution provider is not available. Missing: ..."
 * ```
 */
export function cudaHint(detail?: string, gaps: CudaGap[] = cudaGaps()): string {
  const head = `the CUDA execution provider is not available${detail ? `: ${detail}` : ""}`;
  const tail = `Use provider "cpu" (or "webgpu") otherwise.`;
  if (gaps.length === 0) {
    return `${head}. Its libraries and CUDA's all load here, so the GPU itself refused ` +
      `(check nvidia-smi). ${tail}`;
  }
  return `${head}. Missing: ${gaps.map((g) => `${g.what}: ${g.fix}`).join("; ")}. ${tail}`;
}
