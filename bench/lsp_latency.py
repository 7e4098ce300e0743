#!/usr/bin/env python3
"""Diagnostics latency of `qdx lsp` per keystroke, on generated 2,000- and 10,000-line campaigns.

Two shapes of campaign: `gen_lsp.py` (the orange example's rig, grown by parameters, derived
values, safety limits and proxies, as a long hand-written campaign grows) and `gen_10k.py` (the
`qdx check` benchmark's, grown by pumps: the validator's worst case, see gen_lsp.py).

Starts the release binary's language server (debounce off, so the figure is the server's own
work: the editor's debounce comes on top), opens a campaign from `bench/gen_10k.py`, then
types: each keystroke is one `didChange` of one character, and the time is from sending it to
receiving the `publishDiagnostics` for that version. Three kinds of keystroke, each repeated:

  value   a digit of a variable's range changes (the campaign still checks: full load,
          validation with every bound proven again, diagnostics)
  broken  a character that leaves a line half-typed (a syntax error: every block parsed on its
          own, the broken one reported); the keystroke that mends it again is not timed
  comment a letter typed in a comment (the whole analysis runs again all the same)

Prints the median, min and max in ms for each, next to `qdx check` on the same file (a new
process each time, so it includes start-up) as a peer measured the same way.

    python3 bench/lsp_latency.py            # builds release first
    RUNS=31 python3 bench/lsp_latency.py
    ONLY=gen_lsp python3 bench/lsp_latency.py   # one shape alone
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get("RUNS", "21"))
# The pump-heavy campaigns take seconds per keystroke (see gen_lsp.py): fewer repeats.
RUNS_PUMPS = int(os.environ.get("RUNS_PUMPS", "5"))
QDX = os.environ.get("QDX", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "qdx"))


class Server:
    def __init__(self):
        self.p = subprocess.Popen([QDX, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 1

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self):
        length = None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise EOFError("qdx lsp closed its output")
            line = line.strip()
            if not line:
                break
            if line.startswith(b"Content-Length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def request(self, method, params):
        i = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        while True:
            m = self.read()
            if m.get("id") == i:
                return m

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, version):
        while True:
            m = self.read()
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == version:
                return m["params"]["diagnostics"]

    def close(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        self.p.wait(timeout=30)


def position(text, offset):
    before = text[:offset]
    line = before.count("\n")
    col = len(before.rsplit("\n", 1)[-1].encode("utf-16-le")) // 2
    return {"line": line, "character": col}


def bench(path, anchors, runs):
    text = open(path).read()
    uri = "file://" + path
    s = Server()
    s.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                             "initializationOptions": {"debounceMs": 0}})
    s.notify("initialized", {})
    t0 = time.perf_counter()
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "qdx", "version": 1, "text": text}})
    first = s.diagnostics(1)
    open_ms = (time.perf_counter() - t0) * 1000
    assert not [d for d in first if d["severity"] == 1], first[:3]
    version = 1
    results = {}
    # Where each kind of keystroke lands.
    value_at = text.index("residence : time in ") + len("residence : time in ")  # a digit
    digit = text[value_at]
    broken_at = text.index(anchors["broken"]) + len(anchors["broken"])
    comment_at = text.index(anchors["comment"]) + len(anchors["comment"])
    for kind, at, keys in [
        ("value", value_at, ["4" if digit != "4" else "6", digit]),  # 5 s -> 4 s -> 5 s, …
        ("broken", broken_at, ["=", None]),   # `p0.rate = = …`, then deleted again
        ("comment", comment_at, ["x", None]),
    ]:
        times = []
        current = text
        for k in range(runs):
            key = keys[k % 2]
            version += 1
            if key is None:  # delete the character typed before
                rng = {"start": position(current, at), "end": position(current, at + 1)}
                change = {"range": rng, "text": ""}
                current = current[:at] + current[at + 1:]
            elif kind == "value":  # replace the digit
                rng = {"start": position(current, at), "end": position(current, at + 1)}
                change = {"range": rng, "text": key}
                current = current[:at] + key + current[at + 1:]
            else:
                rng = {"start": position(current, at), "end": position(current, at)}
                change = {"range": rng, "text": key}
                current = current[:at] + key + current[at:]
            t = time.perf_counter()
            s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                "contentChanges": [change]})
            d = s.diagnostics(version)
            # `broken` times the keystroke that breaks the line, not the one that mends it.
            if kind != "broken" or key is not None:
                times.append((time.perf_counter() - t) * 1000)
            if kind == "broken" and key is not None:
                assert any(x["code"].startswith("qdx::syntax::") for x in d), d[:3]
        # Leave the text as it was for the next kind.
        if current != text:
            version += 1
            s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                "contentChanges": [{"text": text}]})
            s.diagnostics(version)
        results[kind] = times
    # Hover on a derived pump rate, for scale.
    hover = []
    pos = position(text, text.index(anchors["hover"]) + len(anchors["hover"]) - 2)
    for _ in range(runs):
        t = time.perf_counter()
        s.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos})
        hover.append((time.perf_counter() - t) * 1000)
    results["hover"] = hover
    s.close()
    check = []
    for _ in range(max(3, runs // 3)):
        t = time.perf_counter()
        subprocess.run([QDX, "check", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        check.append((time.perf_counter() - t) * 1000)
    results["qdx check (peer)"] = check
    return open_ms, results


def main():
    if "QDX" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    shaped = {"broken": "  q0 = ", "comment": "// dilution factor of line 0", "hover": "  p_seed.rate"}
    pumps = {"broken": "  p0.rate = ", "comment": "// stock 0:", "hover": "  p0.rate"}
    only = os.environ.get("ONLY")  # `gen_lsp` or `gen_10k`: one shape alone
    for script, n, anchors, runs in [
        ("gen_lsp.py", 2000, shaped, RUNS),
        ("gen_lsp.py", 10000, shaped, RUNS),
        ("gen_10k.py", 294, pumps, RUNS_PUMPS),
        ("gen_10k.py", 1620, pumps, RUNS_PUMPS),
    ]:
        if only and not script.startswith(only):
            continue
        path = os.path.join(work, f"bench-{script[:-3]}-{n}.qdx")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), str(n)], stdout=f, check=True)
        lines = sum(1 for _ in open(path))
        open_ms, results = bench(path, anchors, runs)
        print(f"{lines}-line campaign (bench/{script} {n}): didOpen to diagnostics {open_ms:.1f} ms")
        for kind, times in results.items():
            print(f"  {kind:18} median {statistics.median(times):7.1f} ms  (min {min(times):.1f}, max {max(times):.1f}, {len(times)} runs)")


if __name__ == "__main__":
    main()
