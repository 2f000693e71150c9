/**
 * A barrier that waits until Deno's Jupyter kernel has written a cell's outputs to its clients.
 *
 * Why: Deno's kernel (2.9.6, a ZeroMQ implementation in JavaScript) publishes everything the
 * cell's code emits (`Deno.jupyter.display`, `console.log`) from a queue that a separate task
 * drains, while it publishes the cell's `status: idle` directly when the code returns. When the
 * queue is still draining, the last outputs of a cell reach the client after `idle`, and a
 * headless client (nbconvert, nbclient) has by then moved on to the next cell and discards them.
 * See docs/notebooks.md for the measurements.
 *
 * How: the kernel's IOPub socket accepts any subscriber, so the watcher subscribes to it itself
 * (its port is in the connection file named on the kernel's command line), and `flush` sends a
 * marker message through the same queue and waits until the marker comes back. The queue is
 * first in, first out, so every output emitted before the marker has then been written to every
 * subscriber. The marker is a `comm_msg` for a comm that does not exist, which Jupyter clients
 * ignore.
 *
 * @module
 */

/** The part of `Deno.jupyter` that publishes a message through the kernel's queue. */
export interface KernelBroadcast {
  /** Publishes a message on IOPub through the kernel's queue. */
  broadcast(
    msgType: string,
    content: Record<string, unknown>,
    extra?: { metadata?: Record<string, unknown> },
  ): void | Promise<void>;
}

const MARKER_KEY = "transcoder-circuits.flush";
const COMM_ID = "transcoder-circuits.flush";
const DELIMITER = "<IDS|MSG>";
const dec = new TextDecoder();
const enc = new TextEncoder();

/** Reads exactly `n` bytes from a connection (throws at end of stream). */
class FrameReader {
  #buf = new Uint8Array(0);
  constructor(private readonly conn: Deno.Conn) {}

  async exact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(Math.max(65536, n - this.#buf.length));
      const got = await this.conn.read(chunk);
      if (got === null) throw new Error("IOPub connection closed");
      const joined = new Uint8Array(this.#buf.length + got);
      joined.set(this.#buf);
      joined.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = joined;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** One ZMTP 3.0 frame: its flags and body. */
  async frame(): Promise<{ more: boolean; command: boolean; body: Uint8Array }> {
    const [flags] = await this.exact(1);
    const sizeBytes = await this.exact(flags & 0x02 ? 8 : 1);
    const size = flags & 0x02
      ? Number(new DataView(sizeBytes.buffer).getBigUint64(0))
      : sizeBytes[0];
    return {
      more: (flags & 0x01) !== 0,
      command: (flags & 0x04) !== 0,
      body: await this.exact(size),
    };
  }
}

/** The 64-byte ZMTP 3.0 greeting of a client with the NULL mechanism. */
function greeting(): Uint8Array {
  const g = new Uint8Array(64);
  g[0] = 0xff, g[9] = 0x7f, g[10] = 3, g[11] = 0;
  g.set(enc.encode("NULL"), 12);
  return g;
}

/** A short frame (`flags`, 1-byte size, body); the bodies sent here are under 256 bytes. */
function shortFrame(flags: number, body: Uint8Array): Uint8Array {
  const f = new Uint8Array(2 + body.length);
  f[0] = flags, f[1] = body.length;
  f.set(body, 2);
  return f;
}

/** The READY command of a SUB socket. */
function readyCommand(): Uint8Array {
  const name = enc.encode("Socket-Type"), value = enc.encode("SUB");
  const body = new Uint8Array(1 + 5 + 1 + name.length + 4 + value.length);
  body[0] = 5;
  body.set(enc.encode("READY"), 1);
  body[6] = name.length;
  body.set(name, 7);
  new DataView(body.buffer).setUint32(7 + name.length, value.length);
  body.set(value, 11 + name.length);
  return shortFrame(0x04, body);
}

/** The kernel's connection file, from `--conn FILE` on this process's command line. */
function connectionFile(): string | undefined {
  const args = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  const i = args.indexOf("--conn");
  return i >= 0 ? args[i + 1] : undefined;
}

/** A subscriber of the kernel's IOPub socket that sees the flush markers come back. */
export class IopubWatcher {
  #seen = 0;
  #waiters: { seq: number; resolve: () => void }[] = [];
  #closed = false;

  private constructor(private readonly conn: Deno.Conn) {}

  /**
   * Connects to the kernel's IOPub socket; undefined where that is not possible (no
   * connection file on the command line, no permission, not a ZMTP peer).
   */
  static async open(): Promise<IopubWatcher | undefined> {
    let conn: Deno.Conn | undefined;
    try {
      const file = connectionFile();
      if (file === undefined) return undefined;
      const info = JSON.parse(Deno.readTextFileSync(file));
      const hostname = info.ip === "0.0.0.0" || info.ip === "*" ? "127.0.0.1" : info.ip;
      conn = await Deno.connect({ hostname, port: info.iopub_port });
      const reader = new FrameReader(conn);
      await writeAll(conn, greeting());
      await reader.exact(64);
      await writeAll(conn, readyCommand());
      const ready = await reader.frame();
      if (!ready.command) throw new Error("no READY from the IOPub socket");
      await writeAll(conn, shortFrame(0, new Uint8Array([1]))); // subscribe to every topic
      const watcher = new IopubWatcher(conn);
      watcher.#listen(reader);
      conn.unref();
      return watcher;
    } catch {
      try {
        conn?.close();
      } catch { /* already closed */ }
      return undefined;
    }
  }

  async #listen(reader: FrameReader): Promise<void> {
    try {
      while (true) {
        const frames: Uint8Array[] = [];
        for (let f = await reader.frame();; f = await reader.frame()) {
          if (!f.command) frames.push(f.body);
          if (!f.more) break;
        }
        const d = frames.findIndex((f) =>
          f.length === DELIMITER.length && dec.decode(f) === DELIMITER
        );
        if (d < 0 || frames.length < d + 6) continue;
        const metadata = frames[d + 4];
        if (metadata.length > 256) continue; // markers carry a tiny metadata object
        const seq = (JSON.parse(dec.decode(metadata)) as Record<string, unknown>)[MARKER_KEY];
        if (typeof seq !== "number") continue;
        this.#seen = Math.max(this.#seen, seq);
        for (const w of this.#waiters.filter((w) => w.seq <= this.#seen)) w.resolve();
        this.#waiters = this.#waiters.filter((w) => w.seq > this.#seen);
      }
    } catch {
      this.#close();
    }
  }

  #close(): void {
    this.#closed = true;
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Whether the watcher still listens. */
  get open(): boolean {
    return !this.#closed;
  }

  /**
   * Sends marker `seq` through the kernel's queue and resolves true once it has come back, false
   * after `timeoutMs` (or when the connection ended).
   */
  async roundTrip(kernel: KernelBroadcast, seq: number, timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    const back = new Promise<void>((resolve) => this.#waiters.push({ seq, resolve }));
    await kernel.broadcast("comm_msg", { comm_id: COMM_ID, data: {} }, {
      metadata: { [MARKER_KEY]: seq },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, timeoutMs));
    await Promise.race([back, timeout]);
    clearTimeout(timer);
    return this.#seen >= seq;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Flushes the kernel's output queue: resolves once everything emitted before the call has been
 * written to the kernel's IOPub subscribers. The first call connects (retrying the marker until
 * the new subscription is in place); where the watcher cannot be used, it returns false and
 * the caller falls back to a timed wait.
 */
export class OutputFlusher {
  #watcher: Promise<IopubWatcher | undefined> | undefined;
  #seq = 0;
  #subscribed = false;
  #failed = false;

  constructor(private readonly kernel: KernelBroadcast) {}

  /** True when the outputs are known to be written, false when the caller must wait instead. */
  async flush(): Promise<boolean> {
    if (this.#failed) return false;
    this.#watcher ??= IopubWatcher.open();
    const watcher = await this.#watcher;
    if (!watcher?.open) return this.#fail();
    if (this.#subscribed) {
      if (await watcher.roundTrip(this.kernel, ++this.#seq, 10_000)) return true;
      return this.#fail();
    }
    // The kernel adds a subscriber once it has read its subscription, so the first markers may
    // go out before it listens: retry until one comes back.
    for (let attempt = 0; attempt < 40; attempt++) {
      if (await watcher.roundTrip(this.kernel, ++this.#seq, 250)) {
        this.#subscribed = true;
        return true;
      }
    }
    return this.#fail();
  }

  #fail(): false {
    this.#failed = true;
    return false;
  }
}
