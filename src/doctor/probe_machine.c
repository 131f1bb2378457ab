/* Probes of the machine and the environment variables a GPU stack reads. */
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "doctor/doctor.h"

/* The variables that decide, before any code runs, which GPU a framework sees
 * and how it behaves. Order is the order printed. */
static const char *const env_names[CT_DR_N_ENV] = {
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
    "CUDA_PATH",            "CUDA_HOME",         "CUDA_CACHE_PATH",        "TF_FORCE_GPU_ALLOW_GROWTH",
    "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS",         "JAX_PLATFORMS",          "CONDA_PREFIX",
    "VIRTUAL_ENV",          "CT_PLACEMENT_REPORT",    "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA",
};

void ct_doctor_probe_env(ct_doctor_report *r) {
  for (int i = 0; i < CT_DR_N_ENV; i++) {
    const char *v = ct_dr_getenv(r, env_names[i]);
    r->env[i].name = env_names[i];
    r->env[i].set = v != NULL;
    ct_dr_strlcpy(r->env[i].value, v ? v : "", sizeof r->env[i].value);
  }
}

/* Value of `key` in a "key : value" line of /proc/cpuinfo. */
static void cpuinfo_field(const char *text, const char *key, char *out, size_t size) {
  const char *p = text;
  size_t klen = strlen(key);
  while ((p = strstr(p, key)) != NULL) {
    if (p == text || p[-1] == '\n') {
      const char *colon = strchr(p + klen, ':');
      const char *nl = strchr(p, '\n');
      if (colon && (!nl || colon < nl)) {
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        size_t n = nl ? (size_t)(nl - colon) : strlen(colon);
        if (n >= size) n = size - 1;
        memcpy(out, colon, n);
        out[n] = '\0';
        return;
      }
    }
    p += klen;
  }
  out[0] = '\0';
}

static bool has_flag(const char *flags, const char *flag) {
  size_t n = strlen(flag);
  for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += n)
    if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
  return false;
}

void ct_dr_parse_os_release(const char *text, char *out, size_t size) {
  const char *p = strstr(text, "PRETTY_NAME=");
  if (!p || size == 0) return;
  p += 12;
  if (*p == '"') p++;
  size_t n = strcspn(p, "\"\n");
  if (n >= size) n = size - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

void ct_dr_parse_cpuinfo(const char *text, ct_doctor_machine *m) {
  char flags[4096];
  cpuinfo_field(text, "model name", m->cpu_model, sizeof m->cpu_model);
  cpuinfo_field(text, "flags", flags, sizeof flags);
  m->has_sse42 = has_flag(flags, "sse4_2");
  m->has_avx = has_flag(flags, "avx");
  m->has_avx2 = has_flag(flags, "avx2");
  m->has_fma = has_flag(flags, "fma");
  m->has_avx512f = has_flag(flags, "avx512f");
}

void ct_doctor_probe_machine(ct_doctor_report *r) {
  ct_doctor_machine *m = &r->machine;
  char path[CT_DR_PATH];
  char local[8192];

  ct_dr_rooted(r, "/etc/os-release", path, sizeof path);
  if (ct_dr_read_file(path, local, sizeof local)) ct_dr_parse_os_release(local, m->os, sizeof m->os);
  struct utsname u;
  if (uname(&u) == 0) {
    snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
    ct_dr_strlcpy(m->arch, u.machine, sizeof m->arch);
  }
  snprintf(m->libc, sizeof m->libc, "glibc %s", gnu_get_libc_version());

  /* /proc/cpuinfo: the first processor's block (well under 8 KiB) holds
   * the model and the flags. */
  char *cpu = local;
  ct_dr_rooted(r, "/proc/cpuinfo", path, sizeof path);
  if (ct_dr_read_file(path, cpu, sizeof local)) ct_dr_parse_cpuinfo(cpu, m);
  if (r->opt.root[0] == '\0') {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->cores = n > 0 ? (int)n : 0;
  }

  ct_dr_rooted(r, "/proc/meminfo", path, sizeof path);
  if (ct_dr_read_file(path, local, sizeof local)) {
    const char *p = strstr(local, "MemTotal:");
    if (p) m->memory_bytes = (uint64_t)strtoull(p + 9, NULL, 10) * 1024u;
  }

  /* Container hints: GPUs in containers need the NVIDIA container toolkit,
   * which is the usual reason a driver is missing inside one. */
  ct_dr_rooted(r, "/.dockerenv", path, sizeof path);
  if (ct_dr_exists(path)) ct_dr_strlcpy(m->container, "docker", sizeof m->container);
  ct_dr_rooted(r, "/run/.containerenv", path, sizeof path);
  if (!m->container[0] && ct_dr_exists(path)) ct_dr_strlcpy(m->container, "podman", sizeof m->container);
  if (!m->container[0] && ct_dr_getenv(r, "KUBERNETES_SERVICE_HOST"))
    ct_dr_strlcpy(m->container, "kubernetes", sizeof m->container);
  if (!m->container[0]) {
    const char *c = ct_dr_getenv(r, "container");
    if (c && *c) ct_dr_strlcpy(m->container, c, sizeof m->container);
  }
}
