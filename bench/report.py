"""Runs ctensor and its peers side by side and prints one table of ratios.

    report.py --build BUILD [--threads 1,2] [--rounds 5] [--quick]
              [--python PY] [--torch-python /usr/bin/python3] [--json OUT]

For each thread count T, with OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=T,
rounds alternate between two programs:
  BUILD/bench/ct_bench --threads T --rounds 1
      ctensor next to cblas_sgemm and plain C loops (a fresh process a round);
  PY bench/peers.py --threads T --serve
      numpy, torch and TensorFlow (one process that lives across the rounds,
      since importing them takes seconds).
Then it times whole processes: `BUILD/ctensor devices` against
`/usr/bin/python3 -c "import torch; print(torch.cuda.is_available())"`.

Every ratio is the median over rounds of the ratio measured in that round,
and is written so that the target reads the way the issue states it
(throughput ratios ctensor/peer, except per-call and per-process times,
which are time ratios ctensor/peer).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_lines(cmd, env):
    """Runs cmd, returns its JSON records; stderr passes through."""
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    recs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            recs.append(json.loads(line))
    if p.returncode != 0:
        recs.append({"bench": "error", "impl": os.path.basename(cmd[0]),
                     "note": "%s exited %d" % (" ".join(cmd), p.returncode)})
    return recs


def merge(recs):
    """Joins records of the same (bench, size, impl, threads) across rounds."""
    out, index = [], {}
    for r in recs:
        key = (r.get("bench"), r.get("size"), r.get("impl"), r.get("threads"))
        if "times" in r and key in index and "times" in index[key]:
            index[key]["times"] += r["times"]
        elif key in index and r.get("bench") in ("info", "end", "ready"):
            continue
        else:
            index[key] = dict(r)
            out.append(index[key])
    return out


def interleaved(args, t, env):
    """Rounds of ct_bench (a fresh process each, one round) alternating with
    rounds of a long-lived peers.py (its imports take seconds), so that both
    sides see the same machine, round by round."""
    quick = ["--quick"] if args.quick else []
    ct_cmd = [os.path.join(args.build, "bench", "ct_bench"), "--threads", str(t), "--rounds", "1"] + quick
    py_cmd = [args.python, os.path.join(HERE, "peers.py"), "--threads", str(t), "--serve"] + quick
    print("bench: %d thread(s): starting numpy, torch, tensorflow ..." % t, file=sys.stderr, flush=True)
    peers = subprocess.Popen(py_cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    recs = []

    def read_until(word):
        for line in peers.stdout:
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if rec["bench"] == word:
                return True
            recs.append(rec)
        return False

    alive = read_until("ready")
    for r in range(args.rounds):
        print("bench: %d thread(s): round %d/%d" % (t, r + 1, args.rounds), file=sys.stderr, flush=True)
        recs += run_lines(ct_cmd, env)
        if alive:
            peers.stdin.write("round\n")
            peers.stdin.flush()
            alive = read_until("end")
    peers.stdin.close()
    if peers.wait() != 0 or not alive:
        recs.append({"bench": "error", "impl": "peers.py", "threads": t,
                     "note": "peers.py exited %s" % peers.returncode})
    return merge(recs)


def time_process(cmd, runs):
    """Wall seconds of each run of a whole process (output discarded)."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as e:
            return None, "%s: %s" % (cmd[0], e.strerror)
        out.append(time.perf_counter() - t0)
        if p.returncode != 0:
            return None, "%s exited %d" % (" ".join(cmd), p.returncode)
    return out, None


class Table:
    def __init__(self):
        self.rows = []

    def add(self, bench, ct, peer, ratio, target, verdict):
        self.rows.append((bench, ct, peer, ratio, target, verdict))

    def text(self):
        head = ("benchmark", "ctensor", "peer", "ratio", "target", "result")
        widths = [max(len(str(r[i])) for r in self.rows + [head]) for i in range(6)]
        fmt = " | ".join("%%-%ds" % w for w in widths)
        lines = [fmt % head, "-+-".join("-" * w for w in widths)]
        lines += [fmt % r for r in self.rows]
        return "\n".join(lines)

    def markdown(self):
        head = ("benchmark", "ctensor", "peer", "ratio", "target", "result")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 6]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in self.rows]
        return "\n".join(lines)


def rate(rec):
    """Median throughput (work per second) of a record, or None."""
    if not rec or "times" not in rec:
        return None
    return rec["work"] / statistics.median(rec["times"])


def fmt_rate(rec, unit):
    r = rate(rec)
    if r is None:
        return "missing"
    scale, name = {"flop": (1e9, "GFLOP/s"), "byte": (1e9, "GB/s"),
                   "sample": (1e6, "M/s")}[unit]
    return "%.1f %s" % (r / scale, name)


def paired_ratio(a, b):
    """Median over rounds of rate(a)/rate(b), or None when either is missing."""
    if not a or not b or "times" not in a or "times" not in b:
        return None
    ta, tb = a["times"], b["times"]
    return statistics.median(tb[i] / ta[i] for i in range(min(len(ta), len(tb))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--torch-python", default="/usr/bin/python3")
    ap.add_argument("--json", help="also write every record here")
    ap.add_argument("--markdown", help="also write the table here as markdown")
    args = ap.parse_args()

    threads = [int(t) for t in args.threads.split(",")]
    recs = []
    for t in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t),
                   TF_CPP_MIN_LOG_LEVEL="3")
        recs += interleaved(args, t, env)

    # issue 4: whole-process start-up cost of device discovery
    print("bench: process start-up: ctensor devices vs import torch ...", file=sys.stderr, flush=True)
    cli = [os.path.join(args.build, "ctensor"), "devices"]
    torch_cmd = [args.torch_python, "-c", "import torch; print(torch.cuda.is_available())"]
    runs = max(args.rounds, 5)
    time_process(cli, 1)  # warm the page cache for both
    time_process(torch_cmd, 1)
    ct_times, ct_err = time_process(cli, runs)
    th_times, th_err = time_process(torch_cmd, runs)
    recs.append({"bench": "devices", "impl": "ctensor", "size": 0, "threads": 0, "work": 1,
                 "unit": "process", "times": ct_times, "note": ct_err})
    recs.append({"bench": "devices", "impl": "torch", "size": 0, "threads": 0, "work": 1,
                 "unit": "process", "times": th_times, "note": th_err})

    def find(bench, size, impl, t):
        for r in recs:
            if (r.get("bench"), r.get("size"), r.get("impl"), r.get("threads")) == (bench, size, impl, t):
                return r
        return None

    table = Table()
    n_pass = n_fail = 0

    def judge(value, op, target):
        nonlocal n_pass, n_fail
        if value is None:
            n_fail += 1
            return "FAIL (missing)"
        ok = value >= target if op == ">=" else value <= target
        if ok:
            n_pass += 1
        else:
            n_fail += 1
        return "PASS" if ok else "FAIL"

    def context(bench, size, t, ct, unit, peers, label):
        for p in peers:
            pr = find(bench, size, p, t)
            if pr is None or "times" not in pr:
                continue
            ratio = paired_ratio(ct, pr)
            table.add(label, fmt_rate(ct, unit), "%s %s" % (p, fmt_rate(pr, unit)),
                      "%.2fx" % ratio if ratio else "-", "-", "info")

    sizes = [512, 1024] if args.quick else [512, 1024, 2048, 4096]
    for t in threads:
        for n in sizes:
            label = "matmul f32 %d t%d" % (n, t)
            ct, blas, npy = find("matmul", n, "ctensor", t), find("matmul", n, "cblas", t), find("matmul", n, "numpy", t)
            r = paired_ratio(ct, blas)
            table.add(label, fmt_rate(ct, "flop"), "cblas_sgemm %s" % fmt_rate(blas, "flop"),
                      "%.3fx" % r if r else "-", ">= 0.95x", judge(r, ">=", 0.95))
            r = paired_ratio(ct, npy)
            table.add(label, fmt_rate(ct, "flop"), "numpy %s" % fmt_rate(npy, "flop"),
                      "%.3fx" % r if r else "-", ">= 1.00x", judge(r, ">=", 1.0))
            context("matmul", n, t, ct, "flop", ("torch", "tensorflow"), label)

    big = (64 << 20) // 16 if args.quick else 64 << 20
    for t in threads:
        ct, npy = find("add_tiny", 1, "ctensor", t), find("add_tiny", 1, "numpy", t)
        label = "add 1-element t%d (time/call)" % t

        def us(rec):
            return "%.3f us" % (statistics.median(rec["times"]) * 1e6) if rec and "times" in rec else "missing"
        r = paired_ratio(npy, ct)  # time ratio ct/numpy
        table.add(label, us(ct), "numpy %s" % us(npy), "%.3fx" % r if r else "-", "<= 0.50x",
                  judge(r, "<=", 0.5))
        for p in ("torch", "tensorflow"):
            pr = find("add_tiny", 1, p, t)
            if pr and "times" in pr:
                rr = paired_ratio(pr, ct)
                table.add(label, us(ct), "%s %s" % (p, us(pr)), "%.3fx" % rr if rr else "-", "-", "info")

        for bench, what, base_impl, base_name, target in (
                ("add_big", "add 64Mi f32 (alloc) t%d", "c_loop", "C loop (prealloc)", 0.9),
                ("sum_big", "sum 64Mi f32 t%d", "c_loop", "C loop", 0.9)):
            label = what % t
            ct, base = find(bench, big, "ctensor", t), find(bench, big, base_impl, t)
            r = paired_ratio(ct, base)
            table.add(label, fmt_rate(ct, "byte"), "%s %s" % (base_name, fmt_rate(base, "byte")),
                      "%.3fx" % r if r else "-", ">= %.2fx" % target, judge(r, ">=", target))
            context(bench, big, t, ct, "byte", ("numpy", "torch", "tensorflow"), label)

        label = "random_normal 64Mi f32 t%d" % t
        ct, npy = find("random_normal", big, "ctensor", t), find("random_normal", big, "numpy", t)
        r = paired_ratio(ct, npy)
        table.add(label, fmt_rate(ct, "sample"), "numpy %s" % fmt_rate(npy, "sample"),
                  "%.3fx" % r if r else "-", ">= 1.50x", judge(r, ">=", 1.5))
        context("random_normal", big, t, ct, "sample", ("torch", "tensorflow"), label)

    ct, th = recs[-2], recs[-1]
    r = None
    if ct.get("times") and th.get("times"):
        r = statistics.median(ct["times"]) / statistics.median(th["times"])
    table.add("process: ctensor devices", "%.1f ms" % (statistics.median(ct["times"]) * 1e3) if ct.get("times") else "missing",
              "import torch; cuda.is_available() %s" % ("%.0f ms" % (statistics.median(th["times"]) * 1e3) if th.get("times") else "missing"),
              "%.4fx" % r if r else "-", "<= 0.02x", judge(r, "<=", 0.02))

    print()
    for rec in recs:
        if rec.get("bench") in ("info", "error") or (rec.get("note") and "times" not in rec):
            print("note: [%s %s t%s] %s" % (rec.get("bench"), rec.get("impl"), rec.get("threads"), rec.get("note")))
    print()
    print(table.text())
    print()
    print("targets met: %d of %d (median of %d rounds; targets from issues 3 and 4)"
          % (n_pass, n_pass + n_fail, args.rounds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(recs, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table.markdown() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
