/**
 * Conversions between float32 and the 16-bit float formats found in weight files:
 * IEEE half precision (F16) and bfloat16 (BF16).
 *
 * @module
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Decodes IEEE float16 bit patterns to float32 (exact: every half is a float32).
 *
 * @example
 * ```ts
 * import { f16ToF32 } from "./half.ts";
 * f16ToF32(new Uint16Array([0x3c00, 0xc000]))[1]; // -2
 * ```
 */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: man * 2^-24
      const v = man * 5.960464477539063e-8;
      out[i] = sign ? -v : v;
    } else if (exp === 31) {
      u32[0] = sign | 0x7f800000 | (man << 13);
      out[i] = f32[0];
    } else {
      u32[0] = sign | ((exp + 112) << 23) | (man << 13);
      out[i] = f32[0];
    }
  }
  return out;
}

/**
 * Encodes float32 values as IEEE float16 bit patterns, rounding to nearest even; values beyond
 * the half range become infinities.
 *
 * @example
 * ```ts
 * import { f32ToF16 } from "./half.ts";
 * f32ToF16(new Float32Array([1, -2]))[0]; // 0x3c00
 * ```
 */
export function f32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let man = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (man ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      man |= 0x800000;
      const shift = 14 - e;
      let h = man >>> shift;
      const rem = man & ((1 << shift) - 1), half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1))) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (man >>> 13);
    const rem = man & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
    if (h >= 0x7c00) h = 0x7c00;
    out[i] = sign | h;
  }
  return out;
}

/**
 * Decodes bfloat16 bit patterns (the top 16 bits of a float32) to float32.
 *
 * @example
 * ```ts
 * import { bf16ToF32 } from "./half.ts";
 * bf16ToF32(new Uint16Array([0x3f80]))[0]; // 1
 * ```
 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i] << 16;
  return out;
}

/**
 * Encodes float32 as bfloat16 bit patterns, rounding to nearest even (NaN stays NaN).
 *
 * @example
 * ```ts
 * import { f32ToBf16 } from "./half.ts";
 * f32ToBf16(new Float32Array([1]))[0]; // 0x3f80
 * ```
 */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    const rounded = x + 0x7fff + ((x >>> 16) & 1);
    out[i] = (rounded >>> 16) & 0xffff;
  }
  return out;
}
