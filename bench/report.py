"""Runs ctensor and its peers side by side and prints one table of ratios.

    report.py --build BUILD [--threads 1,2] [--rounds 5] [--quick]
              [--python PY] [--torch-python /usr/bin/python3]
              [--json OUT] [--markdown OUT]
    report.py --from-json OUT        (the table of an earlier run)

For each thread count T, with OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=T,
every case of every round runs in two programs, back to back:
  BUILD/bench/ct_bench --threads T --rounds 1 --only CASE
      ctensor next to cblas_sgemm and plain C loops (a fresh process each);
  PY bench/peers.py --threads T --serve
      numpy, torch and TensorFlow (one process that lives across the rounds,
      since importing them takes seconds; told "round CASE" on stdin).
Then it times whole processes: `BUILD/ctensor devices` against
`/usr/bin/python3 -c "import torch; print(torch.cuda.is_available())"`.

Training (issue 11), for each T: bench/train.py serves one framework per
process (ctensor from BUILD/python, TensorFlow eager, TensorFlow
tf.function, PyTorch), and every round runs one timed batch of steps of
each case in each of them, the order rotating from round to round. Then
fresh processes train 1,000 steps each, ctensor and torch alternately, for
the peak-memory rows.

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


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def merge(recs):
    """Joins records of the same (bench, size, impl, threads) across rounds.
    A round in which an implementation was missing or failed makes the whole
    record missing, with that round's note: a partial median would hide it."""
    out, index = [], {}
    for r in recs:
        key = (r.get("bench"), r.get("size"), r.get("impl"), r.get("threads"))
        have = index.get(key)
        if have is None:
            index[key] = dict(r)
            out.append(index[key])
        elif "times" in have and "times" in r:
            have["times"] = have["times"] + r["times"]
        elif "times" in have and r.get("bench") not in ("info", "error"):
            have.clear()
            have.update(r)
    return out


def case_names(quick):
    sizes = [512, 1024] if quick else [512, 1024, 2048, 4096]
    return ["matmul%d" % n for n in sizes] + ["add_tiny", "add_big", "sum_big", "random_normal"]


TRAIN_CASES = ("train_digits", "train_wide")
TRAIN_FRAMEWORKS = ("ctensor", "tf_eager", "tf_function", "torch")


def train_env(args, env):
    """ctensor's Python module is the one built in BUILD/python."""
    path = os.path.join(os.path.abspath(args.build), "python")
    return dict(env, PYTHONPATH=path + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))


def train_interleaved(args, t, env):
    """Every framework in its own long-lived bench/train.py process; each
    round asks each of them, in an order that rotates from round to round,
    for one timed batch of steps of a case, so that all four see the same
    machine within a few seconds."""
    env = train_env(args, env)
    quick = ["--quick"] if args.quick else []
    print("bench: %d thread(s): training: starting %s ..." % (t, ", ".join(TRAIN_FRAMEWORKS)),
          file=sys.stderr, flush=True)
    procs = {}
    for fw in TRAIN_FRAMEWORKS:
        cmd = [args.python, os.path.join(HERE, "train.py"), "--framework", fw, "--threads", str(t),
               "--serve"] + quick
        procs[fw] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    recs, alive = [], {}

    def read_until(fw, word):
        for line in procs[fw].stdout:
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if rec["bench"] == word:
                return True
            recs.append(rec)
        return False

    for fw in TRAIN_FRAMEWORKS:
        alive[fw] = read_until(fw, "ready")
    for r in range(args.rounds):
        print("bench: %d thread(s): training round %d/%d" % (t, r + 1, args.rounds), file=sys.stderr, flush=True)
        for case in TRAIN_CASES:
            k = r % len(TRAIN_FRAMEWORKS)
            for fw in TRAIN_FRAMEWORKS[k:] + TRAIN_FRAMEWORKS[:k]:
                if not alive[fw]:
                    continue
                procs[fw].stdin.write("round %s\n" % case)
                procs[fw].stdin.flush()
                alive[fw] = read_until(fw, "end")
    for fw in TRAIN_FRAMEWORKS:
        procs[fw].stdin.close()
        if procs[fw].wait() != 0 or not alive[fw]:
            recs.append({"bench": "error", "impl": "train.py " + fw, "threads": t,
                         "note": "train.py --framework %s exited %s" % (fw, procs[fw].returncode)})
    return merge(recs)


def train_memory(args, t, env):
    """Peak memory of a fresh 1,000-step run, ctensor and torch alternately
    (the order swapping per case)."""
    env = train_env(args, env)
    recs = []
    steps = "100" if args.quick else "1000"
    for i, case in enumerate(TRAIN_CASES):
        order = ("ctensor", "torch") if i % 2 == 0 else ("torch", "ctensor")
        for fw in order:
            print("bench: training memory: %s, %s steps, %s" % (case, steps, fw), file=sys.stderr, flush=True)
            cmd = [args.python, os.path.join(HERE, "train.py"), "--framework", fw, "--threads", str(t),
                   "--memory", case, "--steps", steps]
            got = run_lines(cmd, env)
            if not any(r.get("bench") == "mem_" + case for r in got):
                got.append({"bench": "mem_" + case, "impl": fw, "threads": t,
                            "note": "no result from %s" % " ".join(cmd[1:])})
            recs += got
    return recs


def interleaved(args, t, env):
    """Each round runs every case twice over, once in a fresh ct_bench (one
    round of that case only) and once in a long-lived peers.py (its imports
    take seconds), back to back, alternating which goes first; so ctensor
    and its peers see the same machine within seconds of each other, which
    matters on a 2-core machine that other work shares."""
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

    def peer_round(case):
        peers.stdin.write("round %s\n" % case)
        peers.stdin.flush()
        return read_until("end")

    alive = read_until("ready")
    for r in range(args.rounds):
        print("bench: %d thread(s): round %d/%d" % (t, r + 1, args.rounds), file=sys.stderr, flush=True)
        for case in case_names(args.quick):
            if r % 2 == 1 and alive:
                alive = peer_round(case)
            recs.extend(run_lines(ct_cmd + ["--only", case, "--first-round", str(r)], env))
            if r % 2 == 0 and alive:
                alive = peer_round(case)
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


def per_round(a, b):
    """rate(a)/rate(b) in each round, or [] when either is missing."""
    if not a or not b or not a.get("times") or not b.get("times"):
        return []
    ta, tb = a["times"], b["times"]
    return [tb[i] / ta[i] for i in range(min(len(ta), len(tb)))]


def paired_ratio(a, b):
    """Median over rounds of rate(a)/rate(b), or None when either is missing."""
    rs = per_round(a, b)
    return statistics.median(rs) if rs else None


def ratio_cell(a, b, digits=3):
    """'1.004x (0.980-1.020)': the median and the range over rounds."""
    rs = per_round(a, b)
    if not rs:
        return "-"
    return "%.*fx (%.*f-%.*f)" % (digits, statistics.median(rs), digits, min(rs), digits, max(rs))


PEER_NAMES = {"tf_eager": "TF eager", "tf_function": "TF tf.function", "torch": "torch"}


def train_rows(recs, find, table, judge):
    """Issue 11's rows: time per step of the digits MLP against TensorFlow
    eager (<= 0.25x) and PyTorch (<= 1.00x), throughput of the wide MLP
    against PyTorch (>= 0.95x), each at every thread count; the other
    peers as information; then the peak RSS of a 1,000-step run against
    PyTorch's (<= 1.00x)."""
    threads = sorted({r["threads"] for r in recs if r.get("bench") in TRAIN_CASES})

    def step_ms(rec):
        if not rec or not rec.get("times"):
            return "missing"
        return "%.3f ms" % (statistics.median(rec["times"]) * 1e3)

    def wide_cell(rec):
        if not rec or not rec.get("times"):
            return "missing"
        return "%.0f samples/s" % rate(rec)

    for t in threads:
        ct = find("train_digits", 32, "ctensor", t)
        label = "train digits MLP b32 t%d (time/step)" % t
        for peer, target in (("tf_eager", 0.25), ("torch", 1.0), ("tf_function", None)):
            pr = find("train_digits", 32, peer, t)
            r = paired_ratio(pr, ct)  # time ratio ctensor/peer
            if target is None:
                if pr and pr.get("times"):
                    table.add(label, step_ms(ct), "%s %s" % (PEER_NAMES[peer], step_ms(pr)),
                              ratio_cell(pr, ct), "-", "info")
                continue
            table.add(label, step_ms(ct), "%s %s" % (PEER_NAMES[peer], step_ms(pr)), ratio_cell(pr, ct),
                      "<= %.2fx" % target, judge(r, "<=", target))
        ct = find("train_wide", 256, "ctensor", t)
        label = "train wide MLP b256 t%d" % t
        for peer, target in (("torch", 0.95), ("tf_eager", None), ("tf_function", None)):
            pr = find("train_wide", 256, peer, t)
            r = paired_ratio(ct, pr)  # throughput ratio ctensor/peer
            if target is None:
                if pr and pr.get("times"):
                    table.add(label, wide_cell(ct), "%s %s" % (PEER_NAMES[peer], wide_cell(pr)),
                              ratio_cell(ct, pr), "-", "info")
                continue
            table.add(label, wide_cell(ct), "%s %s" % (PEER_NAMES[peer], wide_cell(pr)), ratio_cell(ct, pr),
                      ">= %.2fx" % target, judge(r, ">=", target))

    def mib(n):
        return "%.1f MiB" % (n / 1048576.0)

    for case, what in (("train_digits", "digits MLP"), ("train_wide", "wide MLP")):
        mem = [r for r in recs if r.get("bench") == "mem_" + case]
        if not mem:
            continue
        ct = next((r for r in mem if r.get("impl") == "ctensor"), {})
        th = next((r for r in mem if r.get("impl") == "torch"), {})
        steps = ct.get("work") or th.get("work") or 0
        label = "train %s %d steps t%s (peak RSS)" % (what, steps, ct.get("threads", th.get("threads", "?")))
        have = ct.get("peak_rss") and th.get("peak_rss")
        r = ct["peak_rss"] / th["peak_rss"] if have else None
        table.add(label, mib(ct["peak_rss"]) if ct.get("peak_rss") else "missing",
                  "torch %s" % (mib(th["peak_rss"]) if th.get("peak_rss") else "missing"),
                  "%.3fx" % r if r is not None else "-", "<= 1.00x", judge(r, "<=", 1.0))
        if have and ct.get("rss_before") and th.get("rss_before"):
            grow_ct, grow_th = ct["peak_rss"] - ct["rss_before"], th["peak_rss"] - th["rss_before"]
            table.add("train %s: peak RSS - RSS before step 1" % what, mib(grow_ct), "torch %s" % mib(grow_th),
                      "%.3fx" % (grow_ct / grow_th) if grow_th > 0 else "-", "-", "info")
        if ct.get("ct_peak") is not None:
            table.add("train %s: ctensor's counters (CPU:0)" % what,
                      "peak %s" % mib(ct["ct_peak"]),
                      "in use at the end %s, reserved %s" % (mib(ct.get("ct_current", 0)),
                                                             mib(ct.get("ct_reserved") or 0)),
                      "-", "-", "info")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--suite", default="ops,train",
                    help="comma-separated: ops (issues 3 and 4), train (issue 11)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--torch-python", default="/usr/bin/python3")
    ap.add_argument("--json", help="also write every record here")
    ap.add_argument("--markdown", help="also write the table here as markdown")
    ap.add_argument("--from-json", help="print the table of an earlier run's --json file")
    args = ap.parse_args()

    if args.from_json:
        with open(args.from_json) as f:
            recs = json.load(f)
    else:
        recs = measure(args)
    return render(args, recs)


def measure(args):
    threads = [int(t) for t in args.threads.split(",")]
    load_start = loadavg()
    recs = []
    suites = set(args.suite.split(","))
    for t in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t),
                   TF_CPP_MIN_LOG_LEVEL="3")
        if "ops" in suites:
            recs += interleaved(args, t, env)
        if "train" in suites:
            recs += train_interleaved(args, t, env)
    if "train" in suites:
        # One thread: the peak hardly depends on the thread count, and a
        # 1,000-step run is then not at the mercy of spinning workers on a
        # shared machine (torch's wide MLP on 2 busy cores: minutes).
        t = min(threads)
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), TF_CPP_MIN_LOG_LEVEL="3")
        recs += train_memory(args, t, env)
    if "ops" not in suites:
        recs.append(load_record(load_start))
        return recs

    # issue 4: whole-process start-up cost of device discovery
    print("bench: process start-up: ctensor devices vs import torch ...", file=sys.stderr, flush=True)
    cli = [os.path.join(args.build, "ctensor"), "devices"]
    torch_cmd = [args.torch_python, "-c", "import torch; print(torch.cuda.is_available())"]
    runs = max(args.rounds, 5)
    time_process(cli, 1)  # warm the page cache for both
    time_process(torch_cmd, 1)
    ct_times, th_times, ct_err, th_err = [], [], None, None
    for _ in range(runs):  # alternating, so that each pair sees the same machine
        ct_one, ct_err = time_process(cli, 1)
        th_one, th_err = time_process(torch_cmd, 1)
        if ct_err or th_err:  # shown in the notes; the row says "missing"
            ct_times, th_times = (None if ct_err else ct_times), (None if th_err else th_times)
            break
        ct_times += ct_one
        th_times += th_one
    recs.append({"bench": "devices", "impl": "ctensor", "size": 0, "threads": 0, "work": 1,
                 "unit": "process", "times": ct_times, "note": ct_err})
    recs.append({"bench": "devices", "impl": "torch", "size": 0, "threads": 0, "work": 1,
                 "unit": "process", "times": th_times, "note": th_err})
    recs.append(load_record(load_start))
    return recs


def load_record(load_start):
    return {"bench": "load", "impl": "", "size": 0, "threads": 0, "work": 0, "unit": "",
            "note": "load average (1 min) %s at the start, %s at the end; anything else "
                    "running on the %d CPU(s) lowers and scatters the numbers"
                    % (load_start, loadavg(), os.cpu_count())}


def render(args, recs):
    threads = sorted({r["threads"] for r in recs if r.get("bench") == "matmul"})
    sizes = sorted({r["size"] for r in recs if r.get("bench") == "matmul"})
    bigs = [r["size"] for r in recs if r.get("bench") == "add_big"]
    big = bigs[0] if bigs else 64 << 20
    rounds = max((len(r["times"]) for r in recs if r.get("times")), default=0)

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
                      ratio_cell(ct, pr), "-", "info")

    for t in threads:
        for n in sizes:
            label = "matmul f32 %d t%d" % (n, t)
            ct, blas = find("matmul", n, "ctensor", t), find("matmul", n, "cblas", t)
            npy = find("matmul", n, "numpy", t)
            r = paired_ratio(ct, blas)
            table.add(label, fmt_rate(ct, "flop"), "cblas_sgemm %s" % fmt_rate(blas, "flop"),
                      ratio_cell(ct, blas), ">= 0.95x", judge(r, ">=", 0.95))
            r = paired_ratio(ct, npy)
            table.add(label, fmt_rate(ct, "flop"), "numpy %s" % fmt_rate(npy, "flop"),
                      ratio_cell(ct, npy), ">= 1.00x", judge(r, ">=", 1.0))
            context("matmul", n, t, ct, "flop", ("torch", "tensorflow"), label)

    for t in threads:
        ct, npy = find("add_tiny", 1, "ctensor", t), find("add_tiny", 1, "numpy", t)
        label = "add 1-element t%d (time/call)" % t

        def us(rec):
            if not rec or not rec.get("times"):
                return "missing"
            return "%.3f us" % (statistics.median(rec["times"]) * 1e6)
        r = paired_ratio(npy, ct)  # time ratio ct/numpy
        table.add(label, us(ct), "numpy %s" % us(npy), ratio_cell(npy, ct), "<= 0.50x",
                  judge(r, "<=", 0.5))
        for p in ("torch", "tensorflow"):
            pr = find("add_tiny", 1, p, t)
            if pr and "times" in pr:
                table.add(label, us(ct), "%s %s" % (p, us(pr)), ratio_cell(pr, ct), "-", "info")

        for bench, what, base_impl, base_name, target in (
                ("add_big", "add 64Mi f32 (alloc) t%d", "c_loop", "C loop (prealloc)", 0.9),
                ("sum_big", "sum 64Mi f32 t%d", "c_loop", "C loop", 0.9)):
            label = what % t
            ct, base = find(bench, big, "ctensor", t), find(bench, big, base_impl, t)
            r = paired_ratio(ct, base)
            table.add(label, fmt_rate(ct, "byte"), "%s %s" % (base_name, fmt_rate(base, "byte")),
                      ratio_cell(ct, base), ">= %.2fx" % target, judge(r, ">=", target))
            context(bench, big, t, ct, "byte", ("numpy", "torch", "tensorflow"), label)

        label = "random_normal 64Mi f32 t%d" % t
        ct, npy = find("random_normal", big, "ctensor", t), find("random_normal", big, "numpy", t)
        r = paired_ratio(ct, npy)
        table.add(label, fmt_rate(ct, "sample"), "numpy %s" % fmt_rate(npy, "sample"),
                  ratio_cell(ct, npy), ">= 1.50x", judge(r, ">=", 1.5))
        context("random_normal", big, t, ct, "sample", ("torch", "tensorflow"), label)

    ct, th = find("devices", 0, "ctensor", 0) or {}, find("devices", 0, "torch", 0) or {}
    r = paired_ratio(th, ct)  # time ratio ctensor/torch

    def ms(rec):
        return "%.1f ms" % (statistics.median(rec["times"]) * 1e3) if rec.get("times") else "missing"
    if ct or th:
        table.add("process: ctensor devices", ms(ct), "import torch; cuda.is_available() %s" % ms(th),
                  ratio_cell(th, ct, 4), "<= 0.02x", judge(r, "<=", 0.02))

    train_rows(recs, find, table, judge)

    print()
    for rec in recs:
        if rec.get("bench") == "load":
            print("note: " + rec["note"])
        elif rec.get("bench") in ("info", "error") or (rec.get("note") and "times" not in rec):
            print("note: [%s %s t%s] %s" % (rec.get("bench"), rec.get("impl"), rec.get("threads"),
                                            rec.get("note")))
    print()
    print(table.text())
    print()
    print("targets met: %d of %d (median of %d rounds; targets from issues 3, 4 and 11)"
          % (n_pass, n_pass + n_fail, rounds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(recs, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table.markdown() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
