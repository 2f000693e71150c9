/**
 * The GPT-2 byte-pair-encoding tokenizer (r50k_base, 50257 tokens), with TransformerLens-style
 * helpers.
 *
 * - Encoding and decoding: `encodeText` (`EncodeOptions`: BOS first by default), `decodeTokens`,
 *   `tokenStrings` (one string per id), `singleToken` (the id of a text that is one token).
 * - Special tokens and sizes: `BOS_TOKEN_ID` (`<|endoftext|>`, also EOS and padding),
 *   `END_OF_TEXT`, `GPT2_VOCAB_SIZE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   BOS_TOKEN_ID,
 *   decodeTokens,
 *   encodeText,
 *   singleToken,
 *   tokenStrings,
 * } from "@transcoder-circuits/core/tokenizer";
 * const ids = encodeText("Hello world"); // Int32Array [50256, 15496, 995]
 * assert.equal(ids[0], BOS_TOKEN_ID);
 * tokenStrings(ids.subarray(1)); // ["Hello", " world"]
 * assert.equal(decodeTokens(ids.subarray(1)), "Hello world");
 * assert.equal(singleToken(" world"), 995);
 * ```
 *
 * @module
 */
export {
  BOS_TOKEN_ID,
  decodeTokens,
  type EncodeOptions,
  encodeText,
  END_OF_TEXT,
  GPT2_VOCAB_SIZE,
  singleToken,
  tokenStrings,
} from "./gpt2_tokenizer.ts";
