/**
 * The GPT-2 tokenizer.
 *
 * @module
 */
export * from "./gpt2_tokenizer.ts";
