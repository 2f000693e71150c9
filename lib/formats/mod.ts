/**
 * Weight file formats, read as if the bytes were hostile: every reader validates before it
 * allocates, never runs code, and throws its own error class naming the file and field.
 *
 * - safetensors: `readSafetensors`, `parseSafetensors` (`SafetensorsFile`, `SafetensorsDType`),
 *   `writeSafetensors`, `serializeSafetensors` (`SerializeOptions`: F32, F16 or BF16 storage);
 *   `SafetensorsError`.
 * - PyTorch checkpoints (`torch.save`): `readTorchCheckpoint`, `parseTorchCheckpoint`
 *   (`TorchCheckpointOptions`); `PtFormatError`.
 * - The restricted unpickler beneath them: `unpickle` (`UnpickleOptions`, `GlobalHandler`,
 *   the allow-list `BUILTIN_GLOBALS`), its values `PickleGlobal` and `PickleRecord`;
 *   `PickleError`.
 * - Zip archives: `openZip` (`OpenZipOptions`) gives a `ZipArchive`; `ZipError`.
 * - 16-bit floats: `f16ToF32`, `f32ToF16`, `bf16ToF32`, `f32ToBf16`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   parseTorchCheckpoint,
 *   PtFormatError,
 *   readSafetensors,
 *   writeSafetensors,
 * } from "@transcoder-circuits/core/formats";
 * const dir = await Deno.makeTempDir();
 * const w = { dtype: "float32", shape: [2], data: new Float32Array([1, -2]) } as const;
 * await writeSafetensors(`${dir}/w.safetensors`, { w }, { floatDtype: "F16" });
 * const { tensors } = await readSafetensors(`${dir}/w.safetensors`);
 * assert.deepEqual(tensors.get("w")?.data, new Float32Array([1, -2])); // float16, read as float32
 * await Deno.remove(dir, { recursive: true });
 * assert.throws(() => parseTorchCheckpoint(new Uint8Array(5), { source: "x.pt" }), PtFormatError);
 * ```
 *
 * @module
 */
export {
  parseSafetensors,
  readSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsFile,
  type SerializeOptions,
  serializeSafetensors,
  writeSafetensors,
} from "./safetensors.ts";
export {
  parseTorchCheckpoint,
  PtFormatError,
  readTorchCheckpoint,
  type TorchCheckpointOptions,
} from "./torch_pt.ts";
export {
  BUILTIN_GLOBALS,
  type GlobalHandler,
  PickleError,
  PickleGlobal,
  type PickleRecord,
  unpickle,
  type UnpickleOptions,
} from "./pickle.ts";
export { openZip, type OpenZipOptions, ZipArchive, ZipError } from "./zip.ts";
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.ts";
