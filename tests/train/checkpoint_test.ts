/**
 * Training checkpoints (lib/train/checkpoint.ts): a save/load round trip gives back every
 * parameter and Adam moment bit for bit (exact float32 equality), the step and the metadata;
 * a state holding NaN or Infinity is refused with a message naming the tensor, the index and the
 * step, and the checkpoint already on disk (and its `.prev`) stay byte-identical; each save keeps
 * the previous file as `.prev` and leaves no temporary files; a missing, truncated or corrupt
 * file, one without checkpoint metadata, or one with a foreign tensor gives a CheckpointError
 * naming the file; `checkCompatible` names the first differing field or the wrong kind.
 * Every file is written in a fresh temporary directory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serializeSafetensors } from "../../lib/formats/safetensors.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import {
  checkCompatible,
  CheckpointError,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "../../lib/train/checkpoint.ts";
import type { TrainState } from "../../lib/train/trainer.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "checkpoint_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function f32(shape: number[], f: (i: number) => number): Tensor<"float32"> {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "float32", shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

/** A small state whose values differ per tensor and per element (and use awkward floats). */
function makeState(step: number, salt = 0): TrainState {
  const shapes: [string, number[]][] = [
    ["embed.W_E", [5, 3]],
    ["blocks.0.attn.W_Q", [2, 3, 2]],
    ["blocks.0.ln1.b", [3]],
  ];
  const state: TrainState = { params: new Map(), m: new Map(), v: new Map(), step };
  shapes.forEach(([name, shape], k) => {
    state.params.set(name, f32(shape, (i) => Math.sin(i * 1.3 + k + salt) / 3 + 1e-7 * i));
    state.m.set(name, f32(shape, (i) => -1e-5 * (i + k + 1) + salt));
    state.v.set(name, f32(shape, (i) => 1e-9 * (i + 1) * (k + 1) + salt));
  });
  return state;
}

const CONFIG = {
  model: { n_layers: 1, d_model: 3, act_fn: "gelu_new" },
  batch: 8,
  seed: 0,
  schedule: { name: "constant", lr: 1e-3 },
};

function meta(step: number, extra: Record<string, unknown> = {}): CheckpointMeta {
  return { kind: "gpt2-lm", config: CONFIG, step, extra };
}

function assertSameTensors(
  actual: ReadonlyMap<string, Tensor<"float32">>,
  expected: ReadonlyMap<string, Tensor<"float32">>,
  what: string,
): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), what);
  for (const [k, t] of expected) {
    const a = actual.get(k)!;
    assert.deepEqual(a.shape, t.shape, `${what} ${k} shape`);
    assert.equal(a.dtype, "float32");
    assert.deepEqual(a.data, t.data, `${what} ${k} values`);
  }
}

Deno.test("saveCheckpoint() then loadCheckpoint() gives back params, moments, step and meta exactly", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "checkpoint.safetensors");
    const state = makeState(7);
    const m = meta(7, { cursor: 3, tokensSeen: 1234 });
    await saveCheckpoint(path, state, m);
    const loaded = await loadCheckpoint(path);
    assert.equal(loaded.state.step, 7);
    assertSameTensors(loaded.state.params, state.params, "params");
    assertSameTensors(loaded.state.m, state.m, "adam_m");
    assertSameTensors(loaded.state.v, state.v, "adam_v");
    assert.deepEqual(loaded.meta, m);
    // The config survives the JSON round trip well enough to be compatible with itself.
    checkCompatible(loaded.meta, "gpt2-lm", CONFIG, path);
  });
});

Deno.test("saveCheckpoint() records the state's step, whatever meta.step says", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "c.safetensors");
    await saveCheckpoint(path, makeState(12), meta(3));
    const loaded = await loadCheckpoint(path);
    assert.equal(loaded.state.step, 12);
    assert.equal(loaded.meta.step, 12);
  });
});

Deno.test("saveCheckpoint() keeps the previous checkpoint as .prev and leaves no temporary files", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "checkpoint.safetensors");
    await saveCheckpoint(path, makeState(2), meta(2));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["checkpoint.safetensors"]);
    const first = await Deno.readFile(path);
    await saveCheckpoint(path, makeState(4, 0.5), meta(4));
    assert.deepEqual(await Deno.readFile(`${path}.prev`), first);
    assert.equal((await loadCheckpoint(`${path}.prev`)).state.step, 2);
    const current = await loadCheckpoint(path);
    assert.equal(current.state.step, 4);
    assertSameTensors(current.state.params, makeState(4, 0.5).params, "params");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "checkpoint.safetensors",
      "checkpoint.safetensors.prev",
    ]);
  });
});

Deno.test("saveCheckpoint() refuses NaN or Infinity, naming the tensor and step, and leaves the files on disk untouched", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "checkpoint.safetensors");
    await saveCheckpoint(path, makeState(2), meta(2));
    await saveCheckpoint(path, makeState(4), meta(4));
    const good = await Deno.readFile(path), prev = await Deno.readFile(`${path}.prev`);
    const cases: [string, (s: TrainState) => void, RegExp][] = [
      [
        "NaN in a parameter",
        (s) => (s.params.get("blocks.0.attn.W_Q")!.data[5] = NaN),
        /^refusing to checkpoint step 6: param "blocks\.0\.attn\.W_Q" has a non-finite value NaN at 5$/,
      ],
      [
        "Infinity in a first moment",
        (s) => (s.m.get("embed.W_E")!.data[0] = Infinity),
        /^refusing to checkpoint step 6: adam_m "embed\.W_E" has a non-finite value Infinity at 0$/,
      ],
      [
        "-Infinity in a second moment",
        (s) => (s.v.get("blocks.0.ln1.b")!.data[2] = -Infinity),
        /^refusing to checkpoint step 6: adam_v "blocks\.0\.ln1\.b" has a non-finite value -Infinity at 2$/,
      ],
    ];
    for (const [what, poison, message] of cases) {
      const bad = makeState(6, 1);
      poison(bad);
      await assert.rejects(
        () => saveCheckpoint(path, bad, meta(6)),
        (e: unknown) => {
          assert.ok(e instanceof CheckpointError, what);
          assert.match(e.message, message);
          return true;
        },
      );
      assert.deepEqual(await Deno.readFile(path), good, `${what}: checkpoint changed`);
      assert.deepEqual(await Deno.readFile(`${path}.prev`), prev, `${what}: .prev changed`);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "checkpoint.safetensors",
        "checkpoint.safetensors.prev",
      ]);
    }
    assert.equal((await loadCheckpoint(path)).state.step, 4);
  });
});

Deno.test("saveCheckpoint() reports a failed write as a CheckpointError naming the path and step", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing", "checkpoint.safetensors");
    await assert.rejects(
      () => saveCheckpoint(path, makeState(3), meta(3)),
      (e: unknown) => {
        assert.ok(e instanceof CheckpointError);
        assert.ok(
          e.message.startsWith(`could not write checkpoint ${path} at step 3 (`),
          e.message,
        );
        assert.match(e.message, /\); the previous checkpoint is untouched$/);
        return true;
      },
    );
  });
});

/** Asserts that loading `path` fails with a CheckpointError whose message matches `re`. */
async function assertUnloadable(path: string, re: RegExp): Promise<void> {
  await assert.rejects(
    () => loadCheckpoint(path),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError, `${e}`);
      assert.ok(e.message.startsWith(`checkpoint ${path}`), e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

Deno.test("loadCheckpoint() of a missing, truncated or corrupt file gives a CheckpointError naming the file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "checkpoint.safetensors");
    await saveCheckpoint(path, makeState(5), meta(5));
    const bytes = await Deno.readFile(path);

    await assertUnloadable(join(dir, "nothing.safetensors"), / is unreadable: /);

    const truncated = join(dir, "truncated.safetensors");
    await Deno.writeFile(truncated, bytes.subarray(0, bytes.length - 10));
    await assertUnloadable(truncated, / is unreadable: .*truncated file\?$/);

    const headerCut = join(dir, "header_cut.safetensors");
    await Deno.writeFile(headerCut, bytes.subarray(0, 40));
    await assertUnloadable(headerCut, / is unreadable: .*runs past the end of the file/);

    const tiny = join(dir, "tiny.safetensors");
    await Deno.writeFile(tiny, bytes.subarray(0, 3));
    await assertUnloadable(tiny, / is unreadable: .*too short/);

    const garbage = join(dir, "garbage.safetensors");
    const g = bytes.slice();
    g.fill(0x7b, 8, 24); // "{{{{..." in the JSON header
    await Deno.writeFile(garbage, g);
    await assertUnloadable(garbage, / is unreadable: .*header is not valid UTF-8 JSON/);

    const empty = join(dir, "empty.safetensors");
    await Deno.writeFile(empty, new Uint8Array());
    await assertUnloadable(empty, / is unreadable: /);
  });
});

Deno.test("loadCheckpoint() refuses a safetensors file that is not a checkpoint", async () => {
  await withTempDir(async (dir) => {
    const w = f32([2], (i) => i);
    const noMeta = join(dir, "model.safetensors");
    await Deno.writeFile(noMeta, serializeSafetensors({ "param.w": w }));
    await assertUnloadable(noMeta, /^checkpoint \S+ has no valid "checkpoint" metadata$/);

    const badJson = join(dir, "bad_json.safetensors");
    await Deno.writeFile(
      badJson,
      serializeSafetensors({ "param.w": w }, { metadata: { checkpoint: "{not json" } }),
    );
    await assertUnloadable(badJson, /^checkpoint \S+ has no valid "checkpoint" metadata$/);

    const metadata = { checkpoint: JSON.stringify(meta(1)) };
    const foreign = join(dir, "foreign.safetensors");
    await Deno.writeFile(
      foreign,
      serializeSafetensors({ "param.w": w, "adam_m.w": w, "adam_v.w": w, "extra.w": w }, {
        metadata,
      }),
    );
    await assertUnloadable(foreign, /^checkpoint \S+: unexpected tensor "extra\.w"$/);

    const ints = join(dir, "ints.safetensors");
    await Deno.writeFile(
      ints,
      serializeSafetensors({
        "param.w": { dtype: "int32", shape: [2], data: new Int32Array(2) },
      }, { metadata }),
    );
    await assertUnloadable(ints, /^checkpoint \S+: unexpected tensor "param\.w"$/);

    const noMoments = join(dir, "no_moments.safetensors");
    await Deno.writeFile(
      noMoments,
      serializeSafetensors({ "param.w": w, "adam_m.w": w }, { metadata }),
    );
    await assertUnloadable(noMoments, /^checkpoint \S+: no Adam moments for "w"$/);
  });
});

Deno.test("checkCompatible() names the first differing field, with both values", () => {
  const m = meta(3);
  const path = "runs/x/checkpoint.safetensors";
  const check = (config: Record<string, unknown>) => () =>
    checkCompatible(m, "gpt2-lm", config, path);
  assert.throws(
    check({ ...CONFIG, batch: 4, seed: 1 }),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.equal(
        e.message,
        "checkpoint runs/x/checkpoint.safetensors is from another configuration: batch is 4 here " +
          "but 8 in the checkpoint (use the same options to resume, or another --out to start afresh)",
      );
      return true;
    },
  );
  assert.throws(
    check({ ...CONFIG, model: { ...CONFIG.model, d_model: 4 } }),
    /^CheckpointError: checkpoint runs\/x\/checkpoint\.safetensors is from another configuration: model is \{"n_layers":1,"d_model":4,"act_fn":"gelu_new"\} here but \{"n_layers":1,"d_model":3,"act_fn":"gelu_new"\} in the checkpoint /,
  );
  assert.throws(
    check({ ...CONFIG, schedule: { name: "constant", lr: 2e-3 } }),
    /: schedule is \{"name":"constant","lr":0\.002\} here but \{"name":"constant","lr":0\.001\} in the checkpoint /,
  );
  // A field only one side has.
  assert.throws(
    check({ ...CONFIG, corpus: "sotu" }),
    /: corpus is "sotu" here but undefined in the checkpoint /,
  );
  const { seed: _, ...withoutSeed } = CONFIG;
  assert.throws(check(withoutSeed), /: seed is undefined here but 0 in the checkpoint /);
  // The same configuration passes.
  checkCompatible(m, "gpt2-lm", structuredClone(CONFIG), path);
});

Deno.test("checkCompatible() refuses a checkpoint of another kind", () => {
  assert.throws(
    () => checkCompatible({ ...meta(3), kind: "transcoder" }, "gpt2-lm", CONFIG, "a/b.safetensors"),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.equal(
        e.message,
        'checkpoint a/b.safetensors is a "transcoder" checkpoint, not "gpt2-lm"',
      );
      return true;
    },
  );
});
