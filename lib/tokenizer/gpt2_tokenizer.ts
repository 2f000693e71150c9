/**
 * The GPT-2 byte-pair-encoding tokenizer (r50k_base, 50257 tokens), with TransformerLens-style
 * helpers. `<|endoftext|>` (id 50256) is GPT-2's BOS, EOS and padding token, and is recognised
 * inside text as one token, as the Hugging Face GPT-2 tokenizer does.
 *
 * @module
 */
import { decode, encode } from "npm:gpt-tokenizer@4.0.0/encoding/r50k_base";

/**
 * GPT-2's `<|endoftext|>` token id, used as BOS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOS_TOKEN_ID, encodeText } from "./gpt2_tokenizer.ts";
 * encodeText("Hi")[0]; // 50256, the BOS token
 * assert.equal(encodeText("Hi")[0], BOS_TOKEN_ID);
 * ```
 */
export const BOS_TOKEN_ID = 50256;
/**
 * The text of the BOS/EOS token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOS_TOKEN_ID, decodeTokens, END_OF_TEXT, encodeText } from "./gpt2_tokenizer.ts";
 * encodeText(`a${END_OF_TEXT}b`, { prependBos: false }); // Int32Array [64, 50256, 65]
 * const ids = encodeText(`a${END_OF_TEXT}b`, { prependBos: false });
 * assert.deepEqual(ids, new Int32Array([64, BOS_TOKEN_ID, 65]));
 * assert.equal(decodeTokens([BOS_TOKEN_ID]), END_OF_TEXT);
 * ```
 */
export const END_OF_TEXT = "<|endoftext|>";
/**
 * GPT-2's vocabulary size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOS_TOKEN_ID, decodeTokens, GPT2_VOCAB_SIZE } from "./gpt2_tokenizer.ts";
 * GPT2_VOCAB_SIZE; // 50257: ids 0..50256, the last being BOS
 * assert.equal(BOS_TOKEN_ID, GPT2_VOCAB_SIZE - 1);
 * assert.throws(() => decodeTokens([GPT2_VOCAB_SIZE]), RangeError);
 * ```
 */
export const GPT2_VOCAB_SIZE = 50257;

/** Options of `encodeText`. */
export interface EncodeOptions {
  /** Prepend the BOS token (default true, as TransformerLens's `to_tokens`). */
  prependBos?: boolean;
}

/**
 * Encodes text to GPT-2 token ids.
 *
 * @example
 * ```ts
 * import { encodeText } from "./gpt2_tokenizer.ts";
 * encodeText("Hello world"); // Int32Array [50256, 15496, 995]
 * ```
 */
export function encodeText(text: string, { prependBos = true }: EncodeOptions = {}): Int32Array {
  const ids: number[] = prependBos ? [BOS_TOKEN_ID] : [];
  text.split(END_OF_TEXT).forEach((piece, i) => {
    if (i > 0) ids.push(BOS_TOKEN_ID);
    if (piece.length > 0) { for (const t of encode(piece)) ids.push(t); }
  });
  return Int32Array.from(ids);
}

function checkIds(ids: ArrayLike<number>): void {
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i];
    if (!Number.isInteger(t) || t < 0 || t >= GPT2_VOCAB_SIZE) {
      throw new RangeError(
        `token id ${t} at position ${i} is outside the GPT-2 vocabulary [0, ${GPT2_VOCAB_SIZE})`,
      );
    }
  }
}

/**
 * Decodes token ids to text.
 *
 * @example
 * ```ts
 * import { decodeTokens } from "./gpt2_tokenizer.ts";
 * decodeTokens([15496, 995]); // "Hello world"
 * ```
 */
export function decodeTokens(ids: ArrayLike<number>): string {
  checkIds(ids);
  return decode(Array.from(ids));
}

/**
 * The text of each token (a token that is part of a multi-byte character shows as U+FFFD).
 *
 * @example
 * ```ts
 * import { tokenStrings } from "./gpt2_tokenizer.ts";
 * tokenStrings([50256, 15496, 995]); // ["<|endoftext|>", "Hello", " world"]
 * ```
 */
export function tokenStrings(ids: ArrayLike<number>): string[] {
  checkIds(ids);
  return Array.from(ids, (t) => decode([t]) || "\ufffd");
}

/**
 * The id of text that is exactly one token; throws otherwise (like TransformerLens's
 * `to_single_token`).
 *
 * @example
 * ```ts
 * import { singleToken } from "./gpt2_tokenizer.ts";
 * singleToken(" world"); // 995
 * ```
 */
export function singleToken(text: string): number {
  const ids = encodeText(text, { prependBos: false });
  if (ids.length !== 1) {
    throw new RangeError(
      `"${text}" is ${ids.length} tokens (${Array.from(ids).join(", ")}), expected exactly one`,
    );
  }
  return ids[0];
}
