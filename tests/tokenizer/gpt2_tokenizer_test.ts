import assert from "node:assert/strict";
import {
  BOS_TOKEN_ID,
  decodeTokens,
  encodeText,
  singleToken,
  tokenStrings,
} from "../../lib/tokenizer/gpt2_tokenizer.ts";

Deno.test("encodeText gives GPT-2's ids, BOS first by default", () => {
  assert.deepEqual(Array.from(encodeText("Hello world")), [BOS_TOKEN_ID, 15496, 995]);
  assert.deepEqual(Array.from(encodeText("Hello world", { prependBos: false })), [15496, 995]);
  assert.deepEqual(Array.from(encodeText("")), [BOS_TOKEN_ID]);
});

Deno.test("<|endoftext|> inside text is the single token 50256", () => {
  assert.deepEqual(Array.from(encodeText("a<|endoftext|>b", { prependBos: false })), [
    64,
    50256,
    65,
  ]);
});

Deno.test("decodeTokens and tokenStrings invert encodeText", () => {
  const text = "The war lasted from 1735 to 17";
  const ids = encodeText(text, { prependBos: false });
  assert.equal(decodeTokens(ids), text);
  assert.deepEqual(tokenStrings(encodeText("Hello world")), ["<|endoftext|>", "Hello", " world"]);
  assert.equal(singleToken(" world"), 995);
  assert.throws(
    () => singleToken("Hello world"),
    /"Hello world" is 2 tokens \(15496, 995\), expected exactly one/,
  );
  assert.throws(
    () => decodeTokens([50257]),
    /token id 50257 at position 0 is outside the GPT-2 vocabulary \[0, 50257\)/,
  );
});
