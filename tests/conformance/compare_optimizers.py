"""Sets TensorFlow's and ctensor's optimizer results side by side
(optimizers.py's output) and fails on any difference beyond float
tolerance that docs/tf-differences.md does not list.

    python compare_optimizers.py TF_OUTPUT CT_OUTPUT DIFFERENCES_MD

The rules are compare_gradients.py's (the same tolerances: rtol 1e-5,
atol 1e-6 for float32, NumPy's allclose with TensorFlow's value as the
reference; exceptions by type and message prefix). A difference is
accepted when `optimizers.CASE` or `optimizers.CASE/KEY` is in the first
column of a table in DIFFERENCES_MD.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import documented  # noqa: E402
from compare_gradients import brief, compare, load  # noqa: E402


def main():
    tf, tf_order = load(sys.argv[1], "optimizers")
    ct, ct_order = load(sys.argv[2], "optimizers")
    listed = documented(sys.argv[3])
    keys = tf_order + [k for k in ct_order if k not in tf]
    same = differ = undocumented = 0
    largest = (0.0, 0.0, None)
    for key in keys:
        name = key.partition("/")[0]
        ok, why, max_abs, max_rel, worst, used = compare(tf.get(key), ct.get(key))
        doc = next((listed[i] for i in ("optimizers." + name, "optimizers." + key) if i in listed), None)
        if ok:
            same += 1
            verdict = "same"
            if max_abs is not None:
                verdict += " (max abs err %.3g, max rel err %.3g)" % (max_abs, max_rel)
                if used > largest[0]:
                    largest = (used, max_rel, key)
        elif doc is not None:
            differ += 1
            verdict = "DIFFERENT (documented: %s)" % (doc if len(doc) <= 90 else doc[:87] + "...")
        else:
            undocumented += 1
            verdict = "DIFFERENT (NOT DOCUMENTED): " + why
        print("== optimizers %s: %s" % (key, verdict))
        if not ok:
            if max_abs is not None and worst is not None:
                print("   element %d: tensorflow %.9g, ctensor %.9g"
                      % (worst, tf[key]["values"][worst], ct[key]["values"][worst]))
            print("   tensorflow: " + brief(tf.get(key)))
            print("   ctensor:    " + brief(ct.get(key)))
    failed = 0
    if not tf or not ct:
        print("FAIL: no %s optimizer results" % ("TensorFlow" if not tf else "ctensor"))
        failed = 1
    cases = {k.partition("/")[0] for k in keys}
    print("\n%d optimizer observations in %d cases: %d same within float tolerance, %d documented differences, "
          "%d undocumented differences" % (len(keys), len(cases), same, differ, undocumented))
    print("largest optimizer error: %.0f%% of the tolerance used, rel %.3g (%s)"
          % (100 * largest[0], largest[1], largest[2]))
    return 1 if (failed or undocumented) else 0


if __name__ == "__main__":
    sys.exit(main())
