/*
 * Device names in TensorFlow's grammar: parsing, canonical text, and the two
 * merge rules (nested scopes and placement constraints).
 *
 * TensorFlow has two parsers, C++ ParseFullName and Python
 * DeviceSpec.from_string, which disagree on many inputs; this one picks a
 * side on purpose each time, and docs/device-names.md lists every case.
 * In short:
 * the split-on-'/' then split-on-':' structure, the lenient bare device
 * forms, the uppercasing of cpu/gpu and the "multiple device types" error
 * come from Python (what TF2's tf.device uses); the lexical rules for job
 * and type names, non-negative decimal indices and '*' wildcards on every
 * field come from C++.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/* Bad specs are quoted in messages; cap what we echo back. */
#define SPEC_FMT "'%.200s'"

/* Python's DeviceSpec accepts these in the bare form ("gpu:0", "TPU"),
 * case-insensitively. ctensor has no registry of plugin device types, so
 * the fixed set is all there is. */
static const char *const bare_types[] = {"CPU", "GPU", "TPU", "CUSTOM", "EPU"};

/* A piece of the spec between two '/', not NUL-terminated. */
typedef struct {
  const char *s;
  size_t len;
} span;

static bool span_eq(span a, const char *lit) { return a.len == strlen(lit) && memcmp(a.s, lit, a.len) == 0; }

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* TensorFlow's job and device-type names: [A-Za-z][A-Za-z0-9_]*. */
static bool is_identifier(const char *s, size_t len) {
  if (len == 0 || !is_alpha(s[0])) return false;
  for (size_t i = 1; i < len; i++)
    if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_') return false;
  return true;
}

static bool is_wildcard(span v) { return v.len == 1 && v.s[0] == '*'; }

/* Decimal digits only, as C++'s ConsumeNumber; a leading '-' gets its own
 * message because "negative" is what the user needs to hear. */
static ct_status parse_index(const char *spec, const char *what, span v, int *out) {
  int shown = (int)(v.len > 40 ? 40 : v.len);
  if (v.len > 1 && v.s[0] == '-') {
    bool digits = true;
    for (size_t i = 1; i < v.len; i++) digits = digits && is_digit(v.s[i]);
    if (digits)
      return ct_error(CT_INVALID_ARGUMENT, "invalid device spec " SPEC_FMT ": %s must not be negative: %.*s", spec,
                      what, shown, v.s);
  }
  long long value = 0;
  for (size_t i = 0; i < v.len || v.len == 0; i++) {
    if (v.len == 0 || !is_digit(v.s[i]))
      return ct_error(CT_INVALID_ARGUMENT,
                      "invalid device spec " SPEC_FMT ": invalid literal for int as %s: '%.*s' (expected a "
                      "non-negative decimal number or '*')",
                      spec, what, shown, v.s);
    value = value * 10 + (v.s[i] - '0');
    if (value > INT_MAX)
      return ct_error(CT_INVALID_ARGUMENT, "invalid device spec " SPEC_FMT ": %s %.*s is out of range (max %d)",
                      spec, what, shown, v.s, INT_MAX);
  }
  *out = (int)value;
  return CT_OK;
}

static ct_status parse_identifier(const char *spec, const char *what, span v, char *dst) {
  if (!is_identifier(v.s, v.len))
    return ct_error(CT_INVALID_ARGUMENT,
                    "invalid device spec " SPEC_FMT ": bad %s '%.*s' (expected a letter followed by letters, "
                    "digits or '_')",
                    spec, what, (int)(v.len > 64 ? 64 : v.len), v.s);
  if (v.len >= CT_DEVICE_FIELD_MAX)
    return ct_error(CT_INVALID_ARGUMENT, "invalid device spec " SPEC_FMT ": %s '%.*s...' is longer than %d characters",
                    spec, what, 20, v.s, CT_DEVICE_FIELD_MAX - 1);
  memcpy(dst, v.s, v.len);
  dst[v.len] = '\0';
  return CT_OK;
}

/* "*" or an index; sets *has accordingly. */
static ct_status parse_optional_index(const char *spec, const char *what, span v, bool *has, int *out) {
  if (is_wildcard(v)) {
    *has = false;
    return CT_OK;
  }
  ct_status st = parse_index(spec, what, v, out);
  if (st == CT_OK) *has = true;
  return st;
}

/* Index into bare_types when `key` names one case-insensitively, else -1. */
static int bare_type_index(span key) {
  for (size_t i = 0; i < CT_ARRAY_LEN(bare_types); i++) {
    size_t n = strlen(bare_types[i]);
    if (key.len != n) continue;
    size_t j = 0;
    while (j < n && toupper((unsigned char)key.s[j]) == bare_types[i][j]) j++;
    if (j == n) return (int)i;
  }
  return -1;
}

/* One '/'-separated component, already split on ':' into parts[0..n). */
static ct_status parse_component(const char *spec, span piece, const span *parts, int n, ct_device_name *d,
                                 bool *seen_type) {
  span key = parts[0];
  int shown = (int)(piece.len > 80 ? 80 : piece.len);
  ct_status st;
  if (span_eq(key, "job") || span_eq(key, "replica") || span_eq(key, "task")) {
    if (n != 2)
      return ct_error(CT_INVALID_ARGUMENT,
                      "invalid device spec " SPEC_FMT ": malformed component '%.*s' (expected %.*s:VALUE)", spec,
                      shown, piece.s, (int)key.len, key.s);
    if (key.s[0] == 'j') {
      if (is_wildcard(parts[1])) {
        d->has_job = false;
        d->job[0] = '\0';
        return CT_OK;
      }
      st = parse_identifier(spec, "job name", parts[1], d->job);
      if (st == CT_OK) d->has_job = true;
      return st;
    }
    if (key.s[0] == 'r') return parse_optional_index(spec, "replica", parts[1], &d->has_replica, &d->replica);
    return parse_optional_index(spec, "task", parts[1], &d->has_task, &d->task);
  }

  bool device_form = span_eq(key, "device");
  int bare = device_form ? -1 : bare_type_index(key);
  if ((device_form && (n == 2 || n == 3)) || (bare >= 0 && n <= 2)) {
    /* C++ would let a later type overwrite an earlier one; Python refuses,
     * and a spec naming two types is surely a mistake. */
    if (*seen_type)
      return ct_error(CT_INVALID_ARGUMENT,
                      "invalid device spec " SPEC_FMT ": Multiple device types are not allowed (second one: '%.*s')",
                      spec, shown, piece.s);
    *seen_type = true;
    span index = {NULL, 0};
    bool has_index = false;
    if (device_form) {
      span type = parts[1];
      if (is_wildcard(type)) {
        d->has_type = false;
        d->type[0] = '\0';
      } else {
        st = parse_identifier(spec, "device type", type, d->type);
        if (st != CT_OK) return st;
        /* Python uppercases exactly these two, for backward compatibility;
         * every other type is case-sensitive ("/device:Gpu:0" stays Gpu). */
        if (strcmp(d->type, "cpu") == 0 || strcmp(d->type, "gpu") == 0)
          for (char *c = d->type; *c; c++) *c = (char)toupper((unsigned char)*c);
        d->has_type = true;
      }
      if (n == 3) {
        index = parts[2];
        has_index = true;
      }
    } else {
      strcpy(d->type, bare_types[bare]);
      d->has_type = true;
      if (n == 2) {
        index = parts[1];
        has_index = true;
      }
    }
    if (!has_index) {
      d->has_id = false;
      return CT_OK;
    }
    return parse_optional_index(spec, "device index", index, &d->has_id, &d->id);
  }
  if (device_form || bare >= 0)
    return ct_error(CT_INVALID_ARGUMENT, "invalid device spec " SPEC_FMT ": malformed component '%.*s' (expected %s)",
                    spec, shown, piece.s,
                    device_form ? "device:TYPE or device:TYPE:N" : "TYPE or TYPE:N");
  if (key.len == 0)
    return ct_error(CT_INVALID_ARGUMENT, "invalid device spec " SPEC_FMT ": component '%.*s' has no attribute name",
                    spec, shown, piece.s);
  return ct_error(CT_INVALID_ARGUMENT,
                  "invalid device spec " SPEC_FMT ": Unknown attribute '%.*s' (expected job:, replica:, task:, "
                  "device:TYPE:N or CPU/GPU[:N])",
                  spec, (int)(key.len > 64 ? 64 : key.len), key.s);
}

ct_status ct_device_name_parse(const char *spec, ct_device_name *out) {
  if (spec == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_name_parse: NULL argument");
  ct_device_name d;
  memset(&d, 0, sizeof d);
  bool seen_type = false;
  const char *p = spec;
  while (*p) {
    /* Empty components ("//", a leading or trailing '/') are skipped, as
     * Python does; so "" and "/" are the empty spec. */
    if (*p == '/') {
      p++;
      continue;
    }
    const char *end = strchr(p, '/');
    if (end == NULL) end = p + strlen(p);
    /* At most 3 parts are ever valid; a fourth means "too many ':'". */
    span parts[4];
    int n = 0;
    const char *q = p;
    for (;;) {
      const char *colon = memchr(q, ':', (size_t)(end - q));
      const char *stop = colon ? colon : end;
      if (n < 4) parts[n++] = (span){q, (size_t)(stop - q)};
      else parts[3].len = (size_t)(stop - parts[3].s);
      if (colon == NULL) break;
      q = colon + 1;
    }
    span piece = {p, (size_t)(end - p)};
    if (n == 4)
      return ct_error(CT_INVALID_ARGUMENT,
                      "invalid device spec " SPEC_FMT ": malformed component '%.*s' (too many ':')", spec,
                      (int)(piece.len > 80 ? 80 : piece.len), piece.s);
    ct_status st = parse_component(spec, piece, parts, n, &d, &seen_type);
    if (st != CT_OK) return st;
    p = end;
  }
  *out = d;
  return CT_OK;
}

/* Checks a caller-filled struct so that formatting never emits a name that
 * would not parse back to the same struct. */
static ct_status check_field(const char *what, bool has, const char *value) {
  if (!has) return CT_OK;
  size_t len = strnlen(value, CT_DEVICE_FIELD_MAX);
  if (len == CT_DEVICE_FIELD_MAX)
    return ct_error(CT_INVALID_ARGUMENT, "device_name_format: %s is not terminated within %d bytes", what,
                    CT_DEVICE_FIELD_MAX);
  if (!is_identifier(value, len))
    return ct_error(CT_INVALID_ARGUMENT,
                    "device_name_format: bad %s '%s' (expected a letter followed by letters, digits or '_')", what,
                    value);
  return CT_OK;
}

static ct_status check_number(const char *what, bool has, int value) {
  if (has && value < 0)
    return ct_error(CT_INVALID_ARGUMENT, "device_name_format: %s must not be negative: %d", what, value);
  return CT_OK;
}

/* Appends with snprintf; `len` keeps the full length even past `size`. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) *len += (size_t)n;
}

/* Text of a valid name into tmp (CT_DEVICE_NAME_MAX always suffices:
 * two 63-character names and three 10-digit numbers need under 200). */
static size_t render(const ct_device_name *n, char *tmp, size_t size) {
  size_t len = 0;
  tmp[0] = '\0';
  if (n->has_job) append(tmp, size, &len, "/job:%s", n->job);
  if (n->has_replica) append(tmp, size, &len, "/replica:%d", n->replica);
  if (n->has_task) append(tmp, size, &len, "/task:%d", n->task);
  /* TensorFlow drops an index that has no type; "/device:*:N" keeps it and
   * parses back to the same thing in both C++ and ctensor. */
  if (n->has_type || n->has_id) {
    const char *type = n->has_type ? n->type : "*";
    /* As Python's DeviceSpec constructor, for hand-filled structs. */
    if (strcmp(type, "cpu") == 0) type = "CPU";
    if (strcmp(type, "gpu") == 0) type = "GPU";
    append(tmp, size, &len, "/device:%s:", type);
    if (n->has_id) append(tmp, size, &len, "%d", n->id);
    else append(tmp, size, &len, "*");
  }
  return len;
}

static ct_status copy_out(const char *fn, const char *text, size_t len, char *out, size_t out_size) {
  if (out == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL output buffer", fn);
  if (len + 1 > out_size)
    return ct_error(CT_OUT_OF_RANGE, "%s: output buffer too small for '%s': needs %zu bytes, out_size is %zu", fn,
                    text, len + 1, out_size);
  memcpy(out, text, len + 1);
  return CT_OK;
}

/* For names this file built from parsed specs, which are valid by
 * construction. */
static ct_status format_as(const char *fn, const ct_device_name *n, char *out, size_t out_size) {
  char tmp[CT_DEVICE_NAME_MAX];
  size_t len = render(n, tmp, sizeof tmp);
  if (len >= sizeof tmp) /* cannot happen for checked fields; never read past tmp */
    return ct_error(CT_INTERNAL, "%s: device name longer than %d bytes", fn, CT_DEVICE_NAME_MAX - 1);
  return copy_out(fn, tmp, len, out, out_size);
}

ct_status ct_device_name_format(const ct_device_name *name, char *out, size_t out_size) {
  if (name == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_name_format: NULL argument");
  ct_status st;
  if ((st = check_field("job", name->has_job, name->job)) != CT_OK ||
      (st = check_field("device type", name->has_type, name->type)) != CT_OK ||
      (st = check_number("replica", name->has_replica, name->replica)) != CT_OK ||
      (st = check_number("task", name->has_task, name->task)) != CT_OK ||
      (st = check_number("device index", name->has_id, name->id)) != CT_OK)
    return st;
  return format_as("device_name_format", name, out, out_size);
}

ct_status ct_device_name_canonicalize(const char *spec, char *out, size_t out_size) {
  if (spec == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_name_canonicalize: NULL argument");
  ct_device_name n;
  ct_status st = ct_device_name_parse(spec, &n);
  if (st != CT_OK) return st;
  return format_as("device_name_canonicalize", &n, out, out_size);
}

ct_status ct_device_name_merge(const char *outer, const char *inner, char *out, size_t out_size) {
  if (outer == NULL || inner == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "device_name_merge: NULL argument");
  ct_device_name o, i;
  ct_status st;
  if ((st = ct_device_name_parse(outer, &o)) != CT_OK || (st = ct_device_name_parse(inner, &i)) != CT_OK) return st;
  /* DeviceSpec.make_merged_spec: field by field, independently. The index
   * is its own field, so an inner "CPU" under an outer "/GPU:1" keeps
   * index 1 -- TensorFlow's behaviour, kept on purpose. */
  if (i.has_job) {
    o.has_job = true;
    memcpy(o.job, i.job, sizeof o.job);
  }
  if (i.has_replica) {
    o.has_replica = true;
    o.replica = i.replica;
  }
  if (i.has_task) {
    o.has_task = true;
    o.task = i.task;
  }
  if (i.has_type) {
    o.has_type = true;
    memcpy(o.type, i.type, sizeof o.type);
  }
  if (i.has_id) {
    o.has_id = true;
    o.id = i.id;
  }
  return format_as("device_name_merge", &o, out, out_size);
}

static ct_status incompatible(const char *what, const ct_device_name *target, const ct_device_name *other) {
  char a[CT_DEVICE_NAME_MAX], b[CT_DEVICE_NAME_MAX];
  render(target, a, sizeof a);
  render(other, b, sizeof b);
  return ct_error(CT_INVALID_ARGUMENT, "Cannot merge devices with incompatible %s: '%s' and '%s'", what, a, b);
}

/* DeviceNameUtils::MergeDevNames, step for step: `t` is updated in place
 * field by field, so an error message shows the target as merged so far,
 * and a soft-placement type conflict returns before the ids are looked at. */
static ct_status merge_dev_names(ct_device_name *t, const ct_device_name *o, bool allow_soft_placement) {
  if (o->has_job) {
    if (t->has_job && strcmp(t->job, o->job) != 0) return incompatible("jobs", t, o);
    t->has_job = true;
    memcpy(t->job, o->job, sizeof t->job);
  }
  if (o->has_replica) {
    if (t->has_replica && t->replica != o->replica) return incompatible("replicas", t, o);
    t->has_replica = true;
    t->replica = o->replica;
  }
  if (o->has_task) {
    if (t->has_task && t->task != o->task) return incompatible("tasks", t, o);
    t->has_task = true;
    t->task = o->task;
  }
  if (o->has_type) {
    if (t->has_type && strcmp(t->type, o->type) != 0) {
      if (!allow_soft_placement) return incompatible("types", t, o);
      t->has_type = false;
      t->has_id = false;
      return CT_OK;
    }
    t->has_type = true;
    memcpy(t->type, o->type, sizeof t->type);
  }
  if (o->has_id) {
    if (t->has_id && t->id != o->id) {
      if (!allow_soft_placement) return incompatible("ids", t, o);
      t->has_id = false;
      return CT_OK;
    }
    t->has_id = true;
    t->id = o->id;
  }
  return CT_OK;
}

ct_status ct_device_name_merge_compatible(const char *a, const char *b, bool allow_soft_placement, char *out,
                                          size_t out_size) {
  if (a == NULL || b == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "device_name_merge_compatible: NULL argument");
  ct_device_name t, o;
  ct_status st;
  if ((st = ct_device_name_parse(a, &t)) != CT_OK || (st = ct_device_name_parse(b, &o)) != CT_OK) return st;
  if ((st = merge_dev_names(&t, &o, allow_soft_placement)) != CT_OK) return st;
  return format_as("device_name_merge_compatible", &t, out, out_size);
}

static bool field_eq(const char *a, const char *b) { return strncmp(a, b, CT_DEVICE_FIELD_MAX) == 0; }

bool ct_device_name_matches(const ct_device_name *pattern, const ct_device_name *name) {
  if (pattern == NULL || name == NULL) return false;
  if (pattern->has_job && (!name->has_job || !field_eq(pattern->job, name->job))) return false;
  if (pattern->has_replica && (!name->has_replica || pattern->replica != name->replica)) return false;
  if (pattern->has_task && (!name->has_task || pattern->task != name->task)) return false;
  if (pattern->has_type && (!name->has_type || !field_eq(pattern->type, name->type))) return false;
  if (pattern->has_id && (!name->has_id || pattern->id != name->id)) return false;
  return true;
}
