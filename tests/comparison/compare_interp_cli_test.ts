/**
 * `deno task compare-interp` as a subprocess: it prints the page's URL, records answers posted
 * over HTTP, loses none when killed with SIGKILL, continues the session when run again (an
 * answer changed counts once), refuses to continue it with another seed, reveals the tallies
 * once every item is rated, and stops cleanly on SIGINT.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SESSION_FILES } from "../../lib/comparison/session.ts";
import { RatingsStore } from "../../lib/comparison/ratings.ts";
import { tallyRatings } from "../../lib/comparison/results.ts";
import type { KeyEntry } from "../../lib/comparison/sampling.ts";
import { sessionArgs } from "./fixture.ts";

const TASK = new URL("../../tasks/compare_interp.ts", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;
const N = 3, TOTAL = 2 * N;

const argsFor = (out: string, extra: string[] = []) => [
  ...sessionArgs(out, { n: N, rows: 24 }),
  ...extra,
];

/** A running server process, its URL, and its output so far. */
interface Running {
  child: Deno.ChildProcess;
  url: string;
  stdout: string;
  stderr: Promise<string>;
}

/** Starts the task and waits until it prints its URL (or exits). */
async function startTask(args: string[]): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TASK, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  for (;;) {
    const m = /Rating page: (http:\/\/127\.0\.0\.1:\d+\/)\n[^\n]*\n/.exec(stdout);
    if (m) {
      // Drain the rest in the background so the pipe never fills.
      (async () => {
        for (;;) if ((await reader.read()).done) break;
      })();
      return { child, url: m[1], stdout, stderr };
    }
    const { value, done } = await reader.read();
    if (done) {
      const status = await child.status;
      throw new Error(
        `the task exited (${status.code}) before serving:\n${stdout}\n${await stderr}`,
      );
    }
    stdout += value;
  }
}

const post = async (url: string, body: unknown) => {
  const r = await fetch(`${url}api/rate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return [r.status, await r.json()] as const;
};

const answer = (item: number) => ({
  item,
  rating: (["no", "yes", "maybe"] as const)[item % 3],
  contextFree: item % 2 === 0,
  note: item === 1 ? "first try" : "",
});

Deno.test("compare-interp survives SIGKILL mid-session and continues where it stopped", async () => {
  const out = await Deno.makeTempDir({ prefix: "compare_interp_cli_test_" });
  const ratings = join(out, SESSION_FILES.ratings);
  let run: Running | undefined;
  try {
    run = await startTask(argsFor(out));
    assert.match(run.stdout, /0 of 6 features rated; answers are saved to .*ratings\.jsonl/);
    for (let i = 0; i < 3; i++) {
      const [status, body] = await post(run.url, answer(i));
      assert.equal(status, 200);
      assert.equal(body.state.rated, i + 1);
    }
    const onDisk = await Deno.readTextFile(ratings);
    run.child.kill("SIGKILL");
    const killed = await run.child.status;
    assert.equal(killed.signal, "SIGKILL");
    await run.stderr;
    run = undefined;
    assert.equal(await Deno.readTextFile(ratings), onDisk);
    assert.equal(onDisk.trim().split("\n").length, 3);

    // Another seed against this session is refused, and the file is left alone.
    const wrong = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TASK, ...argsFor(out, ["--seed", "5"])],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(wrong.code, 2);
    const err = new TextDecoder().decode(wrong.stderr).trim().split("\n");
    assert.equal(err.length, 1, err.join("\n"));
    assert.match(
      err[0],
      /^error: .*session\.json is a session with --seed 0, not 5: continue it with deno task compare-interp /,
    );
    assert.equal(await Deno.readTextFile(ratings), onDisk);

    // The same command continues at item 3.
    run = await startTask(argsFor(out));
    assert.match(run.stdout, /3 of 6 features rated/);
    const state = await (await fetch(`${run.url}api/state`)).json();
    assert.deepEqual(state, { total: TOTAL, rated: 3, next: 3, complete: false });
    const earlier = await (await fetch(`${run.url}api/item/1`)).json();
    assert.deepEqual(earlier.answer, { rating: "yes", contextFree: false, note: "first try" });
    // Item 1 changed (counts once), item 3 sent twice (written once), then the rest.
    assert.equal((await post(run.url, { ...answer(1), rating: "no", note: "second try" }))[0], 200);
    for (const i of [3, 3, 4]) assert.equal((await post(run.url, answer(i)))[0], 200);
    assert.equal((await fetch(`${run.url}api/reveal`)).status, 409);
    const [, last] = await post(run.url, answer(5));
    assert.deepEqual(last.state, { total: TOTAL, rated: TOTAL, next: null, complete: true });

    const store = await RatingsStore.open(ratings, TOTAL);
    assert.equal(store.lines, TOTAL + 1); // six answers and one change
    assert.equal(store.get(1)?.note, "second try");
    const key: KeyEntry[] = JSON.parse(await Deno.readTextFile(join(out, SESSION_FILES.key))).items;
    const want = tallyRatings(key, store.ratings());
    const reveal = await (await fetch(`${run.url}api/reveal`)).json();
    assert.deepEqual(reveal.tallies.map((r: { tally: unknown }) => r.tally), [want.A, want.B]);
    assert.match(await Deno.readTextFile(join(out, SESSION_FILES.results)), /\| A \| tiny:1 /);

    run.child.kill("SIGINT");
    assert.equal((await run.child.status).code, 0);
    await run.stderr;
    run = undefined;
  } finally {
    if (run) {
      run.child.kill("SIGKILL");
      await run.child.status;
      await run.stderr;
    }
    await Deno.remove(out, { recursive: true });
  }
});
