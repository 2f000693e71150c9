/**
 * The WebGPU provider for the parity tests: a real adapter (a GPU, or Mesa's lavapipe, a Vulkan
 * driver that runs on the CPU), or, without one, a note that says how to install lavapipe.
 * `TC_REQUIRE_WEBGPU=1` (CI) makes a missing adapter an error.
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/builder.ts";
import { ProviderUnavailableError, Runtime } from "../../lib/graph/session.ts";

/** How to install lavapipe on Debian 12. */
export const LAVAPIPE_INSTALL =
  "add Debian's bookworm-backports suite to apt's sources, then `sudo apt-get install -t " +
  "bookworm-backports mesa-vulkan-drivers libvulkan1` (Mesa 25; Debian 12's own Mesa 22.3 is " +
  "refused by Dawn), and set XDG_RUNTIME_DIR to a writable folder";

/**
 * Whether the WebGPU provider has an adapter here: compiles and runs a ReLU on it (which must be
 * right). Without one, checks that the error says what is missing, then throws when
 * `TC_REQUIRE_WEBGPU=1`, else prints a `note:` (naming `what`) and returns false.
 *
 * @example
 * ```ts
 * import { webgpuAvailable } from "./webgpu.ts";
 * // In a test: if (!(await webgpuAvailable("the WebGPU parity tests"))) return;
 * typeof webgpuAvailable; // "function"
 * ```
 */
export async function webgpuAvailable(what: string): Promise<boolean> {
  const g = new Graph();
  g.output("y", g.relu(g.input("x", "float32", [2])));
  try {
    const c = await new Runtime({ provider: "webgpu" }).compile(g);
    const { y } = await c.run({
      x: { dtype: "float32", shape: [2], data: Float32Array.of(-1, 2) },
    });
    if (y.data[0] !== 0 || y.data[1] !== 2) {
      throw new Error(`WebGPU computed relu(-1, 2) = ${y.data}`);
    }
    return true;
  } catch (e) {
    if (!(e instanceof ProviderUnavailableError)) throw e;
    // The error names what is missing (tests/graph/session_test.ts checks the other providers').
    assert.match(e.message, /WebGPU execution provider found no usable adapter/);
    assert.match(e.message, /libvulkan\.so\.1/);
    const why = `no WebGPU adapter (${e.message.split(":")[1]?.trim() ?? e.message})`;
    if (Deno.env.get("TC_REQUIRE_WEBGPU") === "1") {
      throw new Error(`TC_REQUIRE_WEBGPU=1 but ${why}; to get one, ${LAVAPIPE_INSTALL}`);
    }
    console.error(`note: ${what} did not run: ${why}; to run them, ${LAVAPIPE_INSTALL}`);
    return false;
  }
}
