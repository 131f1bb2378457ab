/* Small helpers shared by the doctor's probes, verdicts and reporters. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doctor/doctor.h"

void ct_dr_strlcpy(char *dst, const char *src, size_t size) {
  if (size == 0) return;
  size_t n = src ? strlen(src) : 0;
  if (n >= size) n = size - 1;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
}

void ct_dr_appendf(char *dst, size_t size, const char *fmt, ...) {
  size_t len = strlen(dst);
  if (len + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst + len, size - len, fmt, ap);
  va_end(ap);
}

bool ct_dr_parse_mm(const char *v, int *major, int *minor) {
  if (!v || !isdigit((unsigned char)v[0])) return false;
  char *end;
  long a = strtol(v, &end, 10);
  if (*end != '.' || !isdigit((unsigned char)end[1])) return false;
  long b = strtol(end + 1, NULL, 10);
  *major = (int)a;
  *minor = (int)b;
  return true;
}

/* Numeric, field by field; a missing field counts as 0 ("450" == "450.0").
 * Anything after the digits of a field ("450.x", "12.5?") ends the compare. */
void ct_dr_bare_release(const char *req, char *out, size_t size) {
  while (*req == '>' || *req == '=' || *req == ' ') req++;
  size_t n = 0;
  while ((isdigit((unsigned char)req[n]) || req[n] == '.') && n + 1 < size) n++;
  memcpy(out, req, n);
  out[n] = '\0';
  while (n && out[n - 1] == '.') out[--n] = '\0';
}

int ct_dr_vercmp(const char *a, const char *b) {
  while (*a || *b) {
    if (!isdigit((unsigned char)*a) && !isdigit((unsigned char)*b)) return 0;
    long x = isdigit((unsigned char)*a) ? strtol(a, (char **)&a, 10) : 0;
    long y = isdigit((unsigned char)*b) ? strtol(b, (char **)&b, 10) : 0;
    if (x != y) return x < y ? -1 : 1;
    if (*a == '.') a++;
    else a += strlen(a);
    if (*b == '.') b++;
    else b += strlen(b);
  }
  return 0;
}

void ct_dr_rooted(const ct_doctor_report *r, const char *path, char *out, size_t size) {
  snprintf(out, size, "%s%s", r->opt.root, path);
}

bool ct_dr_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

bool ct_dr_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool ct_dr_read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
  return true;
}

const char *ct_dr_getenv(const ct_doctor_report *r, const char *name) {
  for (int i = 0; i < r->opt.n_env; i++)
    if (strcmp(r->opt.env[i].name, name) == 0) return r->opt.env[i].unset ? NULL : r->opt.env[i].value;
  return getenv(name);
}

ct_doctor_verdict *ct_dr_verdict_add(ct_doctor_report *r, const char *subject) {
  if (r->n_verdicts >= CT_DR_MAX_VERDICTS) return NULL;
  ct_doctor_verdict *v = &r->verdicts[r->n_verdicts++];
  memset(v, 0, sizeof *v);
  v->site = -1;
  v->state = CT_DR_UNKNOWN;
  ct_dr_strlcpy(v->subject, subject, sizeof v->subject);
  return v;
}

void ct_dr_fix(ct_doctor_verdict *v, const char *fmt, ...) {
  if (!v || v->n_fixes >= CT_DR_MAX_FIXES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->fixes[v->n_fixes++], sizeof v->fixes[0], fmt, ap);
  va_end(ap);
}

void ct_dr_note(ct_doctor_verdict *v, const char *fmt, ...) {
  if (!v || v->n_notes >= CT_DR_MAX_NOTES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->notes[v->n_notes++], sizeof v->notes[0], fmt, ap);
  va_end(ap);
}

void ct_dr_cite(ct_doctor_verdict *v, const char *fact, const char *source) {
  if (!v || !fact || !source || !source[0]) return;
  for (int i = 0; i < v->n_cites; i++)
    if (strcmp(v->cite_fact[i], fact) == 0) return;
  if (v->n_cites >= CT_DR_MAX_CITES) return;
  ct_dr_strlcpy(v->cite_fact[v->n_cites], fact, sizeof v->cite_fact[0]);
  ct_dr_strlcpy(v->cite_source[v->n_cites], source, sizeof v->cite_source[0]);
  v->n_cites++;
}

const char *ct_dr_cuda_error_name(int code) {
  switch (code) {
    case 0: return "CUDA_SUCCESS";
    case 1: return "CUDA_ERROR_INVALID_VALUE";
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY";
    case 46: return "CUDA_ERROR_DEVICE_UNAVAILABLE";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 209: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case 222: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case 304: return "CUDA_ERROR_OPERATING_SYSTEM";
    case 802: return "CUDA_ERROR_SYSTEM_NOT_READY";
    case 803: return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case 804: return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
    case 999: return "CUDA_ERROR_UNKNOWN";
    default: return "CUDA error";
  }
}

const char *ct_dr_lib_kind_name(ct_doctor_lib_kind k) {
  static const char *const names[] = {"cudart", "cuBLAS", "cuDNN", "NVRTC", "NCCL"};
  return (unsigned)k < CT_LIB_KIND_COUNT ? names[k] : "?";
}

const char *ct_doctor_driver_release(const ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  if (d->nvml_driver_version[0]) return d->nvml_driver_version;
  if (d->kernel_module_version[0]) return d->kernel_module_version;
  if (d->libcuda_userspace_version[0] && !d->libcuda_is_stub) return d->libcuda_userspace_version;
  return NULL;
}

int ct_doctor_lowest_sm(const char *kernels) {
  int low = 0;
  for (const char *p = kernels; p && (p = strstr(p, "sm_")) != NULL; p += 3) {
    int v = atoi(p + 3);
    if (v > 0 && (low == 0 || v < low)) low = v;
  }
  return low;
}
