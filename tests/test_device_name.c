/*
 * Device names: TensorFlow's own published cases, transcribed from
 *   tensorflow/core/util/device_name_utils_test.cc (now
 *     third_party/xla/xla/tsl/util/device_name_utils_test.cc)  [C++]
 *   tensorflow/python/framework/device_spec_test.py            [PY]
 *   tensorflow/python/framework/device_test.py                 [PYDEV]
 *   the tf.device docstring in tensorflow/python/framework/ops.py [OPS]
 * followed by ctensor's own cases for every error path. Where ctensor
 * deliberately follows Python rather than C++ (docs/device-names.md), the
 * transcribed expectation is adjusted and the line says so.
 */
#include "testutil.h"

#define BUF 256

/* canonicalize(spec) == want */
#define CHECK_CANON(spec, want)                                  \
  do {                                                           \
    char buf_[BUF];                                              \
    CHECK_OK(ct_device_name_canonicalize((spec), buf_, BUF));    \
    CHECK_EQ_STR(buf_, (want));                                  \
  } while (0)

/* The spec is rejected with INVALID_ARGUMENT, the message quotes it and
 * contains `needle`, and the output struct is left alone. */
#define CHECK_BAD(spec, needle)                                                      \
  do {                                                                               \
    ct_device_name out_;                                                             \
    memset(&out_, 0x5a, sizeof out_);                                                \
    ct_device_name copy_ = out_;                                                     \
    char quoted_[300];                                                               \
    snprintf(quoted_, sizeof quoted_, "invalid device spec '%s': ", (spec));        \
    CHECK_ERR(ct_device_name_parse((spec), &out_), CT_INVALID_ARGUMENT, (needle));   \
    CHECK(strstr(ct_last_error(), quoted_) != NULL);                                 \
    CHECK(memcmp(&out_, &copy_, sizeof out_) == 0);                                  \
  } while (0)

/* Parses `spec` and checks every field; job/type NULL mean "unset", an
 * index of -1 means "unset". */
#define CHECK_FIELDS(spec, job_, replica_, task_, type_, id_)           \
  do {                                                                  \
    ct_device_name p_;                                                  \
    CHECK_OK(ct_device_name_parse((spec), &p_));                        \
    const char *wj_ = (job_), *wt_ = (type_);                           \
    CHECK(p_.has_job == (wj_ != NULL));                                 \
    if (wj_ && p_.has_job) CHECK_EQ_STR(p_.job, wj_);                   \
    CHECK(p_.has_replica == ((replica_) >= 0));                         \
    if (p_.has_replica) CHECK_EQ_INT(p_.replica, (replica_));           \
    CHECK(p_.has_task == ((task_) >= 0));                               \
    if (p_.has_task) CHECK_EQ_INT(p_.task, (task_));                    \
    CHECK(p_.has_type == (wt_ != NULL));                                \
    if (wt_ && p_.has_type) CHECK_EQ_STR(p_.type, wt_);                 \
    CHECK(p_.has_id == ((id_) >= 0));                                   \
    if (p_.has_id) CHECK_EQ_INT(p_.id, (id_));                          \
  } while (0)

/* MergeDevNamesHelper: merging a with b and b with a both give `want`
 * (compared as canonical text). */
#define CHECK_MERGE_COMPAT(a, b, soft, want)                                  \
  do {                                                                        \
    char ab_[BUF], ba_[BUF], w_[BUF];                                         \
    CHECK_OK(ct_device_name_canonicalize((want), w_, BUF));                   \
    CHECK_OK(ct_device_name_merge_compatible((a), (b), (soft), ab_, BUF));    \
    CHECK_EQ_STR(ab_, w_);                                                    \
    CHECK_OK(ct_device_name_merge_compatible((b), (a), (soft), ba_, BUF));    \
    CHECK_EQ_STR(ba_, w_);                                                    \
  } while (0)

#define CHECK_MERGE(outer, inner, want)                         \
  do {                                                          \
    char m_[BUF];                                               \
    CHECK_OK(ct_device_name_merge((outer), (inner), m_, BUF));  \
    CHECK_EQ_STR(m_, (want));                                   \
  } while (0)

static bool spec_matches(const char *pattern, const char *name) {
  ct_device_name p, n;
  if (ct_device_name_parse(pattern, &p) != CT_OK || ct_device_name_parse(name, &n) != CT_OK) {
    fprintf(stderr, "spec_matches: cannot parse '%s' or '%s': %s\n", pattern, name, ct_last_error());
    return false;
  }
  return ct_device_name_matches(&p, &n);
}

/* ---- [C++] DeviceNameUtilsTest.Basic -------------------------------- */

TEST(cc_basic_rejects) {
  CHECK_BAD("foobar", "Unknown attribute 'foobar'");
  CHECK_BAD("/job:123/replica:1/task:2/device:GPU:3", "bad job name '123'");
  CHECK_BAD("/job:123/replica:1/task:2/gpu:", "bad job name '123'");
  CHECK_BAD("/job:foo/replica:1/task:2/gpu:", "invalid literal for int as device index: ''");
  CHECK_BAD("/job:123/replica:1/task:2/device:gpu:", "bad job name '123'");
  CHECK_BAD("/job:foo/replica:1/task:2/device:gpu:", "invalid literal for int as device index: ''");
  CHECK_BAD("/job:foo/replica:-1/task:2/device:GPU:3", "replica must not be negative: -1");
  CHECK_BAD("/job:foo/replica:1/task:-2/device:GPU:3", "task must not be negative: -2");
  CHECK_BAD("/job:foo/replica:1/task:2/bar:3", "Unknown attribute 'bar'");
  CHECK_BAD("/job:foo/replica:1/task:2/device:GPU:3/extra", "Unknown attribute 'extra'");
}

TEST(cc_basic_accepts) {
  CHECK_FIELDS("/job:foo/replica:1/task:2/device:GPU:3", "foo", 1, 2, "GPU", 3);
  /* '_' is allowed in job names */
  CHECK_FIELDS("/job:foo_bar/replica:1/task:2/device:GPU:3", "foo_bar", 1, 2, "GPU", 3);
  CHECK_FIELDS("/job:*/replica:4/gpu:*", NULL, 4, -1, "GPU", -1);
  CHECK_FIELDS("/job:*/replica:4/device:GPU:*", NULL, 4, -1, "GPU", -1);
  CHECK_FIELDS("/job:*/device:GPU/replica:4", NULL, 4, -1, "GPU", -1);
  CHECK_FIELDS("/job:*/replica:4/device:myspecialdevice:13", NULL, 4, -1, "myspecialdevice", 13);
  CHECK_FIELDS("/", NULL, -1, -1, NULL, -1);
  CHECK_FIELDS("/job:*/replica:4/device:GPU:5", NULL, 4, -1, "GPU", 5);
  /* same result if we reorder the components */
  CHECK_FIELDS("/gpu:*/job:*/replica:4", NULL, 4, -1, "GPU", -1);
  /* FullName("hello", 1, 2, "CPU", 3) */
  CHECK_CANON("/job:hello/replica:1/task:2/device:CPU:3", "/job:hello/replica:1/task:2/device:CPU:3");
  /* LocalName(fullname) keeps type and index only; the legacy cpu form
   * and unknown types canonicalise the same way */
  CHECK_CANON("/job:foo/replica:1/task:2/cpu:3", "/job:foo/replica:1/task:2/device:CPU:3");
  CHECK_CANON("/job:foo/replica:1/task:2/device:abc:73", "/job:foo/replica:1/task:2/device:abc:73");
}

TEST(cc_local_names) {
  /* ParseLocalName / ParseFullOrLocalName */
  CHECK_FIELDS("CPU:10", NULL, -1, -1, "CPU", 10);
  CHECK_BAD("cpu:abc", "invalid literal for int as device index: 'abc'");
  CHECK_BAD("abc:", "Unknown attribute 'abc'");
  CHECK_BAD("abc", "Unknown attribute 'abc'");
  CHECK_BAD("myspecialdevice", "Unknown attribute 'myspecialdevice'");
  /* SplitDeviceName("gpu:3") fails in C++ (ParseFullName needs a '/'), but
   * Python's DeviceSpec -- and so ctensor -- accepts the bare form. */
  CHECK_FIELDS("gpu:3", NULL, -1, -1, "GPU", 3);
  /* SplitDeviceName cases: any order, legacy device part */
  CHECK_CANON("/job:foo/replica:1/task:2/cpu:1", "/job:foo/replica:1/task:2/device:CPU:1");
  CHECK_CANON("/job:foo/cpu:1/task:2/replica:1", "/job:foo/replica:1/task:2/device:CPU:1");
  CHECK_CANON("/device:GPU:3", "/device:GPU:3");
  CHECK_CANON("/device:myspecialdevice:3", "/device:myspecialdevice:3");
  CHECK_CANON("/job:foo/task:2/replica:1", "/job:foo/replica:1/task:2");
}

/* RoundTripPartialName: every subset of {job, replica, task, device}. */
static void round_trip_partial(int parts, const char *device, bool explicit_device, const char *want_device) {
  char original[BUF] = "", expected[BUF] = "", got[BUF];
  size_t o = 0, e = 0;
  if (parts & 1) {
    o += (size_t)snprintf(original + o, BUF - o, "/job:foo");
    e += (size_t)snprintf(expected + e, BUF - e, "/job:foo");
  }
  if (parts & 2) {
    o += (size_t)snprintf(original + o, BUF - o, "/replica:3");
    e += (size_t)snprintf(expected + e, BUF - e, "/replica:3");
  }
  if (parts & 4) {
    o += (size_t)snprintf(original + o, BUF - o, "/task:2");
    e += (size_t)snprintf(expected + e, BUF - e, "/task:2");
  }
  if (parts & 8) {
    o += (size_t)snprintf(original + o, BUF - o, explicit_device ? "/device:%s" : "/%s", device);
    e += (size_t)snprintf(expected + e, BUF - e, "/device:%s", want_device);
  }
  ct_status st = ct_device_name_canonicalize(original, got, BUF);
  CHECK(st == CT_OK);
  if (st == CT_OK && strcmp(got, expected) != 0) {
    fprintf(stderr, "round trip of '%s': got '%s', want '%s'\n", original, got, expected);
    CHECK(false);
  }
}

TEST(cc_round_trip_partial_names) {
  for (int i = 0; i < 0x10; i++) {
    round_trip_partial(i, "CPU:3", false, "CPU:3");
    round_trip_partial(i, "GPU:3", false, "GPU:3");
    round_trip_partial(i, "cpu:3", false, "CPU:3");
    round_trip_partial(i, "gpu:3", false, "GPU:3");
    round_trip_partial(i, "CPU:3", true, "CPU:3");
    round_trip_partial(i, "GPU:3", true, "GPU:3");
    /* C++ keeps "/device:cpu:3" lowercase; ctensor follows Python's
     * DeviceSpec, which uppercases cpu and gpu in the device: form. */
    round_trip_partial(i, "cpu:3", true, "CPU:3");
    round_trip_partial(i, "gpu:3", true, "GPU:3");
    round_trip_partial(i, "someDevice:3", true, "someDevice:3");
  }
}

TEST(cc_are_compatible_dev_names) {
  /* AreCompatibleDevNames(x, y) == MergeDevNames(x, y) succeeds */
  CHECK_ERR(ct_device_name_merge_compatible("/job:work/replica:1/task:3/device:GPU:*", "/device:CPU:*", false,
                                            (char[BUF]){0}, BUF),
            CT_INVALID_ARGUMENT, "incompatible types");
  CHECK_MERGE_COMPAT("/job:work/replica:1/task:3", "/device:CPU:*", false,
                     "/job:work/replica:1/task:3/device:CPU:*");
}

/* ---- [C++] IsCompleteSpecification and IsSpecification ---------------- */

TEST(cc_is_complete_specification) {
  CHECK(spec_matches("/job:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:*/replica:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:*/task:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:*/replica:*/task:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:*/replica:*/gpu:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(!spec_matches("/cpu:*", "/job:worker/replica:1/task:2/device:GPU:3"));
  CHECK(!spec_matches("/device:GPU:2", "/job:worker/replica:1/task:2/device:GPU:1"));
  CHECK(spec_matches("/gpu:*", "/job:worker/replica:1/task:2/device:GPU:3"));
}

TEST(cc_is_specification) {
  CHECK(spec_matches("/job:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:*", "/job:work/replica:1/device:GPU:3"));
  CHECK(spec_matches("/job:*", "/job:work/replica:1"));
  CHECK(spec_matches("/job:*", "/replica:1"));
  CHECK(spec_matches("/job:*", "/job:work"));
  CHECK(spec_matches("/job:*/replica:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:work/replica:1/gpu:*", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:work/replica:1/device:GPU:3", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:work/replica:1/task:2", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/job:work/replica:*/task:2", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/task:*", "/job:*/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/task:2", "/job:*/replica:1/task:2/device:GPU:3"));
  CHECK(spec_matches("/cpu:*", "/job:*/replica:1/task:2/cpu:1"));
  CHECK(spec_matches("/cpu:0", "/cpu:0"));
  CHECK(spec_matches("/gpu:*", "/job:worker/replica:1/task:2/device:GPU:3"));

  CHECK(!spec_matches("/job:worker/replica:1/task:2/device:GPU:3", "/gpu:*"));
  CHECK(!spec_matches("/cpu:*", "/job:*/replica:1/task:2"));
  CHECK(!spec_matches("/cpu:*", "/job:*/replica:1/task:2/device:GPU:1"));
  CHECK(!spec_matches("/cpu:*", "/job:worker/replica:1/task:2/device:GPU:3"));
  CHECK(!spec_matches("/device:GPU:2", "/job:worker/replica:1/task:2/device:GPU:1"));
  CHECK(!spec_matches("/job:work/replica:*/task:0", "/job:work/replica:1/task:2/device:GPU:3"));
  CHECK(!spec_matches("/job:work/replica:0/task:2", "/job:work/replica:*/task:2/device:GPU:3"));
}

TEST(matches_edge_cases) {
  ct_device_name empty, full;
  CHECK_OK(ct_device_name_parse("", &empty));
  CHECK_OK(ct_device_name_parse("/job:localhost/replica:0/task:0/device:CPU:0", &full));
  CHECK(ct_device_name_matches(&empty, &full));
  CHECK(ct_device_name_matches(&empty, &empty));
  CHECK(ct_device_name_matches(&full, &full));
  CHECK(!ct_device_name_matches(&full, &empty));
  /* types compare case-sensitively, as in TensorFlow */
  CHECK(!spec_matches("/device:Gpu:0", "/device:GPU:0"));
  CHECK(!spec_matches("/job:Work", "/job:work"));
  CHECK(!ct_device_name_matches(NULL, &full));
  CHECK(!ct_device_name_matches(&full, NULL));
}

/* ---- [C++] MergeDevNames ---------------------------------------------- */

TEST(cc_merge_dev_names) {
  /* idempotence */
  CHECK_MERGE_COMPAT("", "", false, "");
  CHECK_MERGE_COMPAT("/job:foo/replica:1/task:2/cpu:1", "/job:foo/replica:1/task:2/cpu:1", false,
                     "/job:foo/replica:1/task:2/cpu:1");
  /* merging with the empty device has no effect */
  CHECK_MERGE_COMPAT("", "/job:foo", false, "/job:foo");
  CHECK_MERGE_COMPAT("", "/replica:2", false, "/replica:2");
  CHECK_MERGE_COMPAT("", "/task:7", false, "/task:7");
  CHECK_MERGE_COMPAT("", "/device:GPU:1", false, "/device:GPU:1");
  /* disjoint names */
  CHECK_MERGE_COMPAT("/job:foo", "/task:7", false, "/job:foo/task:7");
  CHECK_MERGE_COMPAT("/job:foo", "/device:GPU:1", false, "/job:foo/device:GPU:1");
  /* overlapping names */
  CHECK_MERGE_COMPAT("/job:foo/replica:0", "/replica:0/task:1", false, "/job:foo/replica:0/task:1");
  /* wildcards */
  CHECK_MERGE_COMPAT("", "/gpu:*", false, "/gpu:*");
  CHECK_MERGE_COMPAT("/gpu:*", "/gpu:*", false, "/gpu:*");
  CHECK_MERGE_COMPAT("/device:GPU:1", "/gpu:*", false, "/device:GPU:1");

  /* incompatible components */
  char out[BUF];
  CHECK_ERR(ct_device_name_merge_compatible("/job:foo", "/job:bar", false, out, BUF), CT_INVALID_ARGUMENT,
            "Cannot merge devices with incompatible jobs: '/job:foo' and '/job:bar'");
  CHECK_ERR(ct_device_name_merge_compatible("/replica:0", "/replica:1", false, out, BUF), CT_INVALID_ARGUMENT,
            "Cannot merge devices with incompatible replicas: '/replica:0' and '/replica:1'");
  CHECK_ERR(ct_device_name_merge_compatible("/task:0", "/task:1", false, out, BUF), CT_INVALID_ARGUMENT,
            "Cannot merge devices with incompatible tasks: '/task:0' and '/task:1'");
  CHECK_ERR(ct_device_name_merge_compatible("/gpu:*", "/cpu:*", false, out, BUF), CT_INVALID_ARGUMENT,
            "Cannot merge devices with incompatible types: '/device:GPU:*' and '/device:CPU:*'");
  CHECK_ERR(ct_device_name_merge_compatible("/device:GPU:0", "/device:GPU:1", false, out, BUF), CT_INVALID_ARGUMENT,
            "Cannot merge devices with incompatible ids: '/device:GPU:0' and '/device:GPU:1'");
}

TEST(cc_merge_dev_names_allow_soft_placement) {
  CHECK_MERGE_COMPAT("/gpu:*", "/cpu:1", true, "");
  CHECK_MERGE_COMPAT("/cpu:*", "/device:GPU:1", true, "");
  CHECK_MERGE_COMPAT("/device:GPU:1", "/device:GPU:2", true, "/device:GPU:*");
}

TEST(merge_compatible_details) {
  char out[BUF];
  /* The target is updated field by field, so the message shows it as
   * merged so far: the job from b is already in when replicas clash. */
  CHECK_ERR(ct_device_name_merge_compatible("/replica:0", "/job:foo/replica:1", false, out, BUF),
            CT_INVALID_ARGUMENT, "incompatible replicas: '/job:foo/replica:0' and '/job:foo/replica:1'");
  /* soft placement never forgives job, replica or task conflicts */
  CHECK_ERR(ct_device_name_merge_compatible("/job:a/gpu:0", "/job:b/cpu:0", true, out, BUF), CT_INVALID_ARGUMENT,
            "incompatible jobs");
  CHECK_ERR(ct_device_name_merge_compatible("/replica:0", "/replica:1", true, out, BUF), CT_INVALID_ARGUMENT,
            "incompatible replicas");
  CHECK_ERR(ct_device_name_merge_compatible("/task:0", "/task:1", true, out, BUF), CT_INVALID_ARGUMENT,
            "incompatible tasks");
  /* a type conflict under soft placement clears type and id and keeps the
   * rest, even fields b sets */
  CHECK_MERGE_COMPAT("/job:a/gpu:0", "/job:a/replica:2/cpu:0", true, "/job:a/replica:2");
  CHECK_MERGE_COMPAT("/job:w/task:1/device:GPU:0", "/device:GPU:3", true, "/job:w/task:1/device:GPU:*");
  /* an id without a conflicting one fills in */
  CHECK_MERGE_COMPAT("/device:GPU:*", "/device:GPU:3", false, "/device:GPU:3");
  CHECK_MERGE_COMPAT("/job:localhost/replica:0/task:0/device:CPU:0", "/cpu:0", false,
                     "/job:localhost/replica:0/task:0/device:CPU:0");
  /* bad input is reported against the spec that is bad */
  CHECK_ERR(ct_device_name_merge_compatible("/gpu:x", "/cpu:0", false, out, BUF), CT_INVALID_ARGUMENT,
            "invalid device spec '/gpu:x'");
  CHECK_ERR(ct_device_name_merge_compatible("/cpu:0", "/job:", true, out, BUF), CT_INVALID_ARGUMENT,
            "invalid device spec '/job:'");
}

/* ---- [C++] CanonicalizeDeviceName (the parsing half) ---------------- */

TEST(cc_canonicalize_device_name) {
  CHECK_CANON("/job:foo/replica:10/task:0/device:CPU:1", "/job:foo/replica:10/task:0/device:CPU:1");
  CHECK_CANON("/job:foo/task:0/replica:10/device:CPU:1", "/job:foo/replica:10/task:0/device:CPU:1");
  CHECK_CANON("/job:foo/task:0/replica:10/cpu:1", "/job:foo/replica:10/task:0/device:CPU:1");
  CHECK_CANON("CPU:0", "/device:CPU:0");
  CHECK_BAD("/job:foo/task:0/replica/cpu:1", "malformed component 'replica'");
  /* a failed canonicalize leaves the output alone */
  char out[BUF] = "untouched";
  CHECK_ERR(ct_device_name_canonicalize("/job:foo/task:0/replica/cpu:1", out, BUF), CT_INVALID_ARGUMENT,
            "invalid device spec '/job:foo/task:0/replica/cpu:1'");
  CHECK_EQ_STR(out, "untouched");
}

/* ---- [PY] device_spec_test.py / [PYDEV] device_test.py --------------- */

static ct_device_name spec_of(const char *job, int replica, int task, const char *type, int id) {
  ct_device_name n;
  memset(&n, 0, sizeof n);
  if (job) {
    n.has_job = true;
    snprintf(n.job, sizeof n.job, "%s", job);
  }
  n.has_replica = replica >= 0;
  n.replica = replica;
  n.has_task = task >= 0;
  n.task = task;
  if (type) {
    n.has_type = true;
    snprintf(n.type, sizeof n.type, "%s", type);
  }
  n.has_id = id >= 0;
  n.id = id;
  return n;
}

#define CHECK_FORMAT(name, want)                           \
  do {                                                     \
    ct_device_name n_ = (name);                            \
    char f_[BUF];                                          \
    CHECK_OK(ct_device_name_format(&n_, f_, BUF));         \
    CHECK_EQ_STR(f_, (want));                              \
  } while (0)

TEST(py_empty_and_constructor) {
  CHECK_FORMAT(spec_of(NULL, -1, -1, NULL, -1), "");
  CHECK_CANON("", "");
  CHECK_FORMAT(spec_of("j", 0, 1, "CPU", 2), "/job:j/replica:0/task:1/device:CPU:2");
  CHECK_FORMAT(spec_of(NULL, -1, -1, "GPU", 0), "/device:GPU:0");
}

TEST(py_to_string) {
  CHECK_FORMAT(spec_of("foo", -1, -1, NULL, -1), "/job:foo");
  CHECK_FORMAT(spec_of("foo", -1, 3, NULL, -1), "/job:foo/task:3");
  CHECK_FORMAT(spec_of("foo", -1, 3, "cpu", 0), "/job:foo/task:3/device:CPU:0");
  CHECK_FORMAT(spec_of("foo", 12, -1, "cpu", 0), "/job:foo/replica:12/device:CPU:0");
  CHECK_FORMAT(spec_of("foo", 12, -1, "gpu", 2), "/job:foo/replica:12/device:GPU:2");
  CHECK_FORMAT(spec_of("foo", 12, -1, "CPU", 1), "/job:foo/replica:12/device:CPU:1");
  CHECK_FORMAT(spec_of("foo", 12, -1, NULL, -1), "/job:foo/replica:12");
  /* wildcard index */
  CHECK_FORMAT(spec_of("foo", 12, 3, "GPU", -1), "/job:foo/replica:12/task:3/device:GPU:*");
}

TEST(py_to_from_string) {
  CHECK_CANON("/job:foo/replica:0", "/job:foo/replica:0");
  CHECK_FIELDS("/job:foo/replica:0", "foo", 0, -1, NULL, -1);
  CHECK_CANON("/replica:1/task:0/cpu:0", "/replica:1/task:0/device:CPU:0");
  CHECK_FIELDS("/replica:1/task:0/cpu:0", NULL, 1, 0, "CPU", 0);
  CHECK_CANON("/replica:1/task:0/device:CPU:0", "/replica:1/task:0/device:CPU:0");
  CHECK_FIELDS("/replica:1/task:0/device:CPU:0", NULL, 1, 0, "CPU", 0);
  CHECK_CANON("/job:muu/device:GPU:2", "/job:muu/device:GPU:2");
  CHECK_FIELDS("/job:muu/device:GPU:2", "muu", -1, -1, "GPU", 2);
  CHECK_BAD("/job:muu/device:GPU:2/cpu:0", "Multiple device types are not allowed");
}

TEST(py_combine) {
  /* test_combine / test_merge_legacy: make_merged_spec, inner wins */
  CHECK_MERGE("/job:foo/replica:0", "/task:1/device:GPU:2", "/job:foo/replica:0/task:1/device:GPU:2");
  CHECK_MERGE("", "/task:1/cpu:0", "/task:1/device:CPU:0");
  CHECK_MERGE("/task:1/device:CPU:0", "/job:boo/device:GPU:0", "/job:boo/task:1/device:GPU:0");
  CHECK_MERGE("/job:boo/task:1/device:GPU:0", "/job:muu/cpu:2", "/job:muu/task:1/device:CPU:2");
  CHECK_MERGE("/job:muu/task:1/device:CPU:2", "/job:muu/device:MyFunnyDevice:2",
              "/job:muu/task:1/device:MyFunnyDevice:2");
  CHECK_CANON("/job:muu/task:1/device:MyFunnyDevice:2", "/job:muu/task:1/device:MyFunnyDevice:2");
}

TEST(pydev_canonical_name_and_check_valid) {
  CHECK_CANON("/job:foo/replica:0", "/job:foo/replica:0");
  CHECK_CANON("/replica:0/job:foo", "/job:foo/replica:0");
  CHECK_CANON("/job:foo/replica:0/task:0", "/job:foo/replica:0/task:0");
  CHECK_CANON("/job:foo/task:0/replica:0", "/job:foo/replica:0/task:0");
  CHECK_CANON("/device:CPU:0", "/device:CPU:0");
  CHECK_CANON("/device:GPU:2", "/device:GPU:2");
  CHECK_CANON("/job:foo/replica:0/task:0/device:GPU:0", "/job:foo/replica:0/task:0/device:GPU:0");
  CHECK_CANON("/device:GPU:0/task:0/replica:0/job:foo", "/job:foo/replica:0/task:0/device:GPU:0");

  CHECK_BAD("/job:j/replica:foo", "invalid literal for int as replica: 'foo'");
  CHECK_BAD("/job:j/task:bar", "invalid literal for int as task: 'bar'");
  CHECK_BAD("/barcpugpu:muu/baz:2", "Unknown attribute 'barcpugpu'");
  CHECK_BAD("/cpu:0/device:GPU:2", "Multiple device types are not allowed");
}

TEST(pydev_merge_device_and_ops_docstring) {
  /* device_test.testMerge: nested merge_device scopes */
  CHECK_MERGE("", "/device:GPU:0", "/device:GPU:0");
  CHECK_MERGE("/device:GPU:0", "/job:worker", "/job:worker/device:GPU:0");
  CHECK_MERGE("/job:worker/device:GPU:0", "/device:CPU:0", "/job:worker/device:CPU:0");
  CHECK_MERGE("/job:worker/device:CPU:0", "/job:ps", "/job:ps/device:CPU:0");
  /* ops.py tf.device docstring: under /job:foo */
  CHECK_MERGE("/job:foo", "/job:bar/task:0/device:gpu:2", "/job:bar/task:0/device:GPU:2");
  CHECK_MERGE("/job:foo", "/device:gpu:1", "/job:foo/device:GPU:1");
  /* the eager quirk (reference section 2): the outermost "outer" is the
   * context's first device, and a missing index is inherited */
  CHECK_MERGE("/job:localhost/replica:0/task:0/device:CPU:0", "GPU", "/job:localhost/replica:0/task:0/device:GPU:0");
  CHECK_MERGE("/job:localhost/replica:0/task:0/device:CPU:0", "/job:localhost",
              "/job:localhost/replica:0/task:0/device:CPU:0");
  CHECK_MERGE("/job:localhost/replica:0/task:0/device:CPU:0", "", "/job:localhost/replica:0/task:0/device:CPU:0");
  CHECK_MERGE("/device:GPU:1", "CPU", "/device:CPU:1");
  /* an explicit wildcard in inner is "not set" and does not clear outer */
  CHECK_MERGE("/job:a/replica:1/device:GPU:1", "/job:*/replica:*/gpu:*", "/job:a/replica:1/device:GPU:1");
  /* errors name the bad spec, outer or inner */
  char out[BUF];
  CHECK_ERR(ct_device_name_merge("/gpu:x", "CPU", out, BUF), CT_INVALID_ARGUMENT, "invalid device spec '/gpu:x'");
  CHECK_ERR(ct_device_name_merge("CPU", "JOB:x", out, BUF), CT_INVALID_ARGUMENT, "invalid device spec 'JOB:x'");
}

/* ---- ctensor's grammar: lenient forms, case, order, repetition -------- */

TEST(lenient_short_forms) {
  CHECK_CANON("/cpu:0", "/device:CPU:0");
  CHECK_CANON("/CPU:0", "/device:CPU:0");
  CHECK_CANON("/gpu:*", "/device:GPU:*");
  CHECK_CANON("/GPU:1", "/device:GPU:1");
  CHECK_CANON("GPU:1", "/device:GPU:1");
  CHECK_CANON("gpu:0", "/device:GPU:0");
  CHECK_CANON("gpu:*", "/device:GPU:*");
  CHECK_CANON("CPU", "/device:CPU:*");
  CHECK_CANON("cpu", "/device:CPU:*");
  CHECK_CANON("/GPU", "/device:GPU:*");
  /* the bare form is case-insensitive (Python); C++ rejects "/Gpu:0" */
  CHECK_CANON("/Gpu:0", "/device:GPU:0");
  CHECK_CANON("cPu:2", "/device:CPU:2");
  CHECK_CANON("tpu:3", "/device:TPU:3");
  CHECK_CANON("custom", "/device:CUSTOM:*");
  CHECK_CANON("/EPU:*", "/device:EPU:*");
  /* bare form combined with the other parts, in any order */
  CHECK_CANON("gpu:1/job:w", "/job:w/device:GPU:1");
  CHECK_CANON("/task:3/GPU/replica:2", "/replica:2/task:3/device:GPU:*");
}

TEST(device_form_case_rules) {
  /* Python uppercases exactly "cpu" and "gpu" in the device: form and keeps
   * every other type as written (types are case-sensitive). */
  CHECK_CANON("/device:cpu:0", "/device:CPU:0");
  CHECK_CANON("/device:gpu:*", "/device:GPU:*");
  CHECK_CANON("/device:Gpu:0", "/device:Gpu:0");
  CHECK_CANON("/device:tpu:0", "/device:tpu:0");
  CHECK_CANON("/device:XLA_GPU:0", "/device:XLA_GPU:0");
  CHECK_CANON("/device:GPU", "/device:GPU:*");
  /* keys are case-sensitive */
  CHECK_BAD("JOB:x", "Unknown attribute 'JOB'");
  CHECK_BAD("/Job:foo", "Unknown attribute 'Job'");
  CHECK_BAD("/Device:GPU:0", "Unknown attribute 'Device'");
  CHECK_BAD("/REPLICA:1", "Unknown attribute 'REPLICA'");
  /* job names keep their case */
  CHECK_CANON("/job:Worker_2", "/job:Worker_2");
}

TEST(empty_specs_and_separators) {
  CHECK_CANON("", "");
  CHECK_CANON("/", "");
  CHECK_CANON("//", "");
  CHECK_CANON("/job:a//gpu:0/", "/job:a/device:GPU:0");
  CHECK_FIELDS("", NULL, -1, -1, NULL, -1);
  CHECK_FIELDS("///", NULL, -1, -1, NULL, -1);
}

TEST(wildcards) {
  CHECK_CANON("/job:*/replica:*/task:*/device:*:*", "");
  CHECK_CANON("/device:*", "");
  CHECK_CANON("/device:*:3", "/device:*:3");
  CHECK_FIELDS("/device:*:3", NULL, -1, -1, NULL, 3);
  CHECK_CANON("/job:localhost/device:CPU:*", "/job:localhost/device:CPU:*");
}

TEST(repeated_components_overwrite) {
  CHECK_CANON("/job:a/job:b", "/job:b");
  CHECK_CANON("/replica:1/replica:2", "/replica:2");
  CHECK_CANON("/task:1/job:x/task:5", "/job:x/task:5");
  /* a wildcard repeats as "unset" too, as in C++ */
  CHECK_CANON("/job:a/job:*", "");
  CHECK_CANON("/task:4/task:*", "");
}

TEST(numbers) {
  CHECK_FIELDS("/gpu:007", NULL, -1, -1, "GPU", 7);
  CHECK_FIELDS("/replica:2147483647", NULL, 2147483647, -1, NULL, -1);
  CHECK_BAD("/replica:2147483648", "replica 2147483648 is out of range (max 2147483647)");
  CHECK_BAD("/gpu:99999999999999999999", "device index 99999999999999999999 is out of range");
  CHECK_BAD("/task:4294967296", "task 4294967296 is out of range");
  CHECK_BAD("/gpu:x", "invalid literal for int as device index: 'x'");
  CHECK_BAD("/replica:", "invalid literal for int as replica: ''");
  CHECK_BAD("/task:", "invalid literal for int as task: ''");
  CHECK_BAD("/replica:1.5", "invalid literal for int as replica: '1.5'");
  CHECK_BAD("/replica:+1", "invalid literal for int as replica: '+1'");
  CHECK_BAD("/replica: 1", "invalid literal for int as replica: ' 1'");
  CHECK_BAD("/task:0x10", "invalid literal for int as task: '0x10'");
  CHECK_BAD("/gpu:0abc", "invalid literal for int as device index: '0abc'");
  CHECK_BAD("/device:GPU:1x", "invalid literal for int as device index: '1x'");
  CHECK_BAD("/replica:-", "invalid literal for int as replica: '-'");
  CHECK_BAD("/replica:--1", "invalid literal for int as replica: '--1'");
  CHECK_BAD("/gpu:-1", "device index must not be negative: -1");
  CHECK_BAD("gpu:-1", "device index must not be negative: -1");
  CHECK_BAD("/device:GPU:-1", "device index must not be negative: -1");
  CHECK_BAD("/replica:-3", "replica must not be negative: -3");
  CHECK_BAD("/task:-0", "task must not be negative: -0");
  CHECK_BAD("/gpu:**", "invalid literal for int as device index: '**'");
}

TEST(multiple_device_types) {
  CHECK_BAD("/cpu:0/gpu:0", "Multiple device types are not allowed");
  CHECK_BAD("CPU/GPU", "Multiple device types are not allowed (second one: 'GPU')");
  CHECK_BAD("/device:CPU:0/device:CPU:0", "Multiple device types are not allowed");
  CHECK_BAD("/device:*:0/gpu:1", "Multiple device types are not allowed");
  CHECK_BAD("/gpu:*/device:GPU", "Multiple device types are not allowed");
}

TEST(names_and_types) {
  CHECK_BAD("/job:", "bad job name ''");
  CHECK_BAD("/job:a b", "bad job name 'a b'");
  CHECK_BAD("/job:-x", "bad job name '-x'");
  CHECK_BAD("/job:_x", "bad job name '_x'");
  CHECK_BAD("/job:a.b", "bad job name 'a.b'");
  CHECK_BAD("/device:1GPU:0", "bad device type '1GPU'");
  CHECK_BAD("/device::0", "bad device type ''");
  CHECK_BAD("/device:G-PU:0", "bad device type 'G-PU'");
  /* 63 characters fit the struct, 64 do not */
  char spec[BUF], want[BUF];
  snprintf(spec, sizeof spec, "/job:%.63s", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij");
  snprintf(want, sizeof want, "%s", spec);
  CHECK_CANON(spec, want);
  snprintf(spec, sizeof spec, "/job:%.64s", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij");
  CHECK_BAD(spec, "is longer than 63 characters");
  snprintf(spec, sizeof spec, "/device:%.64s:0",
           "Tabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij");
  CHECK_BAD(spec, "device type 'Tabcdefghijabcdefghi...' is longer than 63 characters");
}

TEST(unknown_parts_and_garbage) {
  CHECK_BAD("/job:foo/bar", "Unknown attribute 'bar'");
  CHECK_BAD(" gpu:0", "Unknown attribute ' gpu'");
  CHECK_BAD("gpu:0 ", "invalid literal for int as device index: '0 '");
  CHECK_BAD("/physical_device:GPU:0", "Unknown attribute 'physical_device'");
  CHECK_BAD("/:0", "component ':0' has no attribute name");
  CHECK_BAD("/device", "malformed component 'device' (expected device:TYPE or device:TYPE:N)");
  CHECK_BAD("/device:GPU:0:1", "malformed component 'device:GPU:0:1' (too many ':')");
  CHECK_BAD("gpu:0:1", "malformed component 'gpu:0:1' (expected TYPE or TYPE:N)");
  CHECK_BAD("/job", "malformed component 'job' (expected job:VALUE)");
  CHECK_BAD("/job:a:b", "malformed component 'job:a:b'");
  CHECK_BAD("/task:1:2", "malformed component 'task:1:2'");
  CHECK_BAD("/replica", "malformed component 'replica'");
  CHECK_BAD("/a:b:c:d:e:f", "too many ':'");
}

TEST(long_spec_in_message_is_capped) {
  char spec[2000];
  memset(spec, 'x', sizeof spec - 1);
  spec[sizeof spec - 1] = '\0';
  ct_device_name n;
  CHECK_ERR(ct_device_name_parse(spec, &n), CT_INVALID_ARGUMENT, "invalid device spec 'xxxxxxxx");
  CHECK(strlen(ct_last_error()) < 600);
}

TEST(parse_output_untouched_on_error_and_null_args) {
  ct_device_name n;
  CHECK_ERR(ct_device_name_parse(NULL, &n), CT_INVALID_ARGUMENT, "device_name_parse: NULL argument");
  CHECK_ERR(ct_device_name_parse("/cpu:0", NULL), CT_INVALID_ARGUMENT, "NULL argument");
  char out[BUF];
  CHECK_ERR(ct_device_name_canonicalize(NULL, out, BUF), CT_INVALID_ARGUMENT, "device_name_canonicalize: NULL");
  CHECK_ERR(ct_device_name_canonicalize("/cpu:0", NULL, BUF), CT_INVALID_ARGUMENT, "NULL argument");
  CHECK_ERR(ct_device_name_merge(NULL, "", out, BUF), CT_INVALID_ARGUMENT, "device_name_merge: NULL");
  CHECK_ERR(ct_device_name_merge("", NULL, out, BUF), CT_INVALID_ARGUMENT, "NULL argument");
  CHECK_ERR(ct_device_name_merge("", "", NULL, BUF), CT_INVALID_ARGUMENT, "NULL argument");
  CHECK_ERR(ct_device_name_merge_compatible(NULL, "", false, out, BUF), CT_INVALID_ARGUMENT,
            "device_name_merge_compatible: NULL");
  CHECK_ERR(ct_device_name_merge_compatible("", NULL, false, out, BUF), CT_INVALID_ARGUMENT, "NULL argument");
  CHECK_ERR(ct_device_name_merge_compatible("", "", true, NULL, BUF), CT_INVALID_ARGUMENT, "NULL argument");
  ct_device_name good;
  CHECK_OK(ct_device_name_parse("/cpu:0", &good));
  CHECK_ERR(ct_device_name_format(NULL, out, BUF), CT_INVALID_ARGUMENT, "device_name_format: NULL");
  CHECK_ERR(ct_device_name_format(&good, NULL, BUF), CT_INVALID_ARGUMENT, "NULL argument");
}

/* ---- output buffers ---------------------------------------------------- */

TEST(output_buffer_sizes) {
  const char *full = "/job:localhost/replica:0/task:0/device:CPU:0";
  size_t need = strlen(full) + 1;
  char out[BUF];
  /* exactly enough */
  memset(out, '#', sizeof out);
  CHECK_OK(ct_device_name_canonicalize(full, out, need));
  CHECK_EQ_STR(out, full);
  /* one byte short: OUT_OF_RANGE, nothing written */
  memset(out, '#', sizeof out);
  CHECK_ERR(ct_device_name_canonicalize(full, out, need - 1), CT_OUT_OF_RANGE,
            "device_name_canonicalize: output buffer too small for '/job:localhost/replica:0/task:0/device:CPU:0': "
            "needs 45 bytes, out_size is 44");
  CHECK(out[0] == '#' && out[need - 2] == '#');
  CHECK_ERR(ct_device_name_canonicalize(full, out, 0), CT_OUT_OF_RANGE, "out_size is 0");
  CHECK(out[0] == '#');
  /* the empty spec needs one byte */
  CHECK_OK(ct_device_name_canonicalize("/", out, 1));
  CHECK_EQ_STR(out, "");
  CHECK_ERR(ct_device_name_canonicalize("/", out, 0), CT_OUT_OF_RANGE, "needs 1 bytes");

  CHECK_ERR(ct_device_name_merge("/job:a", "/gpu:1", out, 5), CT_OUT_OF_RANGE,
            "device_name_merge: output buffer too small for '/job:a/device:GPU:1'");
  CHECK_ERR(ct_device_name_merge_compatible("/job:a", "/gpu:1", false, out, 5), CT_OUT_OF_RANGE,
            "device_name_merge_compatible: output buffer too small");
  ct_device_name n;
  CHECK_OK(ct_device_name_parse(full, &n));
  CHECK_ERR(ct_device_name_format(&n, out, 10), CT_OUT_OF_RANGE, "device_name_format: output buffer too small");

  /* the longest name fits CT_DEVICE_NAME_MAX */
  char longest[BUF];
  snprintf(longest, sizeof longest, "/job:%.63s/replica:2147483647/task:2147483647/device:%.63s:2147483647",
           "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj",
           "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT");
  char canon[CT_DEVICE_NAME_MAX];
  CHECK_OK(ct_device_name_canonicalize(longest, canon, sizeof canon));
  CHECK_EQ_STR(canon, longest);
}

/* ---- format of hand-filled structs ------------------------------------ */

TEST(format_validates_structs) {
  char out[BUF];
  ct_device_name n = spec_of("w", -1, -1, "GPU", -1);
  n.has_id = true;
  n.id = -1;
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "device index must not be negative: -1");
  n = spec_of("w", 0, 0, NULL, -1);
  n.replica = -2;
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "replica must not be negative: -2");
  n = spec_of("w", 0, 0, NULL, -1);
  n.task = -7;
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "task must not be negative: -7");
  n = spec_of("1w", -1, -1, NULL, -1);
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "bad job '1w'");
  n = spec_of("", -1, -1, NULL, -1);
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "bad job ''");
  n = spec_of(NULL, -1, -1, "G/PU", 0);
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "bad device type 'G/PU'");
  n = spec_of(NULL, -1, -1, NULL, -1);
  n.has_job = true;
  memset(n.job, 'a', sizeof n.job); /* no terminator */
  CHECK_ERR(ct_device_name_format(&n, out, BUF), CT_INVALID_ARGUMENT, "job is not terminated within 64 bytes");
  /* unset fields are ignored whatever they hold */
  n = spec_of(NULL, -1, -1, NULL, -1);
  memset(n.job, '!', sizeof n.job);
  memset(n.type, '!', sizeof n.type);
  n.replica = n.task = n.id = -5;
  CHECK_OK(ct_device_name_format(&n, out, BUF));
  CHECK_EQ_STR(out, "");
  /* an index without a type stays visible and parses back */
  CHECK_FORMAT(spec_of(NULL, -1, -1, NULL, 5), "/device:*:5");
}

TEST(canonical_form_is_a_fixed_point) {
  static const char *const specs[] = {
      "", "/", "gpu:0", "/cpu:*", "CPU", "/job:w/task:3/replica:1/GPU:2", "/device:*:4",
      "/job:localhost/replica:0/task:0/device:CPU:0", "/device:MyFunnyDevice:2", "/job:*/device:gpu",
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    char once[BUF], twice[BUF];
    CHECK_OK(ct_device_name_canonicalize(specs[i], once, BUF));
    CHECK_OK(ct_device_name_canonicalize(once, twice, BUF));
    CHECK_EQ_STR(once, twice);
    ct_device_name a, b;
    CHECK_OK(ct_device_name_parse(specs[i], &a));
    CHECK_OK(ct_device_name_parse(once, &b));
    CHECK(ct_device_name_matches(&a, &b) && ct_device_name_matches(&b, &a));
  }
}

int main(void) {
  RUN(cc_basic_rejects);
  RUN(cc_basic_accepts);
  RUN(cc_local_names);
  RUN(cc_round_trip_partial_names);
  RUN(cc_are_compatible_dev_names);
  RUN(cc_is_complete_specification);
  RUN(cc_is_specification);
  RUN(matches_edge_cases);
  RUN(cc_merge_dev_names);
  RUN(cc_merge_dev_names_allow_soft_placement);
  RUN(merge_compatible_details);
  RUN(cc_canonicalize_device_name);
  RUN(py_empty_and_constructor);
  RUN(py_to_string);
  RUN(py_to_from_string);
  RUN(py_combine);
  RUN(pydev_canonical_name_and_check_valid);
  RUN(pydev_merge_device_and_ops_docstring);
  RUN(lenient_short_forms);
  RUN(device_form_case_rules);
  RUN(empty_specs_and_separators);
  RUN(wildcards);
  RUN(repeated_components_overwrite);
  RUN(numbers);
  RUN(multiple_device_types);
  RUN(names_and_types);
  RUN(unknown_parts_and_garbage);
  RUN(long_spec_in_message_is_capped);
  RUN(parse_output_untouched_on_error_and_null_args);
  RUN(output_buffer_sizes);
  RUN(format_validates_structs);
  RUN(canonical_form_is_a_fixed_point);
  TEST_MAIN_END();
}
