/**
 * Packing tokenized documents into fixed-length rows of `nCtx` tokens, the way SAELens's
 * activation store (`concat_and_batch_sequences`) does for GPT-2: documents are concatenated,
 * every row starts with BOS and documents that meet inside a row are separated by BOS.
 *
 * The packing rule, exactly (`B` = BOS = `<|endoftext|>` = 50256, which is also GPT-2's EOS):
 *
 * 1. Documents are taken in order; each is tokenized as it is (no BOS added by the tokenizer).
 *    A document with no tokens is skipped.
 * 2. A new row starts with `B` (when `prependBos`, the default) unless the first token it is
 *    about to receive is already `B`.
 * 3. A document that starts inside a row that already holds tokens is preceded by a separator
 *    `B`, unless the document's own first token is `B`. If the separator fills the row, the
 *    row is complete and the document begins on the next row (after that row's `B`).
 * 4. Tokens fill the row; a document that overflows continues on the next row, which again
 *    starts with `B` (rule 2).
 * 5. A row is emitted as soon as it holds `nCtx` tokens; the final partial row is dropped.
 *
 * With `prependBos: false` rule 2 adds nothing: rows are consecutive windows of the stream
 * `doc1 B doc2 B doc3 ...` (a document that starts a row gets no separator).
 *
 * For example with `nCtx = 4` and documents `[1 2 3] [4 5 6 7 8] [9] [10 11 12 13 14 15]` the
 * rows are `[B 1 2 3] [B 4 5 6] [B 7 8 B] [B 9 B 10] [B 11 12 13]`, and `[B 14 15]` is dropped.
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { BOS_TOKEN_ID, encodeText } from "../tokenizer/gpt2_tokenizer.ts";

/** Options of the packers. */
export interface PackOptions {
  /** Tokens per row (the context length). */
  nCtx: number;
  /** Start every row with BOS (default true). */
  prependBos?: boolean;
}

/**
 * Throws a `RangeError` naming the bad value unless `nCtx` leaves room for tokens: an integer
 * >= 2 with `prependBos` (a row needs a token after its BOS), >= 1 without.
 *
 * @example
 * ```ts
 * import { checkPackOptions } from "./packing.ts";
 * checkPackOptions(128, true); // ok
 * ```
 */
export function checkPackOptions(nCtx: number, prependBos = true): void {
  const min = prependBos ? 2 : 1;
  if (!Number.isInteger(nCtx) || nCtx < min) {
    throw new RangeError(
      `nCtx must be an integer >= ${min}${
        prependBos ? " when prependBos is true" : ""
      }, got ${nCtx}`,
    );
  }
}

/**
 * The streaming core of packing: push the tokens of one document at a time and receive the rows
 * it completes (see the module documentation for the exact rule). Rows are fresh arrays the
 * caller owns.
 *
 * @example
 * ```ts
 * import { RowPacker } from "./packing.ts";
 * const packer = new RowPacker({ nCtx: 4 });
 * packer.push([1, 2, 3]); // [Int32Array [50256, 1, 2, 3]]
 * packer.push([4, 5]); // [] (the row [50256, 4, 5] is pending)
 * packer.push([6]); // [Int32Array [50256, 4, 5, 50256]] (then [50256, 6] is pending)
 * ```
 */
export class RowPacker {
  /** Tokens per row. */
  readonly nCtx: number;
  /** Whether rows start with BOS. */
  readonly prependBos: boolean;
  #row: Int32Array;
  #fill = 0;
  #rows = 0;

  constructor({ nCtx, prependBos = true }: PackOptions) {
    checkPackOptions(nCtx, prependBos);
    this.nCtx = nCtx;
    this.prependBos = prependBos;
    this.#row = new Int32Array(nCtx);
  }

  /** Tokens in the partial row not yet emitted (dropped if no more documents come). */
  get pendingTokens(): number {
    return this.#fill;
  }

  /** Rows emitted so far. */
  get rowsEmitted(): number {
    return this.#rows;
  }

  /** Adds one document's tokens and returns the rows that became complete (possibly none). */
  push(tokens: ArrayLike<number>): Int32Array[] {
    const out: Int32Array[] = [];
    const n = tokens.length, nCtx = this.nCtx;
    let offset = 0;
    while (offset < n) {
      const next = tokens[offset];
      if (this.#fill === 0) {
        if (this.prependBos && next !== BOS_TOKEN_ID) this.#row[this.#fill++] = BOS_TOKEN_ID;
      } else if (offset === 0 && next !== BOS_TOKEN_ID) {
        this.#row[this.#fill++] = BOS_TOKEN_ID;
      }
      const take = Math.min(nCtx - this.#fill, n - offset);
      if (tokens instanceof Int32Array) {
        this.#row.set(tokens.subarray(offset, offset + take), this.#fill);
      } else {
        for (let i = 0; i < take; i++) this.#row[this.#fill + i] = tokens[offset + i];
      }
      this.#fill += take;
      offset += take;
      if (this.#fill === nCtx) {
        out.push(this.#row);
        this.#rows++;
        this.#row = new Int32Array(nCtx);
        this.#fill = 0;
      }
    }
    return out;
  }
}

function stackRows(rows: Int32Array[], nCtx: number): Tensor<"int32"> {
  const data = new Int32Array(rows.length * nCtx);
  rows.forEach((row, i) => data.set(row, i * nCtx));
  return { dtype: "int32", shape: [rows.length, nCtx], data };
}

/**
 * Packs already-tokenized documents into an int32 tensor `[nRows, nCtx]` (the rule is in the
 * module documentation).
 *
 * @example
 * ```ts
 * import { packTokens } from "./packing.ts";
 * const t = packTokens([[1, 2, 3], [4, 5, 6, 7, 8]], { nCtx: 4 });
 * t.shape; // [2, 4]: [50256, 1, 2, 3], [50256, 4, 5, 6]; the partial row [50256, 7, 8] is dropped
 * ```
 */
export function packTokens(
  documents: Iterable<ArrayLike<number>>,
  options: PackOptions,
): Tensor<"int32"> {
  const packer = new RowPacker(options);
  const rows: Int32Array[] = [];
  for (const tokens of documents) for (const row of packer.push(tokens)) rows.push(row);
  return stackRows(rows, packer.nCtx);
}

/** Progress of {@link packDocuments}, reported after each document. */
export interface PackProgress {
  /** Documents tokenized so far. */
  documents: number;
  totalDocuments: number;
  /** Tokens produced by the tokenizer so far (separators and row BOS tokens not counted). */
  tokens: number;
  /** Milliseconds since packing started. */
  elapsedMs: number;
}

/** Options of {@link packDocuments}. */
export interface PackDocumentsOptions extends PackOptions {
  /** Called after each document (and so once more with `documents === totalDocuments`, unless there are none). */
  onProgress?: (progress: PackProgress) => void;
}

/**
 * Tokenizes documents with the GPT-2 tokenizer (no BOS from the tokenizer) and packs them into
 * an int32 tensor `[nRows, nCtx]`: each row starts with BOS, documents inside a row are
 * separated by BOS, a document that overflows a row continues on the next one (after its BOS),
 * and the final partial row is dropped. The full rule is in the module documentation.
 *
 * @example
 * ```ts
 * import { packDocuments } from "./packing.ts";
 * const rows = packDocuments([{ text: "Hello world" }, { text: " Goodbye" }], { nCtx: 3 });
 * rows.shape; // [1, 3]: [50256, 15496, 995]; the partial row [50256, " Goodbye"] is dropped
 * ```
 */
export function packDocuments(
  documents: readonly { readonly text: string }[],
  { onProgress, ...options }: PackDocumentsOptions,
): Tensor<"int32"> {
  const packer = new RowPacker(options);
  const rows: Int32Array[] = [];
  const start = performance.now();
  let tokens = 0;
  documents.forEach((doc, i) => {
    const ids = encodeText(doc.text, { prependBos: false });
    tokens += ids.length;
    for (const row of packer.push(ids)) rows.push(row);
    onProgress?.({
      documents: i + 1,
      totalDocuments: documents.length,
      tokens,
      elapsedMs: performance.now() - start,
    });
  });
  return stackRows(rows, packer.nCtx);
}
