"""Sets TensorFlow's and ctensor's gradients side by side (gradients.py's
output) and fails on any difference beyond float tolerance that
docs/tf-differences.md does not list.

    python compare_gradients.py TF_OUTPUT CT_OUTPUT DIFFERENCES_MD

One line per observation (`CASE:MODE/KEY`): `same` with the largest
absolute and relative error, or what differs. Tensors agree when their
dtype and shape are equal and every element satisfies
|ct - tf| <= atol + rtol * |tf| (NumPy's allclose, TensorFlow's value as
the reference): rtol 1e-5, atol 1e-6 for float32; rtol 1e-12, atol 1e-14
for float64. NaN matches NaN, an infinity the same infinity. None matches
only None. An exception matches when the type names are equal (or
TensorFlow's is a built-in class ctensor's derives from) and ctensor's
message starts with TensorFlow's (D-ERROR-DETAIL; `<ctensor.Tensor` in a
message reads as `<tf.Tensor`). A difference is
accepted when `gradients.CASE`, `gradients.CASE:MODE` or
`gradients.CASE:MODE/KEY` is in the first column of a table in
DIFFERENCES_MD.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import documented  # noqa: E402

TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14), "float16": (1e-3, 1e-3), "bfloat16": (1e-2, 1e-2)}


def load(path, kind="gradients"):
    seen, order = {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0] != kind:
                continue
            try:
                value = json.loads(parts[2])
            except ValueError:
                value = {"error": "unreadable", "message": parts[2]}
            if parts[1] not in seen:
                order.append(parts[1])
            seen[parts[1]] = value
    return seen, order


def brief(v):
    """A short form of an observation for the report."""
    if v is None:
        return "(nothing)"
    if v.get("none"):
        return "None"
    if "error" in v:
        return "%s: %s" % (v["error"], v.get("message", v.get("detail", "")))
    if "structure" in v:
        return v["structure"]
    vals = v["values"]
    shown = ", ".join("%.9g" % x for x in vals[:8]) + (", ..." if len(vals) > 8 else "")
    return "%s%s [%s]" % (v["dtype"], v["shape"], shown)


def compare(tf, ct):
    """(ok, why, max_abs, max_rel, worst_index, max_used): max_used is the
    largest err / (atol + rtol * |tf|), the share of the tolerance used."""
    if tf is None or ct is None:
        return False, "only one side has it", None, None, None, None
    if "error" in tf or "error" in ct:
        if "error" not in tf or "error" not in ct:
            return False, "an exception on one side only", None, None, None, None
        same_type = tf["error"] == ct["error"] or tf["error"] in ct.get("bases", [])
        if not same_type:
            return False, "exception types differ", None, None, None, None
        # A tensor's repr in a message names its class's module.
        ct_msg = ct.get("message", "").replace("<ctensor.Tensor", "<tf.Tensor")
        if not ct_msg.startswith(tf.get("message", "")):
            return False, "messages differ", None, None, None, None
        return True, "", None, None, None, None
    if "structure" in tf or "structure" in ct:
        return (tf == ct), ("" if tf == ct else "structures differ"), None, None, None, None
    if tf.get("none") or ct.get("none"):
        ok = bool(tf.get("none")) == bool(ct.get("none"))
        return ok, ("" if ok else "None on one side only"), None, None, None, None
    if tf["dtype"] != ct["dtype"]:
        return False, "dtypes differ", None, None, None, None
    if tf["shape"] != ct["shape"] or len(tf["values"]) != len(ct["values"]):
        return False, "shapes differ", None, None, None, None
    rtol, atol = TOLERANCE.get(tf["dtype"], (0.0, 0.0))
    ok, max_abs, max_rel, worst, used = True, 0.0, 0.0, None, 0.0
    for i, (a, b) in enumerate(zip(tf["values"], ct["values"])):
        if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
            if not (a == b or (math.isnan(a) and math.isnan(b))):
                ok, worst = False, i
                max_abs = max_rel = math.inf
            continue
        err = abs(a - b)
        rel = err / abs(a) if a != 0 else (0.0 if err == 0 else math.inf)
        tol = atol + rtol * abs(a)  # 0 for integer dtypes: exact
        used = max(used, err / tol if tol else (0.0 if err == 0 else math.inf))
        if err > atol + rtol * abs(a):
            if ok:
                worst = i
            ok = False
        if err > max_abs:
            max_abs = err
            if ok:
                worst = i
        max_rel = max(max_rel, rel)
    return ok, ("" if ok else "values differ beyond rtol %g, atol %g" % (rtol, atol)), max_abs, max_rel, worst, used


def main():
    tf, tf_order = load(sys.argv[1])
    ct, ct_order = load(sys.argv[2])
    listed = documented(sys.argv[3])
    keys = tf_order + [k for k in ct_order if k not in tf]
    same = differ = undocumented = 0
    # Over gradients (not the forward `value`s, checked for the same inputs).
    largest_abs = (0.0, None)
    largest_rel = (0.0, None)
    largest_used = (0.0, None)
    cases = set()
    for key in keys:
        name, _, sub = key.partition("/")
        cases.add(name)
        ok, why, max_abs, max_rel, worst, used = compare(tf.get(key), ct.get(key))
        ids = ["gradients." + name.split(":")[0], "gradients." + name, "gradients." + key]
        doc = next((listed[i] for i in ids if i in listed), None)
        if ok:
            same += 1
            verdict = "same"
            if max_abs is not None:
                verdict += " (max abs err %.3g, max rel err %.3g)" % (max_abs, max_rel)
                if sub != "value":
                    if max_abs > largest_abs[0]:
                        largest_abs = (max_abs, key)
                    if max_rel > largest_rel[0]:
                        largest_rel = (max_rel, key)
                    if used > largest_used[0]:
                        largest_used = (used, key)
        elif doc is not None:
            differ += 1
            verdict = "DIFFERENT (documented: %s)" % (doc if len(doc) <= 90 else doc[:87] + "...")
        else:
            undocumented += 1
            verdict = "DIFFERENT (NOT DOCUMENTED): " + why
        print("== gradients %s: %s" % (key, verdict))
        if not ok:
            if max_abs is not None:
                print("   max abs err %.3g, max rel err %.3g; first bad element %s" % (max_abs, max_rel, worst))
                if worst is not None:
                    print("   element %d: tensorflow %.9g, ctensor %.9g"
                          % (worst, tf[key]["values"][worst], ct[key]["values"][worst]))
            print("   tensorflow: " + brief(tf.get(key)))
            print("   ctensor:    " + brief(ct.get(key)))
    failed = 0
    if not tf:
        print("FAIL: no TensorFlow gradients")
        failed = 1
    if not ct:
        print("FAIL: no ctensor gradients")
        failed = 1
    names = {c.split(":")[0] for c in cases}
    print("\n%d gradient observations in %d cases (%d runs: tensor and variable sources): %d same within float "
          "tolerance, %d documented differences, %d undocumented differences"
          % (len(keys), len(names), len(cases), same, differ, undocumented))
    print("largest gradient error: abs %.3g (%s), rel %.3g (%s); at most %.0f%% of the tolerance used (%s)"
          % (largest_abs[0], largest_abs[1], largest_rel[0], largest_rel[1], 100 * largest_used[0],
             largest_used[1]))
    return 1 if (failed or undocumented) else 0


if __name__ == "__main__":
    sys.exit(main())
