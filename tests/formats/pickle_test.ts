/**
 * The restricted unpickler: Python-written pickles of protocols 1–5 (tests/fixtures/pickle,
 * from make_pt_fixtures.py), hand-built byte sequences for each opcode family, and refusals of
 * disallowed globals and unknown opcodes.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { BUILTIN_GLOBALS, PickleError, PickleGlobal, unpickle } from "../../lib/formats/pickle.ts";
import { assertRefused } from "../helpers/within_budget.ts";
import { glob, k, le, O, pk, suni, uni } from "./pickle_bytes.ts";

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/pickle/${name}`, import.meta.url));
const u = (...pieces: Parameters<typeof pk>) => unpickle(pk(...pieces));
/** A protocol-2 pickle of one value: `PROTO 2 <value> STOP`. */
const one = (...value: Parameters<typeof pk>) => u(O.PROTO2, ...value, O.STOP);
const RECORD = "sae_training.config.RunnerConfig";

/** The error message of a refused global, with the default allow-list. */
function refusal(name: string, records: string[] = []): string {
  const allowed = [...Object.keys(BUILTIN_GLOBALS), ...records].sort().join(", ");
  return `<pickle>: pickle global "${name}" is not allowed (allowed: ${allowed})`;
}

Deno.test("Python pickles of protocols 1-5 all decode to the same values", () => {
  const shared = [4, 5];
  const expected = new Map<unknown, unknown>([
    ["int", 7],
    ["byte", 200],
    ["short", 40000],
    ["neg", -300],
    ["i32", -(2 ** 31)],
    ["big", 2n ** 70n],
    ["negbig", -(2n ** 65n)],
    ["float", 1.5],
    ["str", "h\u00e9llo \u2713"],
    ["bytes", Uint8Array.from([0, 255, 97, 98])],
    ["list", [1, [2, 3]]],
    ["tuple", [1, "a"]],
    ["t3", [1, 2, 3]],
    ["t4", [1, 2, 3, 4]],
    ["empty", []],
    ["set", new Set([1, 2])],
    ["frozen", new Set(["x"])],
    ["none", null],
    ["yes", true],
    ["no", false],
    ["od", new Map([["a", 1], ["b", 2]])],
    ["rec", { __class__: RECORD, hook_point: "blocks.3.hook_resid_pre", d_in: 8, lr: 3e-4 }],
    [3, "int key"],
    ["shared", [shared, shared]],
  ]);
  for (const proto of [1, 2, 3, 4, 5]) {
    const v = unpickle(Deno.readFileSync(fixture(`values_p${proto}.pkl`)), {
      recordClasses: [RECORD],
      source: `values_p${proto}.pkl`,
    }) as Map<unknown, unknown>;
    assert.deepStrictEqual(v, expected, `protocol ${proto}`);
    const [a, b] = v.get("shared") as unknown[];
    assert.equal(a, b, `protocol ${proto}: the memo shares one list`);
  }
});

Deno.test("a record class is refused unless listed, with the exact message", () => {
  const bytes = Deno.readFileSync(fixture("values_p2.pkl"));
  assert.throws(() => unpickle(bytes), (e: Error) => {
    assert.ok(e instanceof PickleError);
    assert.equal(e.message, refusal(RECORD));
    return true;
  });
});

Deno.test("integers: BININT, BININT1, BININT2, LONG1, LONG4, INT and LONG text forms", () => {
  assert.equal(one(0x4a, ...le(-5 >>> 0, 4)), -5);
  assert.equal(one(0x4b, 255), 255);
  assert.equal(one(0x4d, ...le(65535, 2)), 65535);
  assert.equal(one(0x8a, 0), 0);
  assert.equal(one(0x8a, 1, 0xff), -1);
  assert.equal(one(0x8a, 2, 0x00, 0x80), -32768);
  assert.equal(one(0x8a, 8, ...le(2n ** 63n - 1n, 8)), 2n ** 63n - 1n);
  assert.equal(one(0x8a, 9, ...le(2n ** 64n, 9)), 2n ** 64n);
  assert.equal(one(0x8b, ...le(3, 4), ...le(2 ** 20, 3)), 2 ** 20);
  assert.equal(u(0x49, ...new TextEncoder().encode("-42\n"), O.STOP), -42);
  assert.equal(u(0x49, ...new TextEncoder().encode("01\n"), O.STOP), true);
  assert.equal(
    u(0x4c, ...new TextEncoder().encode("123456789012345678901L\n"), O.STOP),
    123456789012345678901n,
  );
});

Deno.test("floats, booleans and None", () => {
  const f = new Uint8Array(8);
  new DataView(f.buffer).setFloat64(0, -0.1, false);
  assert.equal(one(0x47, f), -0.1);
  assert.equal(one(0x88), true);
  assert.equal(one(0x89), false);
  assert.equal(one(O.NONE), null);
});

Deno.test("strings and bytes: every length-prefixed form", () => {
  const b = new TextEncoder().encode("\u00e9t\u00e9");
  assert.equal(one(uni("\u00e9t\u00e9")), "\u00e9t\u00e9");
  assert.equal(one(suni("abc")), "abc");
  assert.equal(one(0x8d, ...le(b.length, 8), b), "\u00e9t\u00e9");
  assert.equal(one(0x55, 2, 0x68, 0x69), "hi");
  assert.equal(one(0x54, ...le(2, 4), 0x68, 0x69), "hi");
  assert.deepEqual(one(0x42, ...le(3, 4), 1, 2, 3), Uint8Array.from([1, 2, 3]));
  assert.deepEqual(one(0x43, 2, 9, 8), Uint8Array.from([9, 8]));
  assert.deepEqual(one(0x8e, ...le(1, 8), 7), Uint8Array.from([7]));
  assert.deepEqual(one(0x96, ...le(2, 8), 5, 6), Uint8Array.from([5, 6]));
  // protocol-2 bytes: _codecs.encode("\x00\xff", "latin1")
  assert.deepEqual(
    one(...glob("_codecs", "encode"), ...uni("\u0000\u00ff"), ...uni("latin1"), O.TUPLE2, O.REDUCE),
    Uint8Array.from([0, 255]),
  );
});

Deno.test("tuples, lists, dicts and sets", () => {
  assert.deepEqual(one(O.EMPTY_TUPLE), []);
  assert.deepEqual(one(...k(1), O.TUPLE1), [1]);
  assert.deepEqual(one(...k(1), ...k(2), O.TUPLE2), [1, 2]);
  assert.deepEqual(one(...k(1), ...k(2), ...k(3), O.TUPLE3), [1, 2, 3]);
  assert.deepEqual(one(O.MARK, ...k(1), ...k(2), ...k(3), ...k(4), O.TUPLE), [1, 2, 3, 4]);
  assert.deepEqual(one(O.MARK, ...k(1), ...k(2), 0x6c), [1, 2]); // LIST
  assert.deepEqual(one(O.EMPTY_LIST, ...k(1), 0x61, O.MARK, ...k(2), ...k(3), 0x65), [1, 2, 3]); // APPEND, APPENDS
  assert.deepEqual(
    one(
      O.EMPTY_DICT,
      ...uni("a"),
      ...k(1),
      O.SETITEM,
      O.MARK,
      ...uni("b"),
      ...k(2),
      ...k(7),
      O.NONE,
      O.SETITEMS,
    ),
    new Map<unknown, unknown>([["a", 1], ["b", 2], [7, null]]),
  );
  assert.deepEqual(one(O.MARK, ...uni("x"), ...k(1), 0x64), new Map([["x", 1]])); // DICT
  assert.deepEqual(one(0x8f, O.MARK, ...k(1), ...k(2), ...k(1), 0x90), new Set([1, 2])); // EMPTY_SET, ADDITEMS
  assert.deepEqual(one(O.MARK, ...uni("a"), 0x91), new Set(["a"])); // FROZENSET
  // POP, POP_MARK, DUP
  assert.deepEqual(one(...k(1), ...k(2), 0x30, O.MARK, ...k(3), ...k(4), 0x31, 0x32, O.TUPLE2), [
    1,
    1,
  ]);
});

Deno.test("memo: BINPUT/BINGET, LONG_BINPUT/LONG_BINGET and MEMOIZE share objects", () => {
  const v = one(
    O.EMPTY_LIST,
    0x71,
    0,
    0x72,
    ...le(300, 4),
    0x68,
    0,
    0x6a,
    ...le(300, 4),
    O.TUPLE3,
  ) as unknown[][];
  assert.equal(v.length, 3);
  assert.ok(v[0] === v[1] && v[1] === v[2]);
  // protocol 4: FRAME, MEMOIZE (index = memo size), SHORT_BINUNICODE, BINGET
  const p4 = u(
    0x80,
    4,
    0x95,
    ...le(12, 8),
    ...suni("ab"),
    0x94,
    ...suni("cd"),
    0x94,
    0x68,
    0,
    O.TUPLE3,
    O.STOP,
  );
  assert.deepEqual(p4, ["ab", "cd", "ab"]);
});

Deno.test("record classes: NEWOBJ + BUILD, NEWOBJ_EX, STACK_GLOBAL, copyreg._reconstructor", () => {
  const opts = { recordClasses: [RECORD] };
  const state = [
    O.EMPTY_DICT,
    O.MARK,
    ...uni("d_in"),
    ...k(8),
    ...uni("__proto__"),
    ...k(1),
    O.SETITEMS,
  ];
  const a = unpickle(
    pk(
      O.PROTO2,
      ...glob("sae_training.config", "RunnerConfig"),
      O.EMPTY_TUPLE,
      O.NEWOBJ,
      ...state,
      O.BUILD,
      O.STOP,
    ),
    opts,
  ) as Record<string, unknown>;
  assert.equal(a.__class__, RECORD);
  assert.equal(a.d_in, 8);
  assert.equal(
    Object.getPrototypeOf(a),
    Object.prototype,
    "a __proto__ field does not replace the prototype",
  );
  assert.equal(Object.getOwnPropertyDescriptor(a, "__proto__")?.value, 1);
  // protocol 4: STACK_GLOBAL and NEWOBJ_EX with keyword arguments
  const b = unpickle(
    pk(
      0x80,
      4,
      ...suni("sae_training.config"),
      ...suni("RunnerConfig"),
      0x93,
      O.EMPTY_TUPLE,
      O.EMPTY_DICT,
      ...suni("x"),
      ...k(1),
      O.SETITEM,
      0x92,
      O.STOP,
    ),
    opts,
  ) as Record<string, unknown>;
  assert.equal(b.__class__, RECORD);
  assert.deepEqual(b.__kwargs__, new Map([["x", 1]]));
  // protocol 1 form: copy_reg._reconstructor(cls, __builtin__.object, None), then BUILD
  const c = unpickle(
    pk(
      ...glob("copy_reg", "_reconstructor"),
      O.MARK,
      ...glob("sae_training.config", "RunnerConfig"),
      ...glob("__builtin__", "object"),
      O.NONE,
      O.TUPLE,
      O.REDUCE,
      ...state,
      O.BUILD,
      O.STOP,
    ),
    opts,
  ) as Record<string, unknown>;
  assert.equal(c.__class__, RECORD);
  assert.equal(c.d_in, 8);
  // a class named as a value stays a PickleGlobal
  assert.deepEqual(
    unpickle(pk(...glob("sae_training.config", "RunnerConfig"), O.STOP), opts),
    new PickleGlobal("sae_training.config", "RunnerConfig"),
  );
});

Deno.test("OrderedDict: REDUCE builds a Map; a BUILD of attributes on it is dropped", () => {
  const v = one(
    ...glob("collections", "OrderedDict"),
    O.EMPTY_TUPLE,
    O.REDUCE,
    O.MARK,
    ...uni("w"),
    ...k(1),
    O.SETITEMS,
    O.EMPTY_DICT,
    ...uni("_metadata"),
    O.EMPTY_DICT,
    O.SETITEM,
    O.BUILD,
  );
  assert.deepEqual(v, new Map([["w", 1]]));
});

Deno.test("disallowed globals are refused when named, with the exact message", () => {
  const cmd = [...uni("touch /tmp/pwned_by_pickle"), O.TUPLE1, O.REDUCE, O.STOP];
  for (
    const [module, name] of [["os", "system"], ["posix", "system"], ["builtins", "eval"], [
      "subprocess",
      "Popen",
    ], ["__builtin__", "eval"]]
  ) {
    assert.throws(() => u(O.PROTO2, ...glob(module, name), ...cmd), (e: Error) => {
      assert.ok(e instanceof PickleError);
      assert.equal(e.message, refusal(`${module}.${name}`));
      return true;
    });
  }
  // STACK_GLOBAL (protocol 4) is checked the same way
  assert.throws(() => u(0x80, 4, ...suni("os"), ...suni("system"), 0x93, ...cmd), {
    message: refusal("os.system"),
  });
  // the caller's record classes are listed among the allowed names
  assert.throws(() => unpickle(pk(...glob("os", "system"), O.STOP), { recordClasses: [RECORD] }), {
    message: refusal("os.system", [RECORD]),
  });
});

Deno.test("allowed globals are used only in their role", () => {
  // builtins.object cannot be called; OrderedDict cannot be NEWOBJ'd; _reconstructor only rebuilds records
  assert.throws(() => one(...glob("builtins", "object"), O.EMPTY_TUPLE, O.REDUCE), {
    message: '<pickle>: REDUCE at offset 20: pickle global "builtins.object" cannot be called',
  });
  assert.throws(
    () => one(...glob("collections", "OrderedDict"), O.EMPTY_TUPLE, O.NEWOBJ),
    /NEWOBJ at offset 28: cannot instantiate global collections.OrderedDict \(only record classes\)/,
  );
  assert.throws(
    () =>
      one(
        ...glob("copyreg", "_reconstructor"),
        ...glob("builtins", "object"),
        ...glob("builtins", "object"),
        O.NONE,
        O.TUPLE3,
        O.REDUCE,
      ),
    /copyreg._reconstructor only rebuilds record classes on builtins.object, got global builtins.object/,
  );
  assert.throws(
    () => one(...glob("_codecs", "encode"), ...uni("x"), ...uni("utf-8"), O.TUPLE2, O.REDUCE),
    /only _codecs.encode\(str, "latin1"\) is interpreted/,
  );
  assert.throws(
    () => one(...k(1), O.EMPTY_TUPLE, O.REDUCE),
    /REDUCE at offset 5: cannot call a number/,
  );
});

Deno.test("unknown and unsupported opcodes name the byte and offset", () => {
  assert.throws(() => u(O.PROTO2, O.EMPTY_DICT, 0xff, O.STOP), {
    message: "<pickle>: unknown pickle opcode 0xff at offset 3",
  });
  assert.throws(() => u(0x53, ...new TextEncoder().encode("'a'\n"), O.STOP), {
    message: "<pickle>: pickle opcode 0x53 (STRING) at offset 0 is not supported",
  });
  assert.throws(() => u(0x80, 6, O.NONE, O.STOP), {
    message: "<pickle>: unsupported pickle protocol 6 (at offset 0)",
  });
});

Deno.test("malformed pickles: truncation, underflow, missing memo, persistent ids without a loader", () => {
  const src = { source: "x.pkl" };
  assert.throws(() => unpickle(pk(O.PROTO2, O.NONE), src), {
    message: "x.pkl: pickle ends at offset 3 without STOP (truncated?)",
  });
  assert.throws(() => unpickle(pk(0x58, ...le(100, 4), 0x61), src), {
    message: "x.pkl: truncated pickle: BINUNICODE at offset 0 needs 100 bytes, 1 left",
  });
  assert.throws(
    () => unpickle(pk(0x8d, ...le(2n ** 62n, 8)), src),
    /BINUNICODE8 at offset 0 needs 4611686018427387904 bytes, 0 left/,
  );
  assert.throws(() => unpickle(pk(O.MARK, O.TUPLE2, O.STOP), src), {
    message: "x.pkl: stack underflow at TUPLE2 at offset 1",
  });
  assert.throws(() => unpickle(pk(0x68, 3, O.STOP), src), {
    message: "x.pkl: BINGET at offset 0: memo entry 3 is missing",
  });
  assert.throws(() => unpickle(pk(O.TUPLE, O.STOP), src), {
    message: "x.pkl: TUPLE at offset 0 without a MARK",
  });
  assert.throws(
    () => unpickle(pk(...uni("id"), O.BINPERSID, O.STOP), src),
    /BINPERSID at offset 7: persistent id without a persistent loader/,
  );
  assert.throws(
    () => unpickle(pk(...k(1), ...k(2), O.SETITEM, O.STOP), src),
    /stack underflow|not a dict/,
  );
  assert.throws(() => unpickle(pk(O.STOP), src), {
    message: "x.pkl: STOP at offset 0 with an empty stack",
  });
});

Deno.test("persistent ids go to the caller's loader", () => {
  const v = unpickle(
    pk(O.PROTO2, O.MARK, ...uni("storage"), ...k(3), O.TUPLE, O.BINPERSID, O.STOP),
    {
      persistentLoad: (pid) => ({ loaded: pid }),
    },
  );
  assert.deepEqual(v, { loaded: ["storage", 3] });
});

const APPEND = 0x61, BINPUT = 0x71, BINGET = 0x68, LONG4 = 0x8b, LONG = 0x4c, DUP = 0x32;

Deno.test("a huge LONG4 or LONG integer is refused at once, not decoded in quadratic time", async () => {
  const payload = new Uint8Array(300_000).fill(0x11);
  await assertRefused(
    () => unpickle(pk(O.PROTO2, LONG4, ...le(payload.length, 4), payload, O.STOP)),
    PickleError,
    /^<pickle>: LONG4 at offset 2: an integer of 300000 bytes \(over 1024\) is refused$/,
  );
  const digits = new TextEncoder().encode("9".repeat(300_000) + "L\n");
  await assertRefused(
    () => unpickle(pk(LONG, digits, O.STOP)),
    PickleError,
    /^<pickle>: LONG at offset 0: an integer of 300000 digits \(over 2500\) is refused$/,
  );
  // Up to the limit, integers decode exactly, in two's complement.
  const max = new Uint8Array(1024).fill(0xff);
  assert.equal(one(LONG4, ...le(1024, 4), max), -1);
  max[1023] = 0x7f;
  assert.equal(one(LONG4, ...le(1024, 4), max), (1n << 8191n) - 1n);
});

Deno.test("nesting deeper than 256 levels is refused without overflowing the stack", async () => {
  // [[[[...]]]] 100,000 deep: EMPTY_LIST x N, then APPEND x (N - 1), in 200 kB.
  const n = 100_000;
  const deep = pk(
    O.PROTO2,
    new Uint8Array(n).fill(O.EMPTY_LIST),
    new Uint8Array(n - 1).fill(APPEND),
    O.STOP,
  );
  await assertRefused(
    () => unpickle(deep),
    PickleError,
    /^<pickle>: refused: containers nest deeper than 256 levels$/,
  );
  const ok = pk(
    O.PROTO2,
    new Uint8Array(200).fill(O.EMPTY_LIST),
    new Uint8Array(199).fill(APPEND),
    O.STOP,
  );
  let v = unpickle(ok) as unknown[], depth = 1;
  while (v.length) [v, depth] = [v[0] as unknown[], depth + 1];
  assert.equal(depth, 200);
});

Deno.test("cycles through the memo are refused, in lists and in record classes", async () => {
  // l = []; l.append(l)
  await assertRefused(
    () => unpickle(pk(O.PROTO2, O.EMPTY_LIST, BINPUT, 0, BINGET, 0, APPEND, O.STOP)),
    PickleError,
    /^<pickle>: refused: a container holds itself \(a cycle through the memo\)$/,
  );
  // cfg = RunnerConfig(); cfg.__dict__ = {"d_in": 8, "self": cfg}
  const cyclic = pk(
    O.PROTO2,
    ...glob("sae_training.config", "RunnerConfig"),
    O.EMPTY_TUPLE,
    O.NEWOBJ,
    BINPUT,
    0,
    O.EMPTY_DICT,
    O.MARK,
    ...uni("d_in"),
    ...k(8),
    ...uni("self"),
    BINGET,
    0,
    O.SETITEMS,
    O.BUILD,
    O.STOP,
  );
  await assertRefused(
    () => unpickle(cyclic, { recordClasses: [RECORD] }),
    PickleError,
    /a container holds itself/,
  );
});

Deno.test("shared references that unfold into billions of values are refused", async () => {
  // x0 = []; x(i+1) = [x(i), x(i)]: 60 levels share each list twice, 2^60 values unfolded.
  const levels: number[] = [O.EMPTY_LIST];
  for (let i = 0; i < 60; i++) levels.push(BINPUT, 0, DUP, O.TUPLE2);
  await assertRefused(
    () => unpickle(pk(O.PROTO2, ...levels, O.STOP)),
    PickleError,
    /^<pickle>: refused: the object unfolds into \d+ values \(shared references counted each time\), over \d+$/,
  );
  // Sharing within the limit keeps identity, as Python's memo does.
  const pair = one(O.EMPTY_LIST, DUP, O.TUPLE2) as unknown[];
  assert.equal(pair[0], pair[1]);
});

Deno.test("dict keys and set members must be plain hashable data", async () => {
  await assertRefused(
    () => unpickle(pk(O.PROTO2, O.EMPTY_DICT, O.EMPTY_DICT, ...k(1), O.SETITEM, O.STOP)),
    PickleError,
    /^<pickle>: SETITEM at offset 6: a dict key is a dict \(only None, bool, int, float, str, bytes, globals and tuples of them are accepted\)$/,
  );
  await assertRefused(
    () => unpickle(pk(0x80, 4, 0x8f, O.MARK, O.EMPTY_DICT, 0x90, O.STOP)),
    PickleError,
    /^<pickle>: ADDITEMS at offset 5: a set member is a dict /,
  );
  // Tuples of plain values are keys, as in Python.
  const m = one(O.EMPTY_DICT, ...k(1), ...k(2), O.TUPLE2, ...k(3), O.SETITEM) as Map<
    unknown,
    unknown
  >;
  assert.deepEqual([...m.entries()], [[[1, 2], 3]]);
});
