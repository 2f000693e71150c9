/**
 * The worker of guarded_campaign.ts: runs one target's campaign (campaign.ts) and posts each
 * input's result. A failure is followed up before it is settled: when its error named no frame
 * in lib/, the input runs again with whole stack traces to find where it was thrown; the first
 * failures of each kind are minimised. Before each step (making an input, loading it, locating,
 * each minimisation attempt) the worker writes the heartbeat that lets the parent spot a hang.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { execute, failureKind, runTarget } from "./campaign.ts";
import { STEPS, type WorkerJob, type WorkerMessage } from "./guarded_campaign.ts";
import { minimise, sameFailure } from "./minimise.ts";
import { isFailure } from "./outcome.ts";
import type { Target } from "./targets.ts";

self.onmessage = async (e: MessageEvent<WorkerJob>) => {
  const job = e.data;
  const { TARGETS } = await import(job.targets) as { TARGETS: readonly Target[] };
  const target = TARGETS.find((t) => t.name === job.target)!;
  const beat = new Float64Array(job.heartbeat);
  const kinds = new Map(Object.entries(job.minimisedKinds));
  const post = (m: WorkerMessage) => self.postMessage(m);
  const alive = (index: number, step: keyof typeof STEPS) => {
    beat[0] = index;
    beat[1] = Date.now();
    beat[2] = STEPS[step];
  };
  await runTarget(target, {
    ...job,
    onStep: alive,
    async onResult({ input, ...ran }, result, rerun) {
      if (!isFailure(result.outcome)) return post({ type: "result", ran, result, rerun });
      post({ type: "result", ran, result, rerun, input });
      if (
        !result.where &&
        (result.outcome === "stack-overflow" || result.outcome === "internal-error")
      ) {
        alive(ran.index, "locate");
        const again = await execute(target, input, job.scratch, job.budget, Infinity);
        if (again.outcome === result.outcome && again.where) {
          post({ type: "located", where: again.where });
        }
      }
      const kind = failureKind({ parser: target.name, ...result });
      const seen = kinds.get(kind) ?? 0;
      kinds.set(kind, seen + 1);
      if (seen < job.minimise) {
        const same = sameFailure(target, job.scratch, result, job.budget);
        const small = await minimise(input, (candidate) => {
          alive(ran.index, "minimise");
          return same(candidate);
        });
        post({ type: "minimised", input: small.input });
      }
      post({ type: "settled" });
    },
  });
  post({ type: "done" });
};
