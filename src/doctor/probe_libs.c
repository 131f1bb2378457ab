/*
 * CUDA libraries anywhere a framework would look: LD_LIBRARY_PATH, the
 * ld.so cache, the system directories, /usr/local/cuda*, $CUDA_PATH,
 * conda environments and pip nvidia-* wheels. Each library is reported once
 * (by real path) with its version read from the library itself where that
 * is cheap (cudart, cuDNN, NVRTC, NCCL: a dlopen and one call), otherwise
 * from the real file name or the wheel's metadata (cuBLAS: opening it costs
 * 55-400 ms, more than the doctor's whole budget allows).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doctor/doctor.h"

static const char *const lib_prefix[CT_LIB_KIND_COUNT] = {"libcudart.so.", "libcublas.so.", "libcudnn.so.",
                                                          "libnvrtc.so.", "libnccl.so."};
/* The dist-info prefixes of the NVIDIA wheels that carry each library. */
static const char *const wheel_prefix[CT_LIB_KIND_COUNT] = {"nvidia_cuda_runtime", "nvidia_cublas", "nvidia_cudnn",
                                                            "nvidia_cuda_nvrtc", "nvidia_nccl"};

static void add_dir(ct_doctor_report *r, const char *dir, const char *where, bool rooted) {
  char path[CT_DR_PATH];
  if (rooted) ct_dr_rooted(r, dir, path, sizeof path);
  else ct_dr_strlcpy(path, dir, sizeof path);
  if (!ct_dr_is_dir(path)) return;
  for (int i = 0; i < r->n_search_dirs; i++)
    if (strcmp(r->search_dirs[i], path) == 0) return;
  if (r->n_search_dirs >= CT_DR_MAX_SEARCH_DIRS) return;
  ct_dr_strlcpy(r->search_dirs[r->n_search_dirs], path, CT_DR_PATH);
  ct_dr_strlcpy(r->search_where[r->n_search_dirs], where, 64);
  r->n_search_dirs++;
}

/* The directories the ld.so cache points at for our libraries. The cache
 * ("glibc-ld.so.cache1.1", possibly after an old "ld.so-1.7.0" table) is a
 * header, fixed-size entries and a string table; offsets are relative to
 * the new header. Parsing it avoids running `ldconfig -p`. Every offset and
 * count comes from the file, so each is checked against n before use. */
void ct_dr_parse_ld_cache(const unsigned char *buf, size_t n, void (*fn)(void *ctx, const char *dir), void *ctx) {
  static const char magic[] = "glibc-ld.so.cache1.1";
  const size_t mlen = sizeof magic - 1;
  const size_t header = 48, entry = 24;
  const unsigned char *base = NULL;
  for (size_t i = 0; i + mlen <= n && i < 1u << 20; i += 4)
    if (memcmp(buf + i, magic, mlen) == 0) {
      base = buf + i;
      break;
    }
  if (!base) return;
  size_t off = (size_t)(base - buf);
  if (n - off < header) return; /* the count sits right after the magic */
  uint32_t nlibs;
  memcpy(&nlibs, base + mlen, 4);
  for (uint32_t k = 0; k < nlibs && off + header + ((size_t)k + 1) * entry <= n; k++) {
    const unsigned char *e = base + header + (size_t)k * entry;
    uint32_t key, value;
    memcpy(&key, e + 4, 4);
    memcpy(&value, e + 8, 4);
    if (off + key >= n || off + value >= n) continue;
    const char *name = (const char *)base + key;
    const char *full = (const char *)base + value;
    if (!memchr(name, '\0', n - off - key) || !memchr(full, '\0', n - off - value)) continue;
    bool ours = false;
    for (int kind = 0; kind < CT_LIB_KIND_COUNT; kind++)
      if (strncmp(name, lib_prefix[kind], strlen(lib_prefix[kind])) == 0) ours = true;
    if (!ours) continue;
    char dir[CT_DR_PATH];
    ct_dr_strlcpy(dir, full, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (!slash) continue;
    *slash = '\0';
    fn(ctx, dir);
  }
}

static void add_ld_cache_dir(void *ctx, const char *dir) { add_dir(ctx, dir, "ld.so cache", true); }

static void add_ld_cache_dirs(ct_doctor_report *r) {
  char path[CT_DR_PATH];
  ct_dr_rooted(r, "/etc/ld.so.cache", path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return;
  size_t cap = 4u << 20, n;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return;
  }
  n = fread(buf, 1, cap, f);
  fclose(f);
  ct_dr_parse_ld_cache(buf, n, add_ld_cache_dir, r);
  free(buf);
}

static void collect_dirs(ct_doctor_report *r) {
  const char *ld = ct_dr_getenv(r, "LD_LIBRARY_PATH");
  if (ld && *ld) {
    char copy[4096];
    ct_dr_strlcpy(copy, ld, sizeof copy);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
      add_dir(r, dir, "LD_LIBRARY_PATH", true);
  }
  add_ld_cache_dirs(r);
  static const char *const sys[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu"};
  for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) add_dir(r, sys[i], "system directory", true);

  const char *cp[] = {ct_dr_getenv(r, "CUDA_PATH"), ct_dr_getenv(r, "CUDA_HOME")};
  for (int i = 0; i < 2; i++)
    if (cp[i] && *cp[i]) {
      char d[CT_DR_PATH];
      snprintf(d, sizeof d, "%s/lib64", cp[i]);
      add_dir(r, d, i ? "CUDA_HOME" : "CUDA_PATH", true);
    }
  char local[CT_DR_PATH];
  ct_dr_rooted(r, "/usr/local", local, sizeof local);
  DIR *d = opendir(local);
  if (d) {
    struct dirent *e;
    char names[16][256];
    int nn = 0;
    while ((e = readdir(d)) != NULL && nn < 16)
      if (strncmp(e->d_name, "cuda", 4) == 0) ct_dr_strlcpy(names[nn++], e->d_name, 256);
    closedir(d);
    /* "cuda" (the link to the default toolkit) first, then sorted. */
    for (int i = 1; i < nn; i++)
      for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
        char t[256];
        memcpy(t, names[j], 256);
        memcpy(names[j], names[j - 1], 256);
        memcpy(names[j - 1], t, 256);
      }
    for (int i = 0; i < nn; i++)
      for (int k = 0; k < 2; k++) {
        char dir[CT_DR_PATH + 300];
        snprintf(dir, sizeof dir, "/usr/local/%s/%s", names[i], k ? "lib" : "lib64");
        char where[64];
        snprintf(where, sizeof where, "/usr/local/%s", names[i]);
        add_dir(r, dir, where, true);
      }
  }
  for (int s = 0; s < r->n_sites; s++) {
    if (r->sites[s].conda && r->sites[s].conda_prefix[0]) {
      char dir[CT_DR_PATH + 8];
      snprintf(dir, sizeof dir, "%s/lib", r->sites[s].conda_prefix);
      add_dir(r, dir, "conda env", false);
    }
    char nv[CT_DR_PATH + 16];
    snprintf(nv, sizeof nv, "%s/nvidia", r->sites[s].dir);
    DIR *w = opendir(nv);
    if (!w) continue;
    struct dirent *e;
    while ((e = readdir(w)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char dir[CT_DR_PATH + 300];
      snprintf(dir, sizeof dir, "%s/%s/lib", nv, e->d_name);
      add_dir(r, dir, "pip wheel", false);
    }
    closedir(w);
  }
}

/* "9.19.0" from a wheel's dist-info next to the library: the pip layout
 * (site/nvidia/<x>/lib) or a toolkit unpacked from wheels (<prefix>/lib next
 * to <prefix>/dist-info). Only accepted when its major matches the soname. */
/* "/usr/local/cuda-12.4/lib64/..." -> 12 (0 when no cuda-NN component). */
static int cuda_major_from_path(const char *path) {
  for (const char *p = strstr(path, "/cuda-"); p; p = strstr(p + 1, "/cuda-"))
    if (p[6] >= '0' && p[6] <= '9') return atoi(p + 6);
  return 0;
}

static bool wheel_version(const char *libdir, ct_doctor_lib_kind kind, int major, char *out, size_t size,
                          int *cuda_major) {
  char cands[2][CT_DR_PATH + 32];
  snprintf(cands[0], sizeof cands[0], "%s/../../..", libdir);
  snprintf(cands[1], sizeof cands[1], "%s/../dist-info", libdir);
  for (int c = 0; c < 2; c++) {
    DIR *d = opendir(cands[c]);
    if (!d) continue;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)) != NULL) {
      const char *pre = wheel_prefix[kind];
      size_t pl = strlen(pre);
      if (strncmp(e->d_name, pre, pl) != 0 || !strstr(e->d_name, ".dist-info")) continue;
      /* nvidia_cuda_runtime_cu12-12.1.105.dist-info / nvidia_cudnn_cu13-9.19.0.56.dist-info */
      const char *dash = strchr(e->d_name + pl, '-');
      if (!dash) continue;
      char v[64];
      ct_dr_strlcpy(v, dash + 1, sizeof v);
      char *ext = strstr(v, ".dist-info");
      if (ext) *ext = '\0';
      if (atoi(v) != major) continue;
      ct_dr_strlcpy(out, v, size);
      /* "..._cu12-..." names the CUDA major the wheel was built for. */
      const char *cu = strstr(e->d_name + pl, "cu");
      if (cu && cu < dash && cu[2] >= '0' && cu[2] <= '9') *cuda_major = atoi(cu + 2);
      found = true;
    }
    closedir(d);
    if (found) return true;
  }
  return false;
}

typedef int (*int_out_fn)(int *);
typedef int (*two_int_fn)(int *, int *);
typedef size_t (*size_fn)(void);

/* Opens the library and asks it. Returns false when it cannot be opened. */
static bool call_version(ct_doctor_lib *l) {
  if (l->kind == CT_LIB_CUBLAS) return false;
  struct stat st;
  if (stat(l->real_path, &st) != 0 || st.st_size < 1024) return false;
  /* RTLD_NODELETE: these libraries pull in libstdc++, whose start-up
   * allocations would dangle if the code were unmapped at dlclose; the
   * mapping stays for the process (the runtime opens the same files). */
  void *h = dlopen(l->real_path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
  if (!h) {
    (void)dlerror();
    return false;
  }
  bool ok = false;
  if (l->kind == CT_LIB_CUDART) {
    int_out_fn f = (int_out_fn)(uintptr_t)dlsym(h, "cudaRuntimeGetVersion");
    int v = 0;
    if (f && f(&v) == 0 && v > 0) {
      snprintf(l->version, sizeof l->version, "%d.%d", v / 1000, (v % 1000) / 10);
      ok = true;
    }
  } else if (l->kind == CT_LIB_NVRTC) {
    two_int_fn f = (two_int_fn)(uintptr_t)dlsym(h, "nvrtcVersion");
    int a = 0, b = 0;
    if (f && f(&a, &b) == 0) {
      snprintf(l->version, sizeof l->version, "%d.%d", a, b);
      ok = true;
    }
  } else if (l->kind == CT_LIB_CUDNN) {
    size_fn f = (size_fn)(uintptr_t)dlsym(h, "cudnnGetVersion");
    if (f) {
      size_t v = f();
      /* cuDNN 9 encodes major*10000 + minor*100 + patch, 8 and older major*1000 + minor*100 + patch. */
      if (v >= 90000) snprintf(l->version, sizeof l->version, "%zu.%zu.%zu", v / 10000, (v % 10000) / 100, v % 100);
      else snprintf(l->version, sizeof l->version, "%zu.%zu.%zu", v / 1000, (v % 1000) / 100, v % 100);
      ok = v > 0;
    }
  } else if (l->kind == CT_LIB_NCCL) {
    int_out_fn f = (int_out_fn)(uintptr_t)dlsym(h, "ncclGetVersion");
    int v = 0;
    if (f && f(&v) == 0 && v > 0) {
      /* NCCL >= 2.9 encodes major*10000 + minor*100 + patch, older major*1000 + ... */
      if (v >= 20900) snprintf(l->version, sizeof l->version, "%d.%d.%d", v / 10000, (v % 10000) / 100, v % 100);
      else snprintf(l->version, sizeof l->version, "%d.%d.%d", v / 1000, (v % 1000) / 100, v % 100);
      ok = true;
    }
  }
  dlclose(h);
  if (ok) ct_dr_strlcpy(l->version_source, "library call", sizeof l->version_source);
  return ok;
}

static void scan_dir(ct_doctor_report *r, const char *dir, const char *where) {
  DIR *d = opendir(dir);
  if (!d) return;
  char best[CT_LIB_KIND_COUNT][256];
  memset(best, 0, sizeof best);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    for (int k = 0; k < CT_LIB_KIND_COUNT; k++) {
      size_t pl = strlen(lib_prefix[k]);
      if (strncmp(e->d_name, lib_prefix[k], pl) != 0 || !(e->d_name[pl] >= '0' && e->d_name[pl] <= '9')) continue;
      /* The shortest versioned name is the soname a program asks for. */
      if (!best[k][0] || strlen(e->d_name) < strlen(best[k])) ct_dr_strlcpy(best[k], e->d_name, 256);
    }
  closedir(d);
  for (int k = 0; k < CT_LIB_KIND_COUNT; k++) {
    if (!best[k][0] || r->n_libs >= CT_DR_MAX_LIBS) continue;
    ct_doctor_lib l;
    memset(&l, 0, sizeof l);
    l.kind = (ct_doctor_lib_kind)k;
    snprintf(l.path, sizeof l.path, "%s/%s", dir, best[k]);
    char real[PATH_MAX];
    if (!realpath(l.path, real)) continue;
    ct_dr_strlcpy(l.real_path, real, sizeof l.real_path);
    bool dup = false;
    for (int i = 0; i < r->n_libs; i++)
      if (strcmp(r->libs[i].real_path, l.real_path) == 0) dup = true;
    if (dup) continue;
    ct_dr_strlcpy(l.where, where, sizeof l.where);
    l.loader_visible = strcmp(where, "LD_LIBRARY_PATH") == 0 || strcmp(where, "ld.so cache") == 0 ||
                       strcmp(where, "system directory") == 0;
    const char *sv = best[k] + strlen(lib_prefix[k]);
    ct_dr_strlcpy(l.soname_version, sv, sizeof l.soname_version);
    l.soname_major = atoi(sv);
    /* Full version from the real file name (libcublas.so.12.1.3.1). */
    const char *rb = strrchr(real, '/');
    bool from_file = false;
    rb = rb ? rb + 1 : real;
    if (strncmp(rb, lib_prefix[k], strlen(lib_prefix[k])) == 0) {
      const char *fv = rb + strlen(lib_prefix[k]);
      int dots = 0;
      for (const char *c = fv; *c; c++) dots += *c == '.';
      if (dots >= 1) {
        ct_dr_strlcpy(l.file_version, fv, sizeof l.file_version);
        from_file = true;
      }
    }
    /* A wheel beside the library may tell its version and its CUDA major
     * even when the file name tells the version. */
    char wheel_v[32] = "";
    wheel_version(dir, l.kind, l.soname_major, wheel_v, sizeof wheel_v, &l.cuda_major);
    if (!l.file_version[0]) ct_dr_strlcpy(l.file_version, wheel_v, sizeof l.file_version);
    if (!l.cuda_major) l.cuda_major = cuda_major_from_path(l.real_path);
    if (!call_version(&l)) {
      if (l.file_version[0]) {
        ct_dr_strlcpy(l.version, l.file_version, sizeof l.version);
        ct_dr_strlcpy(l.version_source, from_file ? "file name" : "wheel metadata", sizeof l.version_source);
      } else {
        ct_dr_strlcpy(l.version, l.soname_version, sizeof l.version);
        ct_dr_strlcpy(l.version_source, "soname", sizeof l.version_source);
      }
    }
    r->libs[r->n_libs++] = l;
  }
}

void ct_doctor_probe_libs(ct_doctor_report *r) {
  collect_dirs(r);
  for (int i = 0; i < r->n_search_dirs; i++) scan_dir(r, r->search_dirs[i], r->search_where[i]);
}

const ct_doctor_lib *ct_doctor_find_lib(const ct_doctor_report *r, ct_doctor_lib_kind kind, const char *soname,
                                        int site_or_neg) {
  const ct_doctor_lib *any = NULL;
  for (int i = 0; i < r->n_libs; i++) {
    const ct_doctor_lib *l = &r->libs[i];
    if (l->kind != kind) continue;
    if (soname && strcmp(l->soname_version, soname) != 0) continue;
    bool reachable = l->loader_visible;
    if (site_or_neg >= 0) {
      const ct_doctor_site *s = &r->sites[site_or_neg];
      size_t n = strlen(s->dir);
      if (strncmp(l->path, s->dir, n) == 0) reachable = true; /* the site's own nvidia wheels */
      if (s->conda && s->conda_prefix[0] && strncmp(l->path, s->conda_prefix, strlen(s->conda_prefix)) == 0)
        reachable = true;
    }
    if (reachable) return l;
    if (!any) any = l;
  }
  return site_or_neg == -2 ? any : NULL;
}

bool ct_doctor_lib_wrong_cuda(const ct_doctor_lib *l, const char *cuda, char *why, size_t size) {
  int want = atoi(cuda);
  if (!l || l->cuda_major <= 0 || want <= 0 || l->cuda_major == want) return false;
  snprintf(why, size, "cuDNN %s at %s is built for CUDA %d, not CUDA %d", l->version, l->path, l->cuda_major, want);
  return true;
}
