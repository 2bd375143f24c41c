/// `GET /`: one self-contained page (no build step, no external assets). It posts the question to
/// `/v1/query` and shows the answer with each `[n]` linked to its source (path, byte span, heading
/// path), the hits with their scores, and an abstention or escalation said plainly. `/?q=…` asks
/// at once (links, and the headless-browser test). Every text from the index is set with
/// `textContent`, never parsed as HTML.
enum SearchPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ragpipe search</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
  form { display: flex; gap: .5rem; }
  input[type=search] { flex: 1; font-size: 1.1rem; padding: .5rem .7rem; border: 1px solid #999; border-radius: 6px; }
  input[type=password] { width: 12rem; padding: .5rem; border: 1px solid #999; border-radius: 6px; }
  button { font-size: 1rem; padding: .5rem 1rem; border-radius: 6px; border: 1px solid #555; background: #f2f2f2; cursor: pointer; }
  #status { color: #666; min-height: 1.5rem; margin: .5rem 0; }
  #answer { font-size: 1.1rem; padding: 1rem; border-left: 4px solid #2a7; background: #f4fbf7; white-space: pre-wrap; }
  #answer.abstained { border-color: #c80; background: #fff8ec; }
  #answer.escalated { border-color: #c33; background: #fff0f0; }
  .notice { font-weight: 600; margin: .5rem 0; }
  .cite { font-size: .8em; vertical-align: super; text-decoration: none; }
  ol { padding-left: 1.5rem; }
  .where { font-family: ui-monospace, monospace; font-size: .9em; }
  .heading { color: #555; }
  .score { font-family: ui-monospace, monospace; color: #333; }
  .snippet { color: #444; font-size: .92em; }
  li:target { background: #ffffcc; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<h1>ragpipe search</h1>
<form id="ask">
  <input type="search" id="q" name="q" placeholder="Ask the index a question" autofocus required>
  <input type="password" id="key" placeholder="API key" hidden>
  <button type="submit">Ask</button>
</form>
<div id="status"></div>
<section id="result" hidden>
  <div id="notice" class="notice" hidden></div>
  <div id="answer"></div>
  <h2 id="sources-title">Sources</h2>
  <ol id="sources"></ol>
  <h2>Hits</h2>
  <ol id="hits"></ol>
</section>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
let needsKey = false;

fetch("/healthz").then(r => r.json()).then(h => {
  needsKey = !!h.auth;
  $("key").hidden = !needsKey;
  if (needsKey) $("key").value = sessionStorage.getItem("ragpipe-key") || "";
}).catch(() => {});

function where(c) { return c.source + ":" + c.start + "-" + c.end; }

// The answer's text with each [n] turned into a link to source n.
function renderAnswer(text, numbers) {
  const box = $("answer");
  box.replaceChildren();
  const re = /\[(\d+)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    box.append(document.createTextNode(text.slice(last, m.index)));
    const n = m[1];
    if (numbers.has(Number(n))) {
      const a = el("a", "cite", "[" + n + "]");
      a.href = "#source-" + n;
      box.append(a);
    } else {
      box.append(document.createTextNode(m[0]));
    }
    last = re.lastIndex;
  }
  box.append(document.createTextNode(text.slice(last)));
}

function show(r, cache) {
  const hitsByRank = new Map(r.hits.map(h => [h.rank, h]));
  const numbers = new Set(r.citations.map(c => c.n));
  renderAnswer(r.answer, numbers);
  const answer = $("answer");
  answer.className = r.escalated ? "escalated" : r.abstained ? "abstained" : "";
  const notice = $("notice");
  notice.hidden = !(r.abstained || r.escalated || r.grounded === false);
  notice.textContent = r.escalated ? "Escalated: the answer could not be verified against the sources; ask a person."
    : r.abstained ? "No answer: the index does not seem to hold one (abstained). The closest sources are below."
    : r.grounded === false ? "Warning: this answer is not fully supported by the sources it cites." : "";
  $("sources-title").textContent = r.abstained ? "Closest sources" : "Sources";
  const sources = $("sources");
  sources.replaceChildren();
  for (const c of r.citations) {
    const li = el("li");
    li.id = "source-" + c.n;
    li.value = c.n;
    li.append(el("span", "where", where(c)));
    const h = hitsByRank.get(c.n);
    const path = h && h.headings && h.headings.length ? h.headings.join(" › ") : c.title;
    if (path) li.append(el("span", "heading", "  § " + path));
    sources.append(li);
  }
  const hits = $("hits");
  hits.replaceChildren();
  for (const h of r.hits) {
    const li = el("li");
    li.append(el("span", "score", h.score.toFixed(3) + " (cosine " + h.similarity.toFixed(3) + ")  "));
    li.append(el("span", "where", h.source + ":" + h.start + "-" + h.end));
    if (h.headings && h.headings.length) li.append(el("span", "heading", "  § " + h.headings.join(" › ")));
    const text = h.text.replace(/\s+/g, " ");
    li.append(el("div", "snippet", text.length > 240 ? text.slice(0, 240) + "…" : text));
    hits.append(li);
  }
  $("result").hidden = false;
  const t = r.timings_ms ? " in " + r.timings_ms.total.toFixed(1) + " ms" : "";
  const cached = cache === "l1" ? " (from the cache: the same question)" : cache === "l2" ? " (from the cache: a question worded alike)" : "";
  $("status").textContent = r.hits.length + " hits" + t + cached;
  document.body.dataset.state = "answered";
}

async function ask(q) {
  $("status").textContent = "Searching…";
  document.body.dataset.state = "searching";
  const headers = { "Content-Type": "application/json" };
  const key = $("key").value;
  if (needsKey && key) { headers["Authorization"] = "Bearer " + key; sessionStorage.setItem("ragpipe-key", key); }
  try {
    const response = await fetch("/v1/query", { method: "POST", headers, body: JSON.stringify({ query: q }) });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    show(body, response.headers.get("X-RagPipe-Cache"));
  } catch (e) {
    $("result").hidden = true;
    $("status").textContent = "Error: " + e.message;
    document.body.dataset.state = "error";
  }
}

$("ask").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  history.replaceState(null, "", "?q=" + encodeURIComponent(q));
  ask(q);
});

const initial = new URLSearchParams(location.search).get("q");
if (initial) { $("q").value = initial; $("ask").requestSubmit(); }
</script>
</body>
</html>
"""#
}
