"""Sets TensorFlow's and ctensor's observations side by side and fails on
any difference that docs/tf-differences.md does not list.

    python compare.py TF_OUTPUT CT_OUTPUT DIFFERENCES_MD

Both outputs hold `scenario<TAB>key<TAB>value` lines (other lines, such as
TensorFlow's own placer printout, are ignored). Values of one (scenario,
key) are joined in order, so log lines are compared as a sequence. An
`error` matches when ctensor's message starts with TensorFlow's: ctensor
may add detail after TensorFlow's text (D-ERROR-DETAIL), never change it.
A difference is accepted when its scenario id appears in the first column
of the table in docs/tf-differences.md.
"""
import re
import sys


def load(path):
    seen = {}
    order = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            key = (parts[0], parts[1])
            if key not in seen:
                seen[key] = []
                order.append(key)
            seen[key].append(parts[2])
    return seen, order


def documented(path):
    """Scenario ids from the first column of the differences table: cells
    like `strict.job_foo` (several may share a row, comma-separated)."""
    ids = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*(`[^|]*`)\s*\|\s*([^|]*)\|", line)
            if not m:
                continue
            for sid in re.findall(r"`([^`]+)`", m.group(1)):
                ids[sid] = m.group(2).strip()
    return ids


def same(key, tf_vals, ct_vals):
    if key[1] == "error" and len(tf_vals) == 1 and len(ct_vals) == 1:
        return ct_vals[0].startswith(tf_vals[0])
    return tf_vals == ct_vals


def main():
    tf, tf_order = load(sys.argv[1])
    ct, ct_order = load(sys.argv[2])
    listed = documented(sys.argv[3])
    keys = tf_order + [k for k in ct_order if k not in tf]
    failed = undocumented = differ = 0
    width = 0
    for key in keys:
        tf_vals, ct_vals = tf.get(key, ["(nothing)"]), ct.get(key, ["(nothing)"])
        ok = same(key, tf_vals, ct_vals)
        sid = key[0]
        if ok:
            verdict = "same"
        elif sid in listed:
            note = listed[sid]
            verdict = "DIFFERENT (documented: %s)" % (note if len(note) <= 90 else note[:87] + "...")
            differ += 1
        else:
            verdict = "DIFFERENT (NOT DOCUMENTED)"
            undocumented += 1
        print(f"== {sid} [{key[1]}]: {verdict}")
        if not ok or key[1] in ("device", "log", "output"):
            n = max(len(tf_vals), len(ct_vals))
            for i in range(n):
                print(f"   tensorflow: {tf_vals[i] if i < len(tf_vals) else '(nothing)'}")
                print(f"   ctensor:    {ct_vals[i] if i < len(ct_vals) else '(nothing)'}")
        width += 1
    if not tf:
        print("FAIL: no TensorFlow observations")
        failed = 1
    if not ct:
        print("FAIL: no ctensor observations")
        failed = 1
    print(f"\n{width} observations: {width - differ - undocumented} same, {differ} documented differences, "
          f"{undocumented} undocumented differences")
    return 1 if (failed or undocumented) else 0


if __name__ == "__main__":
    sys.exit(main())
