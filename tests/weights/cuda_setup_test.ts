/**
 * `deno task setup --cuda`: the CUDA provider's npm tarball is downloaded from a local registry
 * (127.0.0.1), verified, unpacked and linked beside libonnxruntime.so.1, and `--provider cuda`
 * afterwards names what the machine still lacks.
 *
 * Tarballs are made by GNU tar in npm's layout (`package/...`, ustar). The last test uses the
 * real 179 MB package when it is on disk (`.cache/npm/`, as `.ci/run` puts it there with
 * `npm pack`); `TC_REQUIRE_CUDA_PACKAGE=1` (CI) makes its absence an error.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cudaGaps, cudaHint, onnxruntimeLibraryDir } from "../../lib/graph/_cuda_check.ts";
import { ONNXRUNTIME_VERSION } from "../../lib/graph/session.ts";
import { ChecksumError, DownloadError } from "../../lib/weights/download.ts";
import {
  CUDA_PACKAGE,
  type CudaPackage,
  installCudaProvider,
  tarballUrl,
} from "../../lib/weights/_cuda_install.ts";
import { FixtureServer, randomBytes, sha256 } from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LIBS = "package/Plugins/Linux/x64";
const CUDA_SO = randomBytes(300_000, 3);
const SHARED_SO = randomBytes(14_632, 5);

/** A tarball made by GNU tar from `files` (paths inside the archive). */
async function tgz(files: Record<string, Uint8Array>): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "tc_tgz_" });
  try {
    for (const [path, bytes] of Object.entries(files)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeFile(join(dir, path), bytes);
    }
    const out = join(dir, "out.tgz");
    const { code, stderr } = await new Deno.Command("tar", {
      args: ["--format=ustar", "-czf", out, "-C", dir, "package"],
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return await Deno.readFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const GOOD_FILES = {
  "package/package.json": new TextEncoder().encode('{"name":"test-cuda","version":"1.0.0"}'),
  [`${LIBS}/libonnxruntime_providers_cuda.so`]: CUDA_SO,
  [`${LIBS}/libonnxruntime_providers_shared.so`]: SHARED_SO,
  [`${LIBS}/libonnxruntime_providers_tensorrt.so`]: randomBytes(1000, 9),
};

/** The test package, pinned to a tarball's bytes. */
function pinned(tarball: Uint8Array, files = { cuda: CUDA_SO, shared: SHARED_SO }): CudaPackage {
  return {
    name: "test-cuda",
    version: "1.0.0",
    onnxruntime: "9.9.9",
    tarball: { size: tarball.length, sha256: sha256(tarball) },
    files: [
      {
        entry: `${LIBS}/libonnxruntime_providers_cuda.so`,
        name: "libonnxruntime_providers_cuda.so",
        size: files.cuda.length,
        sha256: sha256(files.cuda),
      },
      {
        entry: `${LIBS}/libonnxruntime_providers_shared.so`,
        name: "libonnxruntime_providers_shared.so",
        size: files.shared.length,
        sha256: sha256(files.shared),
      },
    ],
  };
}

/** A registry serving `tarball` for `pkg`, a cache folder and a stand-in runtime folder. */
async function withRegistry(
  pkg: CudaPackage,
  tarball: Uint8Array,
  fn: (
    ctx: { server: FixtureServer; dir: string; runtimeDir: string; path: string },
  ) => Promise<void>,
) {
  const path = new URL(tarballUrl(pkg, "http://x")).pathname;
  const server = new FixtureServer({ [path]: { bytes: tarball } });
  const tmp = await Deno.makeTempDir({ prefix: "tc_cuda_" });
  const runtimeDir = join(tmp, "ort");
  await Deno.mkdir(runtimeDir);
  try {
    await fn({ server, dir: join(tmp, "cuda"), runtimeDir, path });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

const install = (pkg: CudaPackage, server: FixtureServer, dir: string, runtimeDir: string) =>
  installCudaProvider({
    dir,
    pkg,
    registry: server.origin,
    runtimeDir,
    runtimeVersion: pkg.onnxruntime,
    quiet: true,
    retries: 0,
    log: () => {},
  });

Deno.test("setup --cuda unpacks the two provider libraries, checks them and links them beside onnxruntime; a second run only checks", async () => {
  const tarball = await tgz(GOOD_FILES);
  const pkg = pinned(tarball);
  await withRegistry(pkg, tarball, async ({ server, dir, runtimeDir, path }) => {
    // A stale link from an earlier install elsewhere is replaced.
    await Deno.symlink(
      "/nonexistent/libonnxruntime_providers_cuda.so",
      join(runtimeDir, "libonnxruntime_providers_cuda.so"),
    );
    assert.equal(cudaGaps(runtimeDir)[0].fix, "run `deno task setup --cuda`"); // dangling: missing

    const first = await install(pkg, server, dir, runtimeDir);
    assert.equal(first.downloaded, true);
    assert.equal(first.linked.length, 2);
    for (
      const [name, bytes] of [["libonnxruntime_providers_cuda.so", CUDA_SO], [
        "libonnxruntime_providers_shared.so",
        SHARED_SO,
      ]] as const
    ) {
      assert.deepEqual(await Deno.readFile(join(runtimeDir, name)), bytes); // through the link
      assert.equal(await Deno.readLink(join(runtimeDir, name)), join(first.dir, name));
    }
    assert.ok(!existsSync(join(first.dir, "libonnxruntime_providers_tensorrt.so"))); // not wanted
    assert.deepEqual([...Deno.readDirSync(first.dir)].map((e) => e.name).sort(), [
      "libonnxruntime_providers_cuda.so",
      "libonnxruntime_providers_shared.so",
    ]); // the tarball and .part files are gone
    assert.ok(!cudaGaps(runtimeDir).some((g) => g.fix.includes("setup --cuda")));

    const again = await install(pkg, server, dir, runtimeDir);
    assert.deepEqual([again.downloaded, again.linked], [false, []]);
    assert.equal(server.requests(path).filter((r) => r.method === "GET").length, 1);
  });
});

Deno.test("setup --cuda refuses a tarball or a library that does not match its pin, and leaves nothing behind", async () => {
  const tarball = await tgz(GOOD_FILES);
  // The tarball's bytes differ from the pin: the download's own check.
  const flipped = tarball.slice();
  flipped[flipped.length >> 1] ^= 0xff;
  await withRegistry(pinned(tarball), flipped, async ({ server, dir, runtimeDir }) => {
    const e = await install(pinned(tarball), server, dir, runtimeDir).catch((e) => e);
    assert.ok(e instanceof ChecksumError, String(e));
    assert.deepEqual([...Deno.readDirSync(runtimeDir)], []);
  });
  // The tarball matches its pin but a library inside does not match its own.
  const other = randomBytes(CUDA_SO.length, 99);
  const swapped = await tgz({ ...GOOD_FILES, [`${LIBS}/libonnxruntime_providers_cuda.so`]: other });
  await withRegistry(pinned(swapped), swapped, async ({ server, dir, runtimeDir }) => {
    const e = await install(pinned(swapped), server, dir, runtimeDir).catch((e) => e);
    assert.ok(e instanceof DownloadError);
    assert.match(
      e.message,
      new RegExp(
        `libonnxruntime_providers_cuda.so in .* has sha256 ${sha256(other)}, expected ${
          sha256(CUDA_SO)
        }`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(runtimeDir)], []);
    assert.ok(
      ![...Deno.readDirSync(join(dir, "onnxruntime-9.9.9"))].some((f) =>
        f.name.endsWith(".so") || f.name.endsWith(".part")
      ),
    );
  });
  // A library of another size, a missing library, a cut or non-gzip tarball.
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "resized",
      await tgz({
        ...GOOD_FILES,
        [`${LIBS}/libonnxruntime_providers_shared.so`]: SHARED_SO.subarray(1),
      }),
      /libonnxruntime_providers_shared.so in .* is 14631 bytes, expected 14632/,
    ],
    [
      "missing",
      await tgz({
        "package/package.json": GOOD_FILES["package/package.json"],
        [`${LIBS}/libonnxruntime_providers_cuda.so`]: CUDA_SO,
      }),
      /has no package\/Plugins\/Linux\/x64\/libonnxruntime_providers_shared.so/,
    ],
    ["cut", tarball.subarray(0, tarball.length >> 1), /is not a readable package/],
    ["not gzip", GOOD_FILES["package/package.json"], /is not a readable package/],
  ];
  for (const [what, bytes, message] of cases) {
    await withRegistry(pinned(bytes), bytes, async ({ server, dir, runtimeDir }) => {
      const e = await install(pinned(bytes), server, dir, runtimeDir).catch((e) => e);
      assert.ok(e instanceof DownloadError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      assert.deepEqual([...Deno.readDirSync(runtimeDir)], [], what);
      const kept = [...Deno.readDirSync(join(dir, "onnxruntime-9.9.9"))].map((f) => f.name);
      assert.ok(!kept.some((f) => f.endsWith(".part")), `${what}: ${kept}`); // no half library
    });
  }
});

Deno.test("setup --cuda refuses a runtime of another ONNX Runtime version than the libraries'", async () => {
  const e = await installCudaProvider({ dir: "/nonexistent", runtimeVersion: "1.30.0" }).catch((
    e,
  ) => e);
  assert.ok(e instanceof DownloadError);
  assert.match(
    e.message,
    /built for ONNX Runtime 1\.29\.0, but this process runs onnxruntime-node 1\.30\.0/,
  );
  assert.equal(ONNXRUNTIME_VERSION, CUDA_PACKAGE.onnxruntime); // the pinned runtime is the right one
});

Deno.test("the CUDA hint names each missing piece with its fix", () => {
  const runtimeDir = onnxruntimeLibraryDir();
  assert.ok(runtimeDir && existsSync(join(runtimeDir, "libonnxruntime.so.1")), String(runtimeDir));
  const hint = cudaHint(undefined, [
    { what: "the NVIDIA driver (libcuda.so.1)", fix: "install the NVIDIA driver" },
    { what: "cuDNN 9 (libcudnn.so.9)", fix: "install cuDNN 9" },
  ]);
  assert.equal(
    hint,
    'the CUDA execution provider is not available. Missing: the NVIDIA driver (libcuda.so.1): install the NVIDIA driver; cuDNN 9 (libcudnn.so.9): install cuDNN 9. Use provider "cpu" (or "webgpu") otherwise.',
  );
  // On this machine: whatever is missing is named (a GPU machine with everything has no gaps).
  for (const g of cudaGaps()) assert.match(g.what, /libonnxruntime_providers|libcu|libcudnn/);
});

/** The real package's tarball, where `.ci/run` (or a developer, with `npm pack`) puts it. */
const REAL_TARBALL = join(
  ROOT,
  ".cache",
  "npm",
  new URL(tarballUrl(CUDA_PACKAGE)).pathname.split("/").pop()!,
);
const GET_REAL =
  `mkdir -p .cache/npm && npm pack ${CUDA_PACKAGE.name}@${CUDA_PACKAGE.version} --pack-destination .cache/npm`;

Deno.test("setup --cuda installs the real package from a local registry, and --provider cuda then names what this machine lacks", async () => {
  if (!existsSync(REAL_TARBALL)) {
    const why =
      `the real CUDA provider package is not at ${REAL_TARBALL}; to get it (179 MB from npm): ${GET_REAL}`;
    if (Deno.env.get("TC_REQUIRE_CUDA_PACKAGE") === "1") {
      throw new Error(`TC_REQUIRE_CUDA_PACKAGE=1 but ${why}`);
    }
    console.error(`note: this test did not run: ${why}`);
    return;
  }
  const path = new URL(tarballUrl(CUDA_PACKAGE, "http://x")).pathname;
  const server = new FixtureServer({ [path]: { bytes: await Deno.readFile(REAL_TARBALL) } });
  // A cache folder that outlives the test: the links beside libonnxruntime.so.1 point into it.
  const env = { NO_COLOR: "1", TC_CACHE_DIR: join(ROOT, ".cache", "cuda-setup-test") };
  const run = async (script: string, args: string[]) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "tasks", script), ...args],
      cwd: ROOT,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code,
      stdout: new TextDecoder().decode(stdout),
      stderr: new TextDecoder().decode(stderr),
    };
  };
  try {
    const setup = await run("setup.ts", ["--cuda", "--npm-registry", server.origin, "--quiet"]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(
      setup.stdout,
      /the CUDA provider libraries are in .*cuda-setup-test\/cuda\/onnxruntime-1\.29\.0/,
    );
    const runtimeDir = onnxruntimeLibraryDir()!;
    for (const f of CUDA_PACKAGE.files) {
      assert.equal((await Deno.stat(join(runtimeDir, f.name))).size, f.size, f.name);
    }
    const demo = await run("demo.ts", ["--provider", "cuda", "--top", "1"]);
    if (cudaGaps().length === 0) {
      assert.equal(demo.code, 0, demo.stderr); // a machine with a GPU, its driver, CUDA 13 and cuDNN 9
      return;
    }
    assert.equal(demo.code, 2, demo.stderr);
    const lines = demo.stderr.trim().split("\n");
    assert.equal(lines.length, 1, demo.stderr); // one line, no stack trace, no onnxruntime log
    assert.match(lines[0], /^error: the CUDA execution provider is not available\. Missing: /);
    assert.doesNotMatch(lines[0], /setup --cuda/); // the provider itself is in place now
    for (const g of cudaGaps()) assert.ok(lines[0].includes(g.what), g.what);
    if (!existsSync("/dev/nvidiactl")) {
      assert.match(lines[0], /the NVIDIA driver \(libcuda\.so\.1\)/);
    }
  } finally {
    await server.close();
  }
});
