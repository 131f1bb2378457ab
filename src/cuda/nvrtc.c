/* NVRTC entry points, target choice and compilation (see nvrtc.h). */
#include "cuda/nvrtc.h"

#include <dlfcn.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuda/kernel_sources.h"

#define NVRTC_SUCCESS 0

static ct_status bind_one(void *handle, const char *name, void **slot, bool required) {
  *slot = dlsym(handle, name);
  if (*slot == NULL && required)
    return ct_error(CT_UNAVAILABLE, "nvrtc: the NVRTC library lacks %s", name);
  return CT_OK;
}

/* nvrtcVersion says 13.0 for every 13.0.x: identify the file itself. */
static void build_id(ct_nvrtc *nv) {
  Dl_info info;
  char real[PATH_MAX];
  const char *file = "?";
  struct stat sb;
  memset(&sb, 0, sizeof sb);
  if (dladdr((void *)(uintptr_t)nv->Version, &info) && info.dli_fname) {
    file = realpath(info.dli_fname, real) ? real : info.dli_fname;
    if (stat(file, &sb) != 0) memset(&sb, 0, sizeof sb);
  }
  snprintf(nv->build_id, sizeof nv->build_id, "%d.%d %s %lld %lld", nv->major, nv->minor, file,
           (long long)sb.st_size, (long long)sb.st_mtime);
}

ct_status ct_nvrtc_bind(void *handle, ct_nvrtc *out) {
  ct_nvrtc nv;
  memset(&nv, 0, sizeof nv);
  if (handle == NULL) return ct_error(CT_INVALID_ARGUMENT, "nvrtc: no library handle");
  nv.handle = handle;
  /* Function pointers travel through void * (POSIX guarantees dlsym's). */
  static const struct {
    const char *name;
    size_t offset;
    bool required;
  } syms[] = {
      {"nvrtcGetErrorString", offsetof(ct_nvrtc, GetErrorString), true},
      {"nvrtcVersion", offsetof(ct_nvrtc, Version), true},
      {"nvrtcCreateProgram", offsetof(ct_nvrtc, CreateProgram), true},
      {"nvrtcDestroyProgram", offsetof(ct_nvrtc, DestroyProgram), true},
      {"nvrtcCompileProgram", offsetof(ct_nvrtc, CompileProgram), true},
      {"nvrtcGetProgramLogSize", offsetof(ct_nvrtc, GetProgramLogSize), true},
      {"nvrtcGetProgramLog", offsetof(ct_nvrtc, GetProgramLog), true},
      {"nvrtcGetPTXSize", offsetof(ct_nvrtc, GetPTXSize), true},
      {"nvrtcGetPTX", offsetof(ct_nvrtc, GetPTX), true},
      {"nvrtcGetCUBINSize", offsetof(ct_nvrtc, GetCUBINSize), false},
      {"nvrtcGetCUBIN", offsetof(ct_nvrtc, GetCUBIN), false},
  };
  for (size_t i = 0; i < CT_ARRAY_LEN(syms); i++) {
    ct_status s = bind_one(handle, syms[i].name, (void **)((char *)&nv + syms[i].offset), syms[i].required);
    if (s != CT_OK) return s;
  }
  if (nv.Version(&nv.major, &nv.minor) != NVRTC_SUCCESS)
    return ct_error(CT_UNAVAILABLE, "nvrtc: nvrtcVersion failed");
  build_id(&nv);
  int (*num_archs)(int *) = (int (*)(int *))dlsym(handle, "nvrtcGetNumSupportedArchs");
  int (*get_archs)(int *) = (int (*)(int *))dlsym(handle, "nvrtcGetSupportedArchs");
  int n = 0;
  if (num_archs && get_archs && num_archs(&n) == NVRTC_SUCCESS && n > 0 && n <= (int)CT_ARRAY_LEN(nv.archs)) {
    if (get_archs(nv.archs) == NVRTC_SUCCESS) nv.n_archs = n;
  }
  *out = nv;
  return CT_OK;
}

ct_status ct_nvrtc_pick_target(const ct_nvrtc *nv, int cc_major, int cc_minor, ct_nvrtc_target *out) {
  int want = cc_major * 10 + cc_minor;
  memset(out, 0, sizeof *out);
  if (cc_major <= 0 || cc_minor < 0) return ct_error(CT_INVALID_ARGUMENT, "nvrtc: bad compute capability %d.%d", cc_major, cc_minor);
  int pick = 0;
  bool cubin = true;
  if (nv->n_archs == 0) {
    pick = want; /* an NVRTC too old to list its architectures: ask for ours */
  } else {
    int lo = nv->archs[0], hi = nv->archs[0];
    for (int i = 0; i < nv->n_archs; i++) {
      int a = nv->archs[i];
      if (a < lo) lo = a;
      if (a > hi) hi = a;
      if (a == want) pick = a;
      /* a cubin for an older minor revision of the same major runs here */
      if (pick != want && a / 10 == cc_major && a < want && a > pick) pick = a;
    }
    if (pick == 0 && want > hi) {
      pick = hi;
      cubin = false;
    }
    if (pick == 0)
      return ct_error(CT_UNAVAILABLE,
                      "nvrtc: NVRTC %d.%d cannot compile for sm_%d (it supports sm_%d to sm_%d); an NVRTC "
                      "from an older CUDA toolkit is needed for this GPU",
                      nv->major, nv->minor, want, lo, hi);
  }
  if (cubin && nv->GetCUBIN == NULL) cubin = false;
  out->cubin = cubin;
  snprintf(out->arch, sizeof out->arch, "%s_%d", cubin ? "sm" : "compute", pick);
  snprintf(out->option, sizeof out->option, "-arch=%s", out->arch);
  return CT_OK;
}

int ct_nvrtc_headers(const char **texts, const char **names, int cap) {
  int n = 0;
  for (int i = 0; i < ct_cuda_source_count && n < cap; i++) {
    const char *nm = ct_cuda_sources[i].name;
    size_t len = strlen(nm);
    if ((len > 4 && strcmp(nm + len - 4, ".cuh") == 0) || (len > 2 && strcmp(nm + len - 2, ".h") == 0)) {
      texts[n] = ct_cuda_sources[i].text;
      names[n] = nm;
      n++;
    }
  }
  return n;
}

const ct_cuda_source *ct_cuda_source_find(const char *name) {
  for (int i = 0; i < ct_cuda_source_count; i++)
    if (strcmp(ct_cuda_sources[i].name, name) == 0) return &ct_cuda_sources[i];
  return NULL;
}

static ct_status compile_failed(const ct_nvrtc *nv, ct_nvrtcProgram prog, const ct_nvrtc_target *t,
                                const char *name, ct_nvrtcResult r) {
  char logbuf[600] = "";
  size_t log_size = 0;
  if (prog && nv->GetProgramLogSize(prog, &log_size) == NVRTC_SUCCESS && log_size > 1) {
    char *log = malloc(log_size);
    if (log && nv->GetProgramLog(prog, log) == NVRTC_SUCCESS) {
      snprintf(logbuf, sizeof logbuf, "%s", log);
      for (char *p = logbuf; *p; p++)
        if (*p == '\n') *p = ' ';
    }
    free(log);
  }
  return ct_error(CT_INTERNAL, "nvrtc: compiling %s for %s failed: %s%s%s", name, t->arch, nv->GetErrorString(r),
                  logbuf[0] ? ": " : "", logbuf);
}

ct_status ct_nvrtc_compile(const ct_nvrtc *nv, const ct_nvrtc_target *t, const char *name, const char *src,
                           const char *const *options, int n_options, void **image, size_t *size) {
  const char *htexts[32], *hnames[32];
  int nh = ct_nvrtc_headers(htexts, hnames, 32);
  const char *opts[16];
  int no = 0;
  opts[no++] = t->option;
  for (int i = 0; i < n_options && no < (int)CT_ARRAY_LEN(opts); i++) opts[no++] = options[i];

  /* NVRTC before 12.6.2 could switch the calling thread's locale. */
  locale_t saved = uselocale((locale_t)0);
  ct_nvrtcProgram prog = NULL;
  ct_status st = CT_OK;
  ct_nvrtcResult r = nv->CreateProgram(&prog, src, name, nh, htexts, hnames);
  if (r != NVRTC_SUCCESS) {
    st = compile_failed(nv, NULL, t, name, r);
    goto done;
  }
  r = nv->CompileProgram(prog, no, opts);
  if (r != NVRTC_SUCCESS) {
    st = compile_failed(nv, prog, t, name, r);
    goto done;
  }
  size_t n = 0;
  r = t->cubin ? nv->GetCUBINSize(prog, &n) : nv->GetPTXSize(prog, &n);
  if (r != NVRTC_SUCCESS || n == 0) {
    st = compile_failed(nv, prog, t, name, r);
    goto done;
  }
  char *buf = malloc(n);
  if (buf == NULL) {
    st = ct_error(CT_RESOURCE_EXHAUSTED, "nvrtc: out of host memory for %zu bytes of %s", n, name);
    goto done;
  }
  r = t->cubin ? nv->GetCUBIN(prog, buf) : nv->GetPTX(prog, buf);
  if (r != NVRTC_SUCCESS) {
    free(buf);
    st = compile_failed(nv, prog, t, name, r);
    goto done;
  }
  *image = buf;
  *size = n;
done:
  if (prog) nv->DestroyProgram(&prog);
  uselocale(saved);
  return st;
}
