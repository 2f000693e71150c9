import assert from "node:assert/strict";
import { join } from "node:path";
import { ByteProgress, formatBytes } from "../../lib/weights/_byte_progress.ts";
import { parseSafetensors } from "../../lib/formats/safetensors.ts";
import {
  ChecksumError,
  DownloadError,
  downloadFile,
  OfflineError,
  sha256File,
} from "../../lib/weights/download.ts";
import {
  FixtureServer,
  ptZipFixture,
  randomBytes,
  safetensorsFixture,
  sha256,
} from "./fixtures.ts";

const MODEL = safetensorsFixture();
const PT = ptZipFixture();
const fast = { backoffMs: 5 } as const;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` with a fixture server and a temp folder, cleaning both up. */
async function withServer(
  routes: ConstructorParameters<typeof FixtureServer>[0],
  fn: (server: FixtureServer, dir: string) => Promise<void>,
): Promise<void> {
  const server = new FixtureServer(routes);
  const dir = await Deno.makeTempDir({ prefix: "tc_download_" });
  try {
    await fn(server, dir);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("downloads a safetensors file, verifies it, and skips it when already complete", async () => {
  await withServer({ "/m/model.safetensors": { bytes: MODEL } }, async (server, dir) => {
    const dest = join(dir, "sub", "model.safetensors");
    const seen: number[] = [];
    const r = await downloadFile(server.url("/m/model.safetensors"), dest, {
      size: MODEL.length,
      sha256: sha256(MODEL),
      onProgress: (done, total) => {
        assert.equal(total, MODEL.length);
        seen.push(done);
      },
      ...fast,
    });
    assert.deepEqual(await Deno.readFile(dest), MODEL);
    assert.equal(r.sha256, sha256(MODEL));
    assert.equal(r.size, MODEL.length);
    assert.equal(r.transferred, MODEL.length);
    assert.equal(r.skipped, false);
    assert.equal(seen.at(-1), MODEL.length);
    assert.equal(await exists(`${dest}.part`), false);
    assert.deepEqual([...parseSafetensors(await Deno.readFile(dest)).tensors.keys()], [
      "wte",
      "ln_f.bias",
    ]);

    const again = await downloadFile(server.url("/m/model.safetensors"), dest, {
      size: MODEL.length,
      sha256: sha256(MODEL),
      ...fast,
    });
    assert.equal(again.skipped, true);
    assert.equal(again.attempts, 0);
    assert.equal(server.requests("/m/model.safetensors").length, 1);
  });
});

Deno.test("a transfer cut mid-way resumes with a Range request and ends byte-identical", async () => {
  const cutAfter = 300_000;
  await withServer(
    { "/m/model.safetensors": { bytes: MODEL, behavior: "cut-once", cutAfter } },
    async (server, dir) => {
      const dest = join(dir, "model.safetensors");
      const r = await downloadFile(server.url("/m/model.safetensors"), dest, {
        size: MODEL.length,
        sha256: sha256(MODEL),
        ...fast,
      });
      assert.deepEqual(await Deno.readFile(dest), MODEL);
      assert.equal(r.resumed, true);
      assert.equal(r.attempts, 2);
      const ranges = server.requests("/m/model.safetensors").map((s) => s.range);
      assert.equal(ranges.length, 2);
      assert.equal(ranges[0], null);
      assert.match(ranges[1]!, /^bytes=\d+-$/);
      const from = Number(ranges[1]!.slice(6, -1));
      assert.ok(from > 0 && from <= cutAfter, `resumed from ${from}`);
    },
  );
});

Deno.test("an interrupted run keeps the .part file and the next run resumes it (torch zip)", async () => {
  await withServer(
    { "/t/layer_0.pt": { bytes: PT, behavior: "cut-once", cutAfter: 400_000 } },
    async (server, dir) => {
      const dest = join(dir, "layer_0.pt");
      const url = server.url("/t/layer_0.pt");
      await assert.rejects(
        downloadFile(url, dest, { retries: 0, ...fast }),
        (e: unknown) => {
          assert.ok(e instanceof DownloadError);
          assert.match(
            e.message,
            /^downloading layer_0\.pt from http:\/\/127\.0\.0\.1:\d+\/t\/layer_0\.pt failed after 1 attempts: connection lost after \d+ of \d+ bytes/,
          );
          assert.match(
            e.message,
            /layer_0\.pt\.part \(\d+ bytes\) is kept and the next run resumes it/,
          );
          return true;
        },
      );
      assert.equal(await exists(dest), false);
      const partial = (await Deno.stat(`${dest}.part`)).size;
      assert.ok(partial > 0 && partial < PT.length);

      const r = await downloadFile(url, dest, { sha256: sha256(PT), ...fast });
      assert.equal(r.resumed, true);
      assert.equal(r.transferred, PT.length - partial);
      assert.deepEqual(await Deno.readFile(dest), PT);
      assert.equal(server.requests("/t/layer_0.pt").at(-1)?.range, `bytes=${partial}-`);
      // a zip: the end-of-central-directory record is intact
      assert.equal(new DataView(PT.buffer).getUint32(PT.length - 22, true), 0x06054b50);
    },
  );
});

Deno.test("HTTP 503 twice, then success: retried with exponential backoff", async () => {
  await withServer(
    { "/m/config.json": { bytes: MODEL, behavior: "503-twice" } },
    async (server, dir) => {
      const dest = join(dir, "model.safetensors");
      const t0 = performance.now();
      const r = await downloadFile(server.url("/m/config.json"), dest, {
        sha256: sha256(MODEL),
        backoffMs: 20,
      });
      const ms = performance.now() - t0;
      assert.equal(r.attempts, 3);
      assert.ok(ms >= 20 + 40 - 5, `waited ${ms} ms, expected backoff 20 + 40 ms`);
      assert.deepEqual(await Deno.readFile(dest), MODEL);
    },
  );
});

Deno.test("persistent 5xx: gives up after 1 + retries attempts with the status", async () => {
  await withServer({ "/m/x.bin": { bytes: MODEL, behavior: "503-twice" } }, async (server, dir) => {
    await assert.rejects(
      downloadFile(server.url("/m/x.bin"), join(dir, "x.bin"), { retries: 1, backoffMs: 1 }),
      /^DownloadError: downloading x\.bin from .* failed after 2 attempts: HTTP 503 Service Unavailable$/,
    );
    assert.equal(server.requests("/m/x.bin").length, 2);
  });
});

for (const behavior of ["html", "html-body"] as const) {
  Deno.test(`an HTML page instead of the file (${behavior}) is an error, nothing is left at dest`, async () => {
    await withServer(
      { "/m/model.safetensors": { bytes: MODEL, behavior } },
      async (server, dir) => {
        const dest = join(dir, "model.safetensors");
        const url = server.url("/m/model.safetensors");
        await assert.rejects(downloadFile(url, dest, { ...fast }), (e: unknown) => {
          assert.ok(e instanceof DownloadError);
          const why = behavior === "html"
            ? "Content-Type text/html; charset=utf-8"
            : "the body is an HTML document";
          assert.equal(
            e.message,
            `${url} returned an HTML page instead of model.safetensors (HTTP 200, ${why}): ` +
              `an error or login page, or a proxy? Nothing was saved in place of model.safetensors`,
          );
          return true;
        });
        assert.equal(await exists(dest), false);
        assert.equal(await exists(`${dest}.part`), false);
        assert.equal(server.requests("/m/model.safetensors").length, 1, "not retried");
      },
    );
  });
}

Deno.test("wrong content: checksum error naming both hashes, nothing at dest", async () => {
  const wrong = randomBytes(MODEL.length, 99);
  await withServer({ "/m/model.safetensors": { bytes: wrong } }, async (server, dir) => {
    const dest = join(dir, "model.safetensors");
    const url = server.url("/m/model.safetensors");
    await assert.rejects(
      downloadFile(url, dest, { size: MODEL.length, sha256: sha256(MODEL), ...fast }),
      (e: unknown) => {
        assert.ok(e instanceof ChecksumError);
        assert.equal(e.expected, sha256(MODEL));
        assert.equal(e.actual, sha256(wrong));
        assert.equal(
          e.message,
          `sha256 mismatch for model.safetensors from ${url}: expected ${sha256(MODEL)}, got ${
            sha256(wrong)
          }; the download was deleted and ${dest} was left as it was`,
        );
        return true;
      },
    );
    assert.equal(await exists(dest), false);
    assert.equal(await exists(`${dest}.part`), false);
  });
});

Deno.test("wrong content leaves a previous file at dest untouched", async () => {
  const previous = safetensorsFixture(3); // an older, different version of the file
  const wrong = randomBytes(MODEL.length, 5);
  await withServer({ "/m/model.safetensors": { bytes: wrong } }, async (server, dir) => {
    const dest = join(dir, "model.safetensors");
    await Deno.writeFile(dest, previous);
    await assert.rejects(
      downloadFile(server.url("/m/model.safetensors"), dest, {
        sha256: sha256(MODEL),
        ...fast,
      }),
      ChecksumError,
    );
    assert.deepEqual(await Deno.readFile(dest), previous);
    assert.equal(await exists(`${dest}.part`), false);
  });
});

Deno.test("an HTML page leaves a previous file at dest untouched", async () => {
  await withServer(
    { "/m/model.safetensors": { bytes: MODEL, behavior: "html-body" } },
    async (server, dir) => {
      const dest = join(dir, "model.safetensors");
      const previous = randomBytes(1000, 4);
      await Deno.writeFile(dest, previous);
      await assert.rejects(
        downloadFile(server.url("/m/model.safetensors"), dest, { sha256: sha256(MODEL), ...fast }),
        /returned an HTML page instead of model\.safetensors/,
      );
      assert.deepEqual(await Deno.readFile(dest), previous);
    },
  );
});

Deno.test("HTTP 404 is not retried: error with status and URL", async () => {
  await withServer({ "/m/missing.pt": { bytes: PT, behavior: "404" } }, async (server, dir) => {
    const url = server.url("/m/missing.pt");
    const t0 = performance.now();
    await assert.rejects(
      downloadFile(url, join(dir, "missing.pt"), { backoffMs: 10_000 }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.status, 404);
        assert.equal(e.message, `HTTP 404 Not Found for ${url} (missing.pt); not retried`);
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 5_000);
    assert.equal(server.requests("/m/missing.pt").length, 1);
    assert.equal(await exists(join(dir, "missing.pt.part")), false);
  });
});

Deno.test("a server that ignores Range (200) restarts the download cleanly from zero", async () => {
  await withServer(
    { "/t/layer_0.pt": { bytes: PT, behavior: "no-range" } },
    async (server, dir) => {
      const dest = join(dir, "layer_0.pt");
      // a stale .part whose bytes are NOT a prefix of the file: must not survive the restart
      await Deno.writeFile(`${dest}.part`, randomBytes(200_000, 42));
      const r = await downloadFile(server.url("/t/layer_0.pt"), dest, {
        sha256: sha256(PT),
        ...fast,
      });
      assert.deepEqual(await Deno.readFile(dest), PT);
      assert.equal(r.resumed, false);
      assert.equal(r.transferred, PT.length);
      assert.equal(server.requests("/t/layer_0.pt")[0].range, "bytes=200000-");
    },
  );
});

Deno.test("a .part that already holds the whole file is finished after HTTP 416", async () => {
  await withServer({ "/t/layer_0.pt": { bytes: PT } }, async (server, dir) => {
    const dest = join(dir, "layer_0.pt");
    await Deno.writeFile(`${dest}.part`, PT);
    const r = await downloadFile(server.url("/t/layer_0.pt"), dest, { ...fast });
    assert.equal(r.sha256, sha256(PT));
    assert.equal(r.transferred, 0);
    assert.deepEqual(await Deno.readFile(dest), PT);
    assert.equal(await exists(`${dest}.part`), false);
  });
});

Deno.test("a .part longer than the expected size is discarded", async () => {
  await withServer({ "/t/layer_0.pt": { bytes: PT } }, async (server, dir) => {
    const dest = join(dir, "layer_0.pt");
    await Deno.writeFile(`${dest}.part`, randomBytes(PT.length + 10, 8));
    await downloadFile(server.url("/t/layer_0.pt"), dest, { size: PT.length, ...fast });
    assert.deepEqual(await Deno.readFile(dest), PT);
    assert.equal(server.requests("/t/layer_0.pt")[0].range, null);
  });
});

Deno.test("a server size different from the expected size is an error", async () => {
  await withServer({ "/t/layer_0.pt": { bytes: PT } }, async (server, dir) => {
    const url = server.url("/t/layer_0.pt");
    await assert.rejects(
      downloadFile(url, join(dir, "layer_0.pt"), { size: PT.length + 1, ...fast }),
      new RegExp(
        `^DownloadError: ${
          url.replaceAll(".", "\\.")
        } serves ${PT.length} bytes for layer_0\\.pt, expected ${
          PT.length + 1
        }: not the pinned file$`,
      ),
    );
    assert.equal(await exists(join(dir, "layer_0.pt")), false);
  });
});

Deno.test("an existing file with no known size or hash is kept when the server's size matches", async () => {
  await withServer({ "/t/layer_0.pt": { bytes: PT } }, async (server, dir) => {
    const dest = join(dir, "layer_0.pt");
    await Deno.writeFile(dest, PT);
    const r = await downloadFile(server.url("/t/layer_0.pt"), dest, { ...fast });
    assert.equal(r.skipped, true);
    assert.equal(r.sha256, await sha256File(dest));
    assert.deepEqual(server.requests("/t/layer_0.pt").map((s) => s.method), ["HEAD"]);
  });
});

Deno.test("an unreachable host is a clear offline error, without retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there now: connection refused
  const dir = await Deno.makeTempDir({ prefix: "tc_download_" });
  try {
    const t0 = performance.now();
    await assert.rejects(
      downloadFile(`http://127.0.0.1:${port}/m/model.safetensors`, join(dir, "m"), {
        backoffMs: 10_000,
      }),
      (e: unknown) => {
        assert.ok(e instanceof OfflineError);
        assert.equal(e.host, `127.0.0.1:${port}`);
        assert.equal(
          e.message,
          `cannot reach 127.0.0.1:${port} (offline?): the embedded model in weights/tiny still works: deno task demo`,
        );
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 5_000);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an injected fetch is used (here one that sends Hugging Face URLs to a mirror)", async () => {
  await withServer({ "/x/resolve/y/layer_0.pt": { bytes: PT } }, async (server, dir) => {
    const calls: string[] = [];
    const mirror = ((input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push(url.href);
      return fetch(server.url(url.pathname), init);
    }) as typeof fetch;
    const r = await downloadFile(
      "https://huggingface.co/x/resolve/y/layer_0.pt",
      join(dir, "a.pt"),
      { fetch: mirror, sha256: sha256(PT), ...fast },
    );
    assert.deepEqual(calls, ["https://huggingface.co/x/resolve/y/layer_0.pt"]);
    assert.equal(r.size, PT.length);
    assert.deepEqual(await Deno.readFile(join(dir, "a.pt")), PT);
  });
});

Deno.test("the progress line shows bytes, MB/s and the ETA", () => {
  assert.equal(formatBytes(665), "665 B");
  assert.equal(formatBytes(98_304), "98.3 kB");
  assert.equal(formatBytes(548_105_171), "548.1 MB");
  assert.equal(formatBytes(2_360_000_000), "2.36 GB");
  const p = new ByteProgress("model.safetensors", 548_105_171, { quiet: true });
  assert.match(
    p.line(12_000_000),
    /^model\.safetensors 12\.0 MB\/548\.1 MB 2% \| \d+(\.\d)? MB\/s \| ETA (\?|\d+s|\d+m\d\ds|\d+h\d\dm)$/,
  );
  assert.match(
    new ByteProgress("x", null, { quiet: true }).line(1_500_000),
    /^x 1\.5 MB \| \d+(\.\d)? MB\/s$/,
  );
});
