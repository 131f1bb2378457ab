/* Status names and the per-thread last-error message. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/* Like errno: per thread, owned by nobody, overwritten by the next failure. */
static _Thread_local char tls_message[1024];
static _Thread_local ct_status tls_status;

const char *ct_status_name(ct_status status) {
  static const char *const names[] = {
      "OK",        "CANCELLED",          "UNKNOWN",      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",    "INTERNAL",
      "UNAVAILABLE"};
  if ((unsigned)status >= CT_ARRAY_LEN(names)) return "UNKNOWN_STATUS";
  return names[status];
}

const char *ct_last_error(void) { return tls_message; }
ct_status ct_last_status(void) { return tls_status; }

void ct_error_clear(void) {
  tls_message[0] = '\0';
  tls_status = CT_OK;
}

ct_status ct_error_v(ct_status status, const char *fmt, va_list ap) {
  vsnprintf(tls_message, sizeof tls_message, fmt, ap);
  tls_status = status;
  return status;
}

ct_status ct_error(ct_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_error_v(status, fmt, ap);
  va_end(ap);
  return status;
}

ct_status ct_error_prefix(ct_status status, const char *fmt, ...) {
  char prefix[256], old[sizeof tls_message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, tls_message, sizeof old);
  snprintf(tls_message, sizeof tls_message, "%s: %s", prefix, old);
  tls_status = status;
  return status;
}

const char *ct_shape_str(const int64_t *shape, int rank, char *buf, size_t size) {
  size_t n = 0;
  if (size == 0) return buf;
  buf[0] = '\0';
  n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
  for (int i = 0; i < rank && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)shape[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}
