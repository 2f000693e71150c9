/**
 * Reading zip archives (the container of `torch.save` checkpoints since PyTorch 1.6), through
 * the npm library `fflate`. Entries may be stored or deflated; directories are skipped.
 *
 * @module
 */
import { unzipSync } from "fflate";

/**
 * Raised for a file that is not a readable zip archive; the message names the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readZip, ZipError } from "./zip.ts";
 * assert.throws(() => readZip(new Uint8Array([1, 2, 3, 4]), "x.zip"), ZipError);
 * // ZipError: x.zip: not a zip archive (it does not start with "PK\x03\x04")
 * ```
 */
export class ZipError extends Error {
  override name = "ZipError";
}

/**
 * The local-file-header signature every zip archive starts with (`PK\x03\x04`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "fflate";
 * import { ZIP_MAGIC } from "./zip.ts";
 * const bytes = zipSync({ "a.txt": new Uint8Array([1]) });
 * assert.deepEqual([...bytes.subarray(0, 4)], ZIP_MAGIC); // "PK\x03\x04"
 * ```
 */
export const ZIP_MAGIC: readonly number[] = [0x50, 0x4b, 0x03, 0x04];

/**
 * Whether bytes start like a zip archive (an empty archive, `PK\x05\x06`, counts too).
 *
 * @example
 * ```ts
 * import { looksLikeZip } from "./zip.ts";
 * looksLikeZip(new Uint8Array([0x50, 0x4b, 0x03, 0x04])); // true
 * ```
 */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06));
}

/**
 * Reads every file of a zip archive into memory: path inside the archive → bytes.
 * `source` names the archive in error messages.
 *
 * @example
 * ```ts
 * import { zipSync } from "fflate";
 * import { readZip } from "./zip.ts";
 * const bytes = zipSync({ "a/b.txt": new Uint8Array([104, 105]) });
 * readZip(bytes, "demo.zip").get("a/b.txt"); // Uint8Array [104, 105]
 * ```
 */
export function readZip(bytes: Uint8Array, source = "<bytes>"): Map<string, Uint8Array> {
  if (!looksLikeZip(bytes)) {
    throw new ZipError(`${source}: not a zip archive (it does not start with "PK\\x03\\x04")`);
  }
  let files: Record<string, Uint8Array>;
  // A central-directory record takes at least 46 bytes, and deflate expands at most ~1032:1;
  // a header claiming more is corrupt (and would make fflate loop or allocate without bound).
  const maxEntries = Math.floor(bytes.length / 46) + 1;
  let entries = 0;
  try {
    files = unzipSync(bytes, {
      filter(f) {
        if (++entries > maxEntries) {
          throw new Error(`more entries than ${bytes.length} bytes can hold`);
        }
        if (f.compression !== 0 && f.originalSize > 1032 * f.size + 1024) {
          throw new Error(
            `entry "${f.name}" claims ${f.originalSize} bytes from ${f.size} compressed`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    throw new ZipError(
      `${source}: corrupt or truncated zip archive (${
        (e as Error).message
      }; ${bytes.length} bytes)`,
      { cause: e },
    );
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) {
    if (!name.endsWith("/")) out.set(name, data);
  }
  return out;
}
