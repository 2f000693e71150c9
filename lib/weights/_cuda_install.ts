/**
 * Installing onnxruntime's CUDA execution provider from npm (`deno task setup --cuda`).
 * onnxruntime-node bundles only the CPU and WebGPU providers on linux-x64 (its own installer
 * fetches the CUDA one from NuGet, which is not reachable everywhere); the same libraries for
 * ONNX Runtime 1.29.0 and CUDA 13 are published on npm in
 * `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`. The package's tarball is downloaded
 * (resumable, size and sha256 pinned), the two provider libraries are streamed out of it (each
 * checked against its own pinned sha256) into `<cache>/cuda/onnxruntime-1.29.0/`, and linked
 * beside the `libonnxruntime.so.1` that this process loaded, where onnxruntime looks for them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { type CUDA_PROVIDER_FILES, onnxruntimeLibraryDir } from "../graph/_cuda_check.ts";
import { ONNXRUNTIME_VERSION } from "../graph/session.ts";
import { gunzip, readTar, TarError } from "../formats/_tar.ts";
import { ByteProgress, formatBytes } from "./_byte_progress.ts";
import { DownloadError, downloadFile, sha256File } from "./download.ts";

/** The public npm registry. */
export const NPM_REGISTRY = "https://registry.npmjs.org";

/** One library inside the package. */
export interface CudaPackageFile {
  /** Path inside the tarball. */
  entry: string;
  /** File name beside `libonnxruntime.so.1`. */
  name: (typeof CUDA_PROVIDER_FILES)[number];
  size: number;
  sha256: string;
}

/** An npm package that carries the CUDA provider libraries, pinned. */
export interface CudaPackage {
  name: string;
  version: string;
  /** The ONNX Runtime version the libraries were built against (and only work with). */
  onnxruntime: string;
  tarball: { size: number; sha256: string };
  files: CudaPackageFile[];
}

/**
 * The pinned package: ONNX Runtime 1.29.0's CUDA provider for CUDA 13 (sizes and sha256 taken
 * from the registry's tarball on 2026-12-01).
 *
 * @example
 * ```ts
 * import { CUDA_PACKAGE } from "./_cuda_install.ts";
 * CUDA_PACKAGE.onnxruntime; // "1.29.0"
 * ```
 */
export const CUDA_PACKAGE: CudaPackage = {
  name: "com.github.asus4.onnxruntime.linux-x64-gpu",
  version: "0.4.9",
  onnxruntime: "1.29.0",
  tarball: {
    size: 179_145_956,
    sha256: "2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412",
  },
  files: [
    {
      entry: "package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so",
      name: "libonnxruntime_providers_cuda.so",
      size: 229_780_440,
      sha256: "56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037",
    },
    {
      entry: "package/Plugins/Linux/x64/libonnxruntime_providers_shared.so",
      name: "libonnxruntime_providers_shared.so",
      size: 14_632,
      sha256: "c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772",
    },
  ],
};

/**
 * The tarball's URL on a registry (npm's layout: `<registry>/<name>/-/<base>-<version>.tgz`).
 *
 * @example
 * ```ts
 * import { CUDA_PACKAGE, tarballUrl } from "./_cuda_install.ts";
 * tarballUrl(CUDA_PACKAGE, "https://registry.npmjs.org/"); // "https://registry.npmjs.org/com.github.asus4.onnxruntime.linux-x64-gpu/-/com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz"
 * ```
 */
export function tarballUrl(pkg: CudaPackage, registry: string = NPM_REGISTRY): string {
  const base = pkg.name.split("/").pop()!;
  return `${registry.replace(/\/+$/, "")}/${pkg.name}/-/${base}-${pkg.version}.tgz`;
}

/** Options of {@link installCudaProvider}. */
export interface CudaInstallOptions {
  /** Where the libraries are kept (`<cache folder>/cuda` from the task). */
  dir: string;
  /** npm registry (default {@link NPM_REGISTRY}). */
  registry?: string;
  /** Folder of `libonnxruntime.so.1` to link them into (default: the one loaded here). */
  runtimeDir?: string;
  /** The runtime's version (default the loaded onnxruntime-node's). */
  runtimeVersion?: string;
  /** The package (default {@link CUDA_PACKAGE}). */
  pkg?: CudaPackage;
  retries?: number;
  backoffMs?: number;
  quiet?: boolean;
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

/** What {@link installCudaProvider} did. */
export interface CudaInstallSummary {
  /** The folder holding the libraries. */
  dir: string;
  /** The folder they were linked into. */
  runtimeDir: string;
  /** True when the tarball was downloaded (false: the libraries were already in place). */
  downloaded: boolean;
  /** The links made or replaced (already correct ones are not listed). */
  linked: string[];
}

/** The folder of one package's libraries inside `dir`. */
export function cudaLibraryDir(dir: string, pkg: CudaPackage = CUDA_PACKAGE): string {
  return join(dir, `onnxruntime-${pkg.onnxruntime}`);
}

async function intact(path: string, f: CudaPackageFile): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && st.size === f.size && await sha256File(path) === f.sha256;
  } catch {
    return false;
  }
}

/**
 * Streams the package's provider libraries out of the tarball into `dir`, each written to a
 * `.part` file, checked (size, sha256) and only then renamed into place.
 */
async function extract(tgz: string, dir: string, pkg: CudaPackage): Promise<void> {
  const wanted = new Map(pkg.files.map((f) => [f.entry, f]));
  const done = new Set<string>();
  const file = await Deno.open(tgz);
  let unfinished: { out: Deno.FsFile; part: string } | undefined; // removed if the read fails
  try {
    await readTar(gunzip(file.readable), (entry) => {
      const f = wanted.get(entry.name);
      if (!f || entry.type !== "file") return undefined;
      if (entry.size !== f.size) {
        throw new DownloadError(
          `${entry.name} in ${basename(tgz)} is ${entry.size} bytes, expected ${f.size}`,
          tgz,
        );
      }
      const part = join(dir, `${f.name}.part`);
      const out = Deno.openSync(part, { write: true, create: true, truncate: true });
      unfinished = { out, part };
      const hash = createHash("sha256");
      let left = f.size;
      return async (chunk) => {
        hash.update(chunk);
        for (let at = 0; at < chunk.length;) at += await out.write(chunk.subarray(at));
        left -= chunk.length;
        if (left > 0) return;
        unfinished = undefined;
        out.close();
        const sha = hash.digest("hex");
        if (sha !== f.sha256) {
          await Deno.remove(part);
          throw new DownloadError(
            `${entry.name} in ${basename(tgz)} has sha256 ${sha}, expected ${f.sha256}`,
            tgz,
          );
        }
        await Deno.rename(part, join(dir, f.name));
        done.add(f.entry);
      };
    }, { until: () => done.size === wanted.size });
  } catch (e) {
    if (unfinished) {
      unfinished.out.close();
      await Deno.remove(unfinished.part).catch(() => {});
    }
    if (e instanceof TarError || e instanceof TypeError) {
      throw new DownloadError(`${basename(tgz)} is not a readable package: ${e.message}`, tgz);
    }
    throw e;
  }
  const missing = pkg.files.filter((f) => !done.has(f.entry)).map((f) => f.entry);
  if (missing.length > 0) {
    throw new DownloadError(`${basename(tgz)} has no ${missing.join(", ")}`, tgz);
  }
}

/** Points `link` at `target` (replacing whatever is there), unless it already does. */
async function linkTo(target: string, link: string): Promise<boolean> {
  const current = await Deno.readLink(link).catch(() => null);
  if (current === target) return false;
  const tmp = `${link}.tc-${Deno.pid}`;
  await Deno.remove(tmp).catch(() => {});
  await Deno.symlink(target, tmp);
  await Deno.rename(tmp, link);
  return true;
}

/**
 * Downloads, verifies and links the CUDA provider libraries (see the module doc). Running it
 * again skips what is already in place; an interrupted download resumes.
 *
 * @example
 * ```ts ignore
 * import { installCudaProvider } from "./_cuda_install.ts";
 * import { cacheDir } from "./locations.ts";
 * await installCudaProvider({ dir: `${cacheDir()}/cuda` }); // 179 MB from registry.npmjs.org
 * ```
 */
export async function installCudaProvider(
  options: CudaInstallOptions,
): Promise<CudaInstallSummary> {
  const pkg = options.pkg ?? CUDA_PACKAGE;
  const log = options.log ?? ((line: string) => console.error(line));
  const runtimeVersion = options.runtimeVersion ?? ONNXRUNTIME_VERSION;
  const url = tarballUrl(pkg, options.registry);
  if (`${Deno.build.os}-${Deno.build.arch}` !== "linux-x86_64" && !options.runtimeDir) {
    throw new DownloadError(
      `the CUDA provider on npm is built for linux-x64; this is ${Deno.build.os}-${Deno.build.arch}`,
      url,
    );
  }
  if (runtimeVersion !== pkg.onnxruntime) {
    throw new DownloadError(
      `${pkg.name}@${pkg.version} is built for ONNX Runtime ${pkg.onnxruntime}, but this ` +
        `process runs onnxruntime-node ${runtimeVersion}; the provider would not load`,
      url,
    );
  }
  const runtimeDir = options.runtimeDir ?? onnxruntimeLibraryDir();
  if (runtimeDir === null) {
    throw new DownloadError(
      "cannot find the folder of libonnxruntime.so.1 (/proc/self/maps is not readable)",
      url,
    );
  }
  const dir = cudaLibraryDir(options.dir, pkg);
  await Deno.mkdir(dir, { recursive: true });

  const present = await Promise.all(pkg.files.map((f) => intact(join(dir, f.name), f)));
  const downloaded = !present.every(Boolean);
  if (downloaded) {
    const tgz = join(dir, basename(new URL(url).pathname));
    let progress: ByteProgress | undefined;
    const label = `${pkg.name}@${pkg.version}`;
    await downloadFile(url, tgz, {
      size: pkg.tarball.size,
      sha256: pkg.tarball.sha256,
      retries: options.retries,
      backoffMs: options.backoffMs,
      fetch: options.fetch,
      onProgress: (done, total) => {
        progress ??= new ByteProgress(label, total, { quiet: options.quiet, start: done });
        progress.update(done);
      },
    });
    progress?.done(`${label}: ${formatBytes(pkg.tarball.size)}, sha256 ok (pinned)`);
    await extract(tgz, dir, pkg);
    await Deno.remove(tgz);
  } else if (!options.quiet) {
    log(`${pkg.name}@${pkg.version}: libraries already present in ${dir}, sha256 ok (pinned)`);
  }

  const linked: string[] = [];
  for (const f of pkg.files) {
    const link = join(runtimeDir, f.name);
    try {
      if (await linkTo(join(dir, f.name), link)) linked.push(link);
    } catch (e) {
      throw new DownloadError(
        `cannot link ${f.name} into ${runtimeDir} (${(e as Error).message}); link it by hand: ` +
          `ln -sf ${join(dir, f.name)} ${link}`,
        url,
      );
    }
  }
  return { dir, runtimeDir, downloaded, linked };
}
