#!/usr/bin/env python3
"""`serve` under load (issue 18): wrk against POST /v1/query at concurrency 1, 8 and 64 with every
answer computed (Cache-Control: no-cache), then once answered from the cache, beside the
one-process-per-question CLI (`query --json`) on the same questions, in the same run. Samples the
server's RSS before and after every load. Prints a Markdown table.

    bench/serve_load.py INDEX QUERIES.jsonl [--seconds 20] [--questions 200] [--cli-questions 32]

QUERIES.jsonl: BEIR queries ({"_id", "text"}); the first --questions are used, cycled.
Needs wrk (apt-get install wrk) and the release build (.build/release/serve, query).
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

p = argparse.ArgumentParser()
p.add_argument("index"); p.add_argument("queries")
p.add_argument("--seconds", type=int, default=20)
p.add_argument("--questions", type=int, default=200)
p.add_argument("--cli-questions", type=int, default=32)
p.add_argument("--bin", default=".build/release")
a = p.parse_args()

questions = [json.loads(l)["text"] for l in open(a.queries, encoding="utf-8") if l.strip()][: a.questions]
work = tempfile.mkdtemp(prefix="serve-load-")
bodies = os.path.join(work, "bodies.txt")
with open(bodies, "w", encoding="utf-8") as f:
    for q in questions: f.write(json.dumps({"query": q}) + "\n")

lua = os.path.join(work, "post.lua")
open(lua, "w").write(r'''
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local i = 0
local extra = os.getenv("SERVE_LOAD_NOCACHE") == "1" and {["Cache-Control"] = "no-cache"} or {}
request = function()
  i = i %% #bodies + 1
  local headers = {["Content-Type"] = "application/json"}
  for k, v in pairs(extra) do headers[k] = v end
  return wrk.format("POST", "/v1/query", headers, bodies[i])
end
''' % bodies)

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return float("nan")

server = subprocess.Popen([f"{a.bin}/serve", a.index, "--port", "0", "--quiet", "--reload-interval", "0"],
                          stderr=subprocess.PIPE, text=True)
port = None
for line in server.stderr:
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if m: port = int(m.group(1)); print(line.strip(), file=sys.stderr); break
assert port, "serve did not start"
url = f"http://127.0.0.1:{port}"

def idle():
    """Waits until the server has nothing running or queued: wrk closes its connections at the end
    of a run, but the answers it asked for are still computed, and must not slow the next run."""
    import urllib.request
    deadline = time.time() + 600
    while time.time() < deadline:
        text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
        if re.search(r"^ragpipe_busy_requests 0$", text, re.M): return
        time.sleep(0.2)

def wrk(connections, nocache, seconds):
    idle()
    env = dict(os.environ, SERVE_LOAD_NOCACHE="1" if nocache else "0")
    out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "60s",
                          "--latency", "-s", lua, url], capture_output=True, text=True, env=env, timeout=seconds + 120).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1)); return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return rps, total, pct(50), pct(99), errors

import urllib.request

def ask(q, nocache=True):
    body = json.dumps({"query": q}).encode()
    headers = {"Content-Type": "application/json"}
    if nocache: headers["Cache-Control"] = "no-cache"
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url + "/v1/query", data=body, headers=headers), timeout=120) as r:
        ok = r.status == 200 and json.load(r)["version"] == 1
    return time.perf_counter() - t, ok

def cli(q):
    t = time.perf_counter()
    r = subprocess.run([f"{a.bin}/query", "--json", a.index, q], capture_output=True, text=True)
    return time.perf_counter() - t, r.returncode in (0, 84) and json.loads(r.stdout)["version"] == 1

def run_pass(fn, qs, c):
    idle()
    start = time.perf_counter()
    with ThreadPoolExecutor(c) as pool: results = list(pool.map(fn, qs))
    wall = time.perf_counter() - start
    lat = sorted(t for t, _ in results)
    return len(qs) / wall, statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000, len(qs), sum(1 for _, ok in results if not ok)

rows = []
# Warm-up: one pass, so the model and the index's pages are warm for every row alike.
run_pass(ask, questions[-16:], 2)     # questions no CLI row asks (the rows take them from the front)
rss = [rss_mb(server.pid)]
# The same questions through both, back to back, twice, so both see the same load on the machine.
# Each pair of rows gets questions of its own, asked once each: serve's memory of sentence vectors
# (and nothing else: no-cache) helps it only as far as different questions share their hits.
n = a.cli_questions
slices = iter(questions[i * n:(i + 1) * n] for i in range(4))
for round_ in (1, 2):
    for c in (1, 8):
        qs = next(slices)
        r = run_pass(cli, qs, c)
        rows.append((f"one `query --json` process per question, {c} at a time (round {round_})", *r, float("nan")))
        r = run_pass(ask, qs, c)
        rss.append(rss_mb(server.pid))
        rows.append((f"serve, the same questions, {c} client{'s' if c > 1 else ''} at a time (round {round_})", *r, rss[-1]))
for c in (1, 8, 64):
    rps, total, p50, p99, errors = wrk(c, True, a.seconds)
    rss.append(rss_mb(server.pid))
    rows.append((f"serve under wrk, computed (no-cache), {c} connection{'s' if c > 1 else ''}", rps, p50, p99, total, errors, rss[-1]))
# Every question answered once (cached), then wrk asks them again: L1 hits.
run_pass(lambda q: ask(q, nocache=False), questions, 2)
rps, total, p50, p99, errors = wrk(8, False, max(5, a.seconds // 2))
rss.append(rss_mb(server.pid))
rows.append(("serve under wrk, from the cache (L1), 8 connections", rps, p50, p99, total, errors, rss[-1]))
idle()
server.send_signal(signal.SIGTERM)
status = server.wait(timeout=60)

print(f"\n{len(questions)} SciFact questions (wrk cycles them; each CLI row and the serve row after it ask {n} others, once each); "
      f"{a.seconds} s per wrk run; {os.cpu_count()} cores; serve's RSS after warm-up {rss[0]:.0f} MB, at most {max(rss):.0f} MB; "
      f"serve exited {status} on SIGTERM\n")
print("| load | answers/s | P50 ms | P99 ms | requests | errors | serve RSS after (MB) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, rps, p50, p99, total, errors, r in rows:
    print(f"| {name} | {rps:,.1f} | {p50:,.1f} | {p99:,.1f} | {total:,} | {errors} | {'' if r != r else f'{r:.0f}'} |")
