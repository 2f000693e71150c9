/**
 * The rating page: one static HTML document (CSS and JavaScript inline, nothing external) that
 * asks the server for where the rater stands (`GET /api/state`), shows one item at a time
 * (`GET /api/item/<i>`: its blinded examples), records each answer (`POST /api/rate`, answered
 * only once the line is on disk) and, when every item is rated, shows the revealed key and the
 * tallies (`GET /api/reveal`). The page holds no data of its own: reloading it, or opening it
 * after a restart of the server, continues at the first unrated item.
 *
 * Controls: the "yes", "maybe" and "no" buttons (keys y, m, n) record the answer with the
 * "context-free" box (key c) and the note, and move on; "previous" goes back one item to change
 * its answer (the last answer counts), "first unrated" returns. The body's `data-view`
 * (`rating` / `reveal`) and `data-item` tell tests where the page is.
 *
 * @module
 */

const CSS = `
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #fff; border-bottom: 1px solid #ddd; padding: 10px 24px; display: flex;
  align-items: baseline; gap: 24px; }
h1 { font-size: 18px; margin: 0; }
#progress { color: #555; font-size: 14px; }
#bar { height: 4px; background: #e5e5e5; } #bar > div { height: 4px; background: #1f77b4; width: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 24px 220px; }
h2 { font-size: 16px; margin: 16px 0 8px; } h3 { font-size: 14px; margin: 14px 0 6px; color: #444; }
.example { background: #fff; border: 1px solid #eee; border-radius: 4px; padding: 2px 8px; margin: 3px 0; }
.band-label { font-size: 12px; color: #666; margin: 8px 0 2px; }
#rate-form { position: fixed; bottom: 0; left: 0; right: 0; background: #fff; border-top: 1px solid #ccc;
  padding: 10px 24px; box-shadow: 0 -2px 6px rgba(0,0,0,0.06); }
#rate-form .row { max-width: 1100px; margin: 0 auto; display: flex; gap: 12px; align-items: center;
  flex-wrap: wrap; }
#note { flex: 1; min-width: 240px; height: 36px; font: inherit; font-size: 13px; }
button { font: inherit; font-size: 14px; padding: 6px 14px; border-radius: 4px; border: 1px solid #999;
  background: #f4f4f4; cursor: pointer; }
button.rate { font-weight: 600; min-width: 72px; }
button.rate.chosen { outline: 2px solid #1f77b4; }
button:disabled { opacity: 0.5; cursor: default; }
#status { font-size: 13px; color: #555; min-height: 1.2em; max-width: 1100px; margin: 6px auto 0; }
#status.error { color: #b00; font-weight: 600; }
.hint { font-size: 13px; color: #555; }
kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 4px; font-size: 12px; }
#tallies td:not(:nth-child(2)), #tallies th { white-space: nowrap; }
[hidden] { display: none !important; }
`;

/** The page's script: plain browser JavaScript, no modules, no globals left behind. */
const SCRIPT = String.raw`(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  let current = null, total = 0, busy = false;

  async function api(path, init) {
    let response;
    try {
      response = await fetch(path, { cache: "no-store", ...init });
    } catch {
      throw new Error("the server cannot be reached (is it still running?): nothing was recorded; restart it and reload this page");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || (response.status + " " + response.statusText));
    return data;
  }

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function setBusy(on) {
    busy = on;
    for (const b of document.querySelectorAll("#rate-form button")) b.disabled = on;
    if (!on) $("previous").disabled = current === null || current === 0;
  }

  function progress(state) {
    total = state.total;
    $("progress").textContent = state.rated + " of " + state.total + " rated";
    $("bar").firstElementChild.style.width = (100 * state.rated / Math.max(1, state.total)) + "%";
  }

  function examples(list) {
    const frag = document.createDocumentFragment();
    for (const html of list) {
      const div = document.createElement("div");
      div.className = "example";
      div.innerHTML = html; // token HTML made by the server (escaped there)
      frag.append(div);
    }
    return frag;
  }

  async function show(item) {
    const data = await api("/api/item/" + item);
    current = data.item;
    progress(data.state);
    $("item-title").textContent = "Feature " + (data.item + 1) + " of " + data.state.total;
    $("top-examples").replaceChildren(examples(data.view.top));
    const bands = document.createDocumentFragment();
    for (const band of data.view.bands) {
      const label = document.createElement("div");
      label.className = "band-label";
      label.textContent = band.label;
      bands.append(label, examples(band.examples));
    }
    $("band-examples").replaceChildren(bands);
    const answer = data.answer;
    $("context-free").checked = answer ? answer.contextFree : false;
    $("note").value = answer ? answer.note : "";
    for (const b of document.querySelectorAll("button.rate")) {
      b.classList.toggle("chosen", !!answer && b.dataset.rating === answer.rating);
    }
    $("resume").hidden = !answer || data.state.next === null || data.state.next === data.item;
    $("rating-view").hidden = false;
    $("rate-form").hidden = false;
    body.dataset.view = "rating";
    body.dataset.item = String(data.item);
    window.scrollTo(0, 0);
  }

  async function reveal() {
    const data = await api("/api/reveal");
    $("rating-view").hidden = true;
    $("rate-form").hidden = true;
    $("progress").textContent = "all " + data.state.total + " rated";
    $("bar").firstElementChild.style.width = "100%";
    $("tallies").innerHTML = data.tableHtml;
    $("chart").innerHTML = data.chartSvg;
    $("key").innerHTML = data.keyHtml;
    $("results-path").textContent = data.resultsFile;
    $("reveal-view").hidden = false;
    body.dataset.view = "reveal";
    delete body.dataset.item;
  }

  async function go(state) {
    if (state.complete) await reveal();
    else await show(state.next);
  }

  async function rate(rating) {
    if (busy || current === null) return;
    setBusy(true);
    status("saving...");
    try {
      const answer = { item: current, rating, contextFree: $("context-free").checked, note: $("note").value };
      const data = await api("/api/rate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(answer),
      });
      status("saved: feature " + (answer.item + 1) + " " + rating);
      await go(data.state);
    } catch (e) {
      status("not saved: " + e.message, true);
    } finally {
      setBusy(false);
    }
  }

  async function step(fn) {
    if (busy) return;
    setBusy(true);
    try {
      await fn();
      status("");
    } catch (e) {
      status(e.message, true);
    } finally {
      setBusy(false);
    }
  }

  for (const b of document.querySelectorAll("button.rate")) {
    b.addEventListener("click", () => rate(b.dataset.rating));
  }
  $("previous").addEventListener("click", () => step(() => show(Math.max(0, current - 1))));
  $("resume").addEventListener("click", () => step(async () => go(await api("/api/state"))));
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLTextAreaElement || e.ctrlKey || e.metaKey || e.altKey) return;
    if (body.dataset.view !== "rating") return;
    const rating = { y: "yes", m: "maybe", n: "no" }[e.key];
    if (rating) rate(rating);
    else if (e.key === "c") $("context-free").checked = !$("context-free").checked;
  });

  step(async () => go(await api("/api/state"))).then(() => { body.dataset.ready = "1"; });
})();`;

/**
 * The rating page (see the module notes): static, the same for every session.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ratingPageHtml } from "./page.ts";
 * const html = ratingPageHtml();
 * html.startsWith("<!DOCTYPE html>"); // true
 * assert.ok(["rate-yes", "rate-maybe", "rate-no", "context-free", "note"].every((id) => html.includes(`id="${id}"`)));
 * assert.ok(!/<script[^>]+src=|<link|https?:\/\//.test(html)); // nothing external
 * ```
 */
export function ratingPageHtml(): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Blind feature rating</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>Blind feature rating</h1><span id="progress"></span></header>
<div id="bar"><div></div></div>
<main>
<section id="rating-view" hidden>
<h2 id="item-title"></h2>
<p class="hint">Features of two dictionaries, shuffled; which is which is revealed once every
feature is rated. Activations are shown relative to each feature's own maximum (darker is
stronger; the example's token is outlined). Is the feature interpretable? Keys: <kbd>y</kbd>
<kbd>m</kbd> <kbd>n</kbd> answer, <kbd>c</kbd> toggles context-free.</p>
<h3>Top activating examples</h3>
<div id="top-examples"></div>
<h3>Examples across activation bands</h3>
<div id="band-examples"></div>
</section>
<section id="reveal-view" hidden>
<h2>Results</h2>
<div id="tallies"></div>
<div id="chart"></div>
<p class="hint">Written to <code id="results-path"></code> in the session folder.</p>
<h3>The key</h3>
<div id="key"></div>
</section>
</main>
<form id="rate-form" hidden>
<div class="row">
<span>Interpretable?</span>
<button type="button" class="rate" id="rate-yes" data-rating="yes">yes</button>
<button type="button" class="rate" id="rate-maybe" data-rating="maybe">maybe</button>
<button type="button" class="rate" id="rate-no" data-rating="no">no</button>
<label><input type="checkbox" id="context-free"> context-free (a single-token feature that ignores its context)</label>
<textarea id="note" maxlength="2000" placeholder="note (optional)"></textarea>
<button type="button" id="previous">previous</button>
<button type="button" id="resume" hidden>first unrated</button>
</div>
<div id="status" role="status"></div>
</form>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
