import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SETUP_COMMAND } from "../../tasks/setup.ts";
import {
  FixtureServer,
  ptZipFixture,
  randomBytes,
  safetensorsFixture,
  sha256,
} from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SETUP = join(ROOT, "tasks", "setup.ts");

const CONFIG = new TextEncoder().encode(JSON.stringify({ model_type: "gpt2", n_layer: 1 }) + "\n");
const MODEL = safetensorsFixture();
const PT = ptZipFixture();
const SPARSITY = randomBytes(98_304, 3);

const HF = "https://huggingface.co";
const base = "/org/tiny/resolve/0123456789abcdef0123456789abcdef01234567";
const tcBase = "/org/tiny-tc/resolve/89abcdef0123456789abcdef0123456789abcdef";

/** A registry in the built-in shape, its URLs on huggingface.co (rewritten by --base-url). */
const REGISTRY = {
  tiny: {
    kind: "model",
    description: "test model",
    files: [
      {
        url: `${HF}${base}/config.json`,
        dest: "tiny/config.json",
        size: CONFIG.length,
        sha256: sha256(CONFIG),
      },
      // no published checksum: trust on first use
      {
        url: `${HF}${base}/model.safetensors`,
        dest: "tiny/model.safetensors",
        size: null,
        sha256: null,
      },
    ],
  },
  "tiny-transcoders": {
    kind: "transcoders",
    description: "test transcoders",
    files: [
      {
        url: `${HF}${tcBase}/layer_0.pt`,
        dest: "tiny/transcoders/layer_0.pt",
        size: null,
        sha256: null,
        approxSize: 1_000_000,
      },
      {
        url: `${HF}${tcBase}/layer_0_log_feature_sparsity.pt`,
        dest: "tiny/transcoders/layer_0_log_feature_sparsity.pt",
        size: SPARSITY.length,
        sha256: null,
      },
    ],
  },
};

function routes() {
  return {
    [`${base}/config.json`]: { bytes: CONFIG },
    [`${base}/model.safetensors`]: {
      bytes: MODEL,
      behavior: "cut-once" as const,
      cutAfter: 500_000,
    },
    [`${tcBase}/layer_0.pt`]: { bytes: PT },
    [`${tcBase}/layer_0_log_feature_sparsity.pt`]: { bytes: SPARSITY },
  };
}

async function setup(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SETUP, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

/** A temp folder with the test registry, and a fixture server; both cleaned up. */
async function withFixture(
  fn: (server: FixtureServer, tmp: string, registry: string) => Promise<void>,
) {
  const server = new FixtureServer(routes());
  const tmp = await Deno.makeTempDir({ prefix: "tc_setup_" });
  const registry = join(tmp, "registry.json");
  await Deno.writeTextFile(registry, JSON.stringify(REGISTRY));
  try {
    await fn(server, tmp, registry);
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("setup --help lists every option", async () => {
  const { code, stdout } = await setup(["--help"]);
  assert.equal(code, 0);
  const options = [...Object.keys(SETUP_COMMAND.options), "help"];
  assert.ok(options.length >= 10, `found options ${options}`);
  for (const option of options) {
    assert.match(stdout, new RegExp(`--${option}\\b`), `--${option} missing`);
  }
  assert.match(stdout, /gpt2-small-transcoders/);
});

Deno.test("setup --dry-run lists files, sizes and disk space, and downloads nothing", async () => {
  await withFixture(async (server, tmp, registry) => {
    const dir = join(tmp, "weights");
    const { code, stdout, stderr } = await setup([
      "--model",
      "tiny",
      "--transcoders",
      "tiny",
      "--dry-run",
      "--dir",
      dir,
      "--registry",
      registry,
      "--base-url",
      server.origin,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`Endpoint: ${server.origin}`));
    assert.match(stdout, new RegExp(`from ${server.origin}${base}/`));
    assert.match(
      stdout,
      new RegExp(`${CONFIG.length} B {2}sha256 pinned +to download {2}tiny/config\\.json`),
    );
    assert.match(
      stdout,
      /size unknown {2}sha256 on first use +to download {2}tiny\/model\.safetensors/,
    );
    assert.match(
      stdout,
      /~1\.0 MB {2}sha256 on first use +to download {2}tiny\/transcoders\/layer_0\.pt/,
    );
    assert.match(
      stdout,
      /98\.3 kB {2}sha256 on first use +to download {2}tiny\/transcoders\/layer_0_log_feature_sparsity\.pt/,
    );
    assert.match(stdout, /^4 files, .* in all \(2 sizes approximate, marked ~\)$/m);
    assert.match(
      stdout,
      /^to download: 4 files, 1\.1 MB; free space in .*: (\d+\.\d+ [kMG]B|unknown)$/m,
    );
    assert.match(stdout, /Dry run: nothing was downloaded\./);
    assert.equal(server.seen.length, 0);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  });
});

Deno.test("setup downloads into the folder, resumes a cut transfer, records TOFU checksums, then verifies", async () => {
  await withFixture(async (server, tmp, registry) => {
    const dir = join(tmp, "weights");
    const args = [
      "--model",
      "tiny",
      "--transcoders",
      "tiny",
      "--dir",
      dir,
      "--registry",
      registry,
      "--base-url",
      server.origin,
      "--backoff-ms",
      "10",
    ];
    const first = await setup(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/config.json")), CONFIG);
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/model.safetensors")), MODEL);
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/transcoders/layer_0.pt")), PT);
    assert.deepEqual(
      await Deno.readFile(join(dir, "tiny/transcoders/layer_0_log_feature_sparsity.pt")),
      SPARSITY,
    );
    assert.match(first.stderr, /model\.safetensors 1\.6 MB in \d+s \(resumed\), sha256 recorded/);
    assert.match(
      first.stderr,
      new RegExp(`config\\.json ${CONFIG.length} B in \\d+s, sha256 ok \\(pinned\\)`),
    );
    assert.match(
      first.stderr,
      new RegExp(
        `note: tiny/model\\.safetensors has no published sha256; recorded ${
          sha256(MODEL)
        } in .*checksums\\.lock\\.json \\(trust on first use\\); later runs verify against it`,
      ),
    );
    assert.match(
      first.stdout,
      /^Done in \d+s: 4 downloaded \(\d+\.\d MB\), 0 already present, in /m,
    );
    assert.match(first.stdout, /^3 sha256 recorded on first use in .*checksums\.lock\.json\.$/m);
    assert.match(first.stdout, /^Model folder: .*weights\/tiny$/m);
    const ranges = server.requests(`${base}/model.safetensors`).map((s) => s.range);
    assert.equal(ranges[0], null);
    assert.match(ranges[1]!, /^bytes=\d+-$/);

    const lock = JSON.parse(await Deno.readTextFile(join(dir, "checksums.lock.json")));
    assert.deepEqual(
      Object.keys(lock.files).sort(),
      [
        `${HF}${base}/model.safetensors`,
        `${HF}${tcBase}/layer_0.pt`,
        `${HF}${tcBase}/layer_0_log_feature_sparsity.pt`,
      ].sort(),
    );
    assert.equal(lock.files[`${HF}${base}/model.safetensors`].sha256, sha256(MODEL));
    assert.equal(lock.files[`${HF}${base}/model.safetensors`].size, MODEL.length);
    assert.equal(lock.files[`${HF}${tcBase}/layer_0.pt`].sha256, sha256(PT));

    // second run: everything present, verified against the registry and the lock file
    const requestsBefore = server.seen.length;
    const second = await setup(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stderr,
      /model\.safetensors: already present, 1\.6 MB, sha256 ok \(lock file\)/,
    );
    assert.match(second.stdout, /^Done in \d+s: 0 downloaded \(0 B\), 4 already present, in /m);
    assert.doesNotMatch(second.stdout + second.stderr, /trust on first use/);
    assert.equal(server.seen.length, requestsBefore, "nothing fetched");

    // a locally corrupted file (same size) is fetched again and checked against the lock file
    const corrupt = MODEL.slice();
    corrupt[1000] ^= 0xff;
    await Deno.writeFile(join(dir, "tiny/model.safetensors"), corrupt);
    const third = await setup(args);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^Done in \d+s: 1 downloaded/m);
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/model.safetensors")), MODEL);

    // upstream bytes that differ from the lock file's: a checksum error, the old file stays
    lock.files[`${HF}${tcBase}/layer_0.pt`].sha256 = "0".repeat(64);
    await Deno.writeTextFile(join(dir, "checksums.lock.json"), JSON.stringify(lock));
    const fourth = await setup(args);
    assert.equal(fourth.code, 1);
    assert.match(
      fourth.stderr,
      new RegExp(
        `^error: sha256 mismatch for layer_0\\.pt from ${server.origin}${tcBase}/layer_0\\.pt: expected ${
          "0".repeat(64)
        }, got ${sha256(PT)}; .*recorded on the first download in .*checksums\\.lock\\.json`,
        "m",
      ),
    );
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/transcoders/layer_0.pt")), PT);
  });
});

Deno.test("setup takes the endpoint from TC_HF_ENDPOINT", async () => {
  await withFixture(async (server, tmp, registry) => {
    const dir = join(tmp, "weights");
    const { code, stdout, stderr } = await setup(
      [
        "--model",
        "tiny",
        "--transcoders",
        "none",
        "--dir",
        dir,
        "--registry",
        registry,
        "--quiet",
        "--backoff-ms",
        "10",
      ],
      { TC_HF_ENDPOINT: server.origin },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Done in \d+s: 2 downloaded/m);
    assert.deepEqual(await Deno.readFile(join(dir, "tiny/config.json")), CONFIG);
  });
});

Deno.test("setup against an unreachable host says it is offline and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const tmp = await Deno.makeTempDir({ prefix: "tc_setup_" });
  try {
    const { code, stderr } = await setup([
      "--model",
      "gpt2-small",
      "--transcoders",
      "none",
      "--dir",
      join(tmp, "weights"),
      "--base-url",
      `http://127.0.0.1:${port}`,
    ]);
    assert.equal(code, 1);
    assert.equal(
      stderr.trim().split("\n").at(-1),
      `error: cannot reach 127.0.0.1:${port} (offline?): the embedded model in weights/tiny still works: deno task demo`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("setup rejects unknown weight sets and bad options with status 2", async () => {
  const bad = await setup(["--model", "gpt3", "--dry-run"]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.trim(),
    'error: --model "gpt3": no such model weight set; known: gpt2-small, none (see --help)',
  );
  const none = await setup(["--model", "none", "--transcoders", "none"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nothing to install/);
  const url = await setup(["--base-url", "huggingface.co", "--dry-run"]);
  assert.equal(url.code, 2);
  assert.match(url.stderr, /--base-url must be an http\(s\) URL, got "huggingface\.co"/);
});
