/** `deno task demo` end to end: the embedded model by default, a random model on request, bad options. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const demo = fileURLToPath(new URL("../../tasks/demo.ts", import.meta.url));

async function runDemo(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", demo, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the demo runs the embedded tiny model: next tokens, every hook, active transcoder features", async () => {
  const { code, stdout, stderr } = await runDemo("--prompt", "The Congress shall", "--top", "5");
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Model: tiny \(/);
  assert.match(stdout, /Prompt: "The Congress shall" -> 4 tokens/);
  assert.equal([...stdout.matchAll(/^\s+[\d.]+%\s+".*"$/gm)].length, 5);
  assert.match(stdout, /^72 hooks/m); // 2 + 4 blocks x 17 + 2
  assert.match(stdout, /blocks\.3\.hook_resid_post\s+\[1, 4, \d+\]/);
  assert.match(stdout, /layer 3: L0 \d+; strongest \d+ \([\d.]+\)/);
});

Deno.test("the demo runs a random model, and refuses bad options", async () => {
  const random = await runDemo("--model", "random", "--top", "3");
  assert.equal(random.code, 0, random.stderr);
  assert.match(random.stdout, /deterministic random weights/);
  const bad = await runDemo("--provider", "tpu");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--provider must be one of cpu, cuda, webgpu, got "tpu"/);
  const missing = await runDemo("--model", "/nonexistent/model");
  assert.equal(missing.code, 2); // a user's mistake: one error line, no stack
  assert.match(missing.stderr, /^error: \/nonexistent\/model\/config\.json not found/);
});
