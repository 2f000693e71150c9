/**
 * The package as a researcher imports it from a URL: the repository served over a local HTTP
 * server, and a fresh Deno process with an empty module cache (the npm packages' cache is shared,
 * so nothing is downloaded from the registry) running a script outside the repository that
 * imports `mod.ts` by URL, loads the tiny model (whose weights it fetches once, from beside the
 * module, into the user cache folder) and runs a forward pass. And `deno publish --dry-run`.
 */
import assert from "node:assert/strict";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../lib/model/load.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".json": "application/json",
};

/** Serves the repository's files, read-only, on a free loopback port; counts the requests. */
function serveRepository() {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = normalize(decodeURIComponent(new URL(req.url).pathname));
    requested.push(path);
    if (req.method !== "GET" || path.includes("..")) return new Response(null, { status: 400 });
    try {
      const body = await Deno.readFile(join(ROOT, path));
      const type = TYPES[extname(path)] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { server, requested, base: `http://127.0.0.1:${server.addr.port}` };
}

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

Deno.test("a fresh Deno process imports mod.ts by URL, loads the tiny model and runs it", async () => {
  const { server, requested, base } = serveRepository();
  const work = await Deno.makeTempDir();
  try {
    const fresh = join(work, "deno-dir"), cache = join(work, "cache"), cwd = join(work, "project");
    await Deno.mkdir(fresh);
    await Deno.mkdir(cwd);
    await Deno.symlink(join(await denoDir(), "npm"), join(fresh, "npm"));
    const prompt = "The cat sat on the mat.";
    await Deno.writeTextFile(
      join(cwd, "main.ts"),
      `import { loadModel } from "${base}/mod.ts";\n` +
        `const model = await loadModel("tiny");\n` +
        `const loss = await model.loss(model.toTokens(${JSON.stringify(prompt)}));\n` +
        `console.log(JSON.stringify({ loss, layers: model.cfg.n_layers }));\n`,
    );
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-lock", "main.ts"],
        cwd,
        env: { DENO_DIR: fresh, TC_CACHE_DIR: cache, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const out = await run();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const got = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    const local = await loadModel("tiny");
    const want = await local.loss(local.toTokens(prompt));
    assert.equal(got.layers, 4);
    assert.ok(Math.abs(got.loss - want) < 1e-5, `loss ${got.loss} by URL, ${want} locally`);
    // The modules came over HTTP, the weights too, into the cache folder, not the project.
    assert.ok(
      requested.includes("/mod.ts") && requested.includes("/weights/tiny/model.safetensors"),
    );
    assert.deepEqual([...Deno.readDirSync(cwd)].map((e) => e.name), ["main.ts"]);
    // A second run reads the cached weights: no weight file is requested again.
    const before = requested.filter((p) => p.startsWith("/weights/")).length;
    assert.equal((await run()).code, 0);
    assert.equal(requested.filter((p) => p.startsWith("/weights/")).length, before);
  } finally {
    await server.shutdown();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("deno publish --dry-run passes and packs the library and the tiny weights only", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /Dry run complete/);
  const files = [...text.matchAll(/file:\/\/\S+/g)].map((m) => m[0].slice(`file://${ROOT}`.length));
  assert.ok(files.includes("mod.ts") && files.includes("LICENSE"), files.join(" "));
  assert.ok(files.includes("weights/tiny/model.safetensors"));
  const stray = files.filter((f) => /^(tests|tasks|notebooks|docs)\//.test(f));
  assert.deepEqual(stray, []);
});
