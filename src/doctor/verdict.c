/*
 * Verdicts: for ctensor and for every framework found, will the GPU be used,
 * why not, and the exact fixes. Requirements come from compat_tables.c,
 * findings from the probes; nothing here reads the machine.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

/* ---- the machine's driver, summarised once --------------------------- */

typedef enum { DRV_NONE, DRV_STUB, DRV_BROKEN, DRV_UNVERIFIED, DRV_OK } drv_state;

static drv_state driver_state(const ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  if (!d->libcuda_found) return DRV_NONE;
  if (d->libcuda_is_stub) return DRV_STUB;
  if (d->cu_init_result > 0) return DRV_BROKEN;
  if (d->cu_init_result < 0) return DRV_UNVERIFIED;
  return DRV_OK;
}


/* Judges the machine's driver against the floor `need` (bare release,
 * "450.80.02"; "" unknown), described to the user as `req_text`. Adds the
 * fix, or a note that the driver suffices. Returns true when it does. */
static bool driver_meets(const ct_doctor_report *r, ct_doctor_verdict *v, const char *need, const char *req_text,
                         char *missing, size_t msize) {
  drv_state ds = driver_state(r);
  const char *rel = ct_doctor_driver_release(r);
  if (ds == DRV_NONE || ds == DRV_STUB) {
    ct_dr_appendf(missing, msize, "%sNVIDIA driver", missing[0] ? ", " : "");
    if (ds == DRV_STUB && r->n_blockers > 0)
      ; /* the libcuda_stub blocker says what to remove */
    else if (r->driver.wsl)
      ct_dr_fix(v, "WSL2 uses NVIDIA's Windows driver: install or update it on Windows (release %s); do not install "
                   "a Linux driver inside WSL",
                req_text);
    else if (r->machine.container[0])
      ct_dr_fix(v, "the host needs NVIDIA driver %s; the container gets libcuda.so.1 from it through the NVIDIA "
                   "Container Toolkit (`docker run --gpus all ...`)",
                req_text);
    else
      ct_dr_fix(v, "install the NVIDIA driver, release %s", req_text);
    return false;
  }
  if (ds == DRV_BROKEN) {
    ct_dr_appendf(missing, msize, "%sa working NVIDIA driver (cuInit: %s)", missing[0] ? ", " : "",
                  ct_dr_cuda_error_name(r->driver.cu_init_result));
    return false;
  }
  if (rel && need[0] && ct_dr_vercmp(rel, need) < 0) {
    ct_dr_appendf(missing, msize, "%sa newer driver (have %s)", missing[0] ? ", " : "", rel);
    ct_dr_fix(v, "upgrade the NVIDIA driver from %s to %s", rel, req_text);
    return false;
  }
  if (rel) ct_dr_note(v, "driver %s satisfies %s", rel, req_text);
  else if (need[0] && r->gpu_present && !v->driver_unknown) {
    /* Neither ticked nor crossed: say how to find out. */
    v->driver_unknown = true;
    ct_dr_fix(v, "find the driver release with `nvidia-smi`%s and check that it is %s",
              r->driver.wsl ? " (in WSL2 it reports the Windows driver; `nvidia-smi` in Windows shows the same)" : "",
              req_text);
  }
  return true;
}

/* Cites the CUDA toolkit row behind a driver clause. */
static void cite_cuda_row(ct_doctor_verdict *v, const char *cuda) {
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  if (!row) return;
  char fact[CT_DR_TEXT];
  snprintf(fact, sizeof fact, "CUDA %s driver: %s, minor-version compatibility %s", cuda, row->linux_min,
           row->minor_compat);
  ct_dr_cite(v, fact, row->source);
}

/* Adds the driver fixes for a framework built with CUDA `cuda` whose own
 * line asks for `docs_req` (may be NULL), said by `origin` (may be NULL).
 * Returns true when the driver is fine. */
static bool check_driver(const ct_doctor_report *r, ct_doctor_verdict *v, const char *cuda, const char *docs_req,
                         const char *origin, char *missing, size_t msize) {
  char need[64] = "";
  ct_doctor_driver_floor(cuda, docs_req, need, sizeof need);
  char table[CT_DR_TEXT];
  ct_doctor_driver_table_text(cuda, table, sizeof table);
  char req_text[CT_DR_TEXT];
  char by[CT_DR_TEXT] = "";
  if (docs_req && origin) snprintf(by, sizeof by, " per %s", origin);
  if (table[0])
    snprintf(req_text, sizeof req_text, "%s%s%s (%s)", docs_req || !need[0] ? "" : ">=",
             docs_req ? docs_req : need[0] ? need : "new enough", by, table);
  else
    snprintf(req_text, sizeof req_text, "%s%s (CUDA %s)", docs_req ? docs_req : "new enough", by, cuda);
  cite_cuda_row(v, cuda);
  return driver_meets(r, v, need, req_text, missing, msize);
}

/* Python "3.11" inside "3.6-3.8", "2.7,3.3-3.7" or ">=3.8, <=3.11". */
int ct_dr_python_supported(const char *range, const char *ver) {
  if (!range || !ver || !ver[0]) return -1;
  int vm, vn;
  if (!ct_dr_parse_mm(ver, &vm, &vn)) return -1;
  int v = vm * 100 + vn;
  if (strstr(range, ">=")) {
    const char *lo = strstr(range, ">="), *hi = strstr(range, "<=");
    int a, b, c, d;
    if (!lo || !hi || !ct_dr_parse_mm(lo + 2, &a, &b)) return -1;
    const char *h = hi + 2;
    while (*h == ' ' || *h == '(') h++;
    if (!ct_dr_parse_mm(h, &c, &d)) return -1;
    return v >= a * 100 + b && v <= c * 100 + d;
  }
  char copy[64];
  ct_dr_strlcpy(copy, range, sizeof copy);
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int a, b, c = -1, d = -1;
    if (!ct_dr_parse_mm(tok, &a, &b)) continue;
    const char *dash = strchr(tok, '-');
    if (dash && ct_dr_parse_mm(dash + 1, &c, &d)) {
      if (v >= a * 100 + b && v <= c * 100 + d) return 1;
    } else if (v == a * 100 + b) {
      return 1;
    }
  }
  return 0;
}

/* ---- ctensor ------------------------------------------------------------ */

static void verdict_ctensor(ct_doctor_report *r) {
  ct_doctor_verdict *v = ct_dr_verdict_add(r, "ctensor");
  if (!v) return;
  ct_dr_strlcpy(v->package, "ctensor", sizeof v->package);
  ct_dr_strlcpy(v->version, r->ct.version, sizeof v->version);
  const ct_doctor_driver *d = &r->driver;
  if (!r->ct.probed) {
    v->state = CT_DR_UNKNOWN;
    ct_dr_strlcpy(v->reason, "ctensor's devices were not probed", sizeof v->reason);
    return;
  }
  if (r->ct.n_gpus > 0) {
    const ct_physical_device_info *g = &r->ct.gpus[0];
    v->state = CT_DR_GPU_YES;
    snprintf(v->reason, sizeof v->reason, "%d usable GPU%s; ops without a device scope run on %s (%s, compute capability %d.%d)",
             r->ct.n_gpus, r->ct.n_gpus > 1 ? "s" : "", r->ct.default_device, g->model, g->compute_major,
             g->compute_minor);
    if (g->reason == CT_GPU_NO_CUBLAS || g->reason == CT_GPU_NO_NVRTC)
      ct_dr_note(v, "%s: %s", ct_gpu_reason_name(g->reason), g->reason_detail);
    return;
  }
  ct_gpu_reason why = r->ct.reason;
  bool by_design = !r->gpu_present && (why == CT_GPU_NO_DRIVER_LIBRARY || why == CT_GPU_NO_DEVICE ||
                                       why == CT_GPU_DRIVER_IS_STUB || why == CT_GPU_DRIVER_INIT_FAILED);
  if (by_design) {
    v->state = CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason,
             "no NVIDIA GPU on this machine (no /proc/driver/nvidia, no /dev/nvidia*, no NVIDIA PCI display device): "
             "ctensor runs on %s",
             r->ct.default_device[0] ? r->ct.default_device : "CPU:0");
    ct_dr_note(v, "%s: %s", ct_gpu_reason_name(why), r->ct.detail);
    const ct_doctor_lib *rt = ct_doctor_find_lib(r, CT_LIB_CUDART, NULL, -2);
    if (rt)
      ct_dr_note(v, "CUDA %s libraries are installed (%s) but CUDA libraries alone cannot drive a GPU: "
                    "a GPU needs the NVIDIA driver (libcuda.so.1)", rt->version, rt->path);
    if (d->stub_dirs_on_ld_path[0])
      ct_dr_fix(v, "remove %s from LD_LIBRARY_PATH: it holds the CUDA toolkit's stub libcuda.so, which is "
                   "for linking only and fails every call with CUDA_ERROR_STUB_LIBRARY (34)",
                d->stub_dirs_on_ld_path);
    return;
  }
  v->state = CT_DR_GPU_NO;
  snprintf(v->reason, sizeof v->reason, "%s: %s", ct_gpu_reason_name(why), r->ct.detail);
  switch (why) {
    case CT_GPU_NO_DRIVER_LIBRARY:
      if (d->wsl)
        ct_dr_fix(v, "WSL2 gets the GPU from NVIDIA's Windows driver: install or update it on Windows, which provides "
                     "/usr/lib/wsl/lib/libcuda.so.1 (do not install a Linux driver inside WSL); if that file exists, "
                     "put /usr/lib/wsl/lib on the loader path (`sudo ldconfig`)");
      else if (d->proc_present)
        ct_dr_fix(v, "install the user-space part of NVIDIA driver %s (the release of the loaded kernel module) so "
                     "that libcuda.so.1 exists, then run `sudo ldconfig`",
                  d->kernel_module_version[0] ? d->kernel_module_version : "(see /proc/driver/nvidia/version)");
      else
        ct_dr_fix(v, "install the NVIDIA driver (kernel module + libcuda.so.1), then reboot or load it with "
                     "`sudo modprobe nvidia`");
      if (r->machine.container[0])
        ct_dr_fix(v, "inside a container (%s), start it with the NVIDIA Container Toolkit: `docker run --gpus all ...`",
                  r->machine.container);
      break;
    case CT_GPU_DRIVER_IS_STUB:
      if (d->stub_dirs_on_ld_path[0])
        ct_dr_fix(v, "remove %s from LD_LIBRARY_PATH: it holds the CUDA toolkit's stub libcuda.so, which is for "
                     "linking only and fails every call with CUDA_ERROR_STUB_LIBRARY (34)",
                  d->stub_dirs_on_ld_path);
      else
        ct_dr_fix(v, "make sure the libcuda.so.1 that is loaded (%s) is the driver's, not the toolkit's stub: remove "
                     "that file or the directory holding it from the loader path",
                  d->libcuda_path[0] ? d->libcuda_path : "see above");
      if (!d->proc_present) ct_dr_fix(v, "install the NVIDIA driver: this machine has no kernel module loaded");
      break;
    case CT_GPU_DRIVER_INIT_FAILED:
      if (r->n_blockers > 0)
        ; /* the machine-wide blocker's fixes (blockers.c) say it, for every framework */
      else if (d->cu_init_result == 803 || d->userspace_mismatch)
        ct_dr_fix(v, "the kernel module (%s) and the user-space driver (%s) are different releases, typically after "
                     "a driver update: reboot, or reinstall one driver release",
                  d->kernel_module_version[0] ? d->kernel_module_version : "?",
                  d->libcuda_userspace_version[0] ? d->libcuda_userspace_version : "?");
      else if (d->cu_init_result == 999 || !d->uvm_node)
        ct_dr_fix(v, "load the unified-memory module: `sudo modprobe nvidia-uvm` (/dev/nvidia-uvm %s); after a "
                     "suspend/resume, reload it",
                  d->uvm_node ? "exists" : "is missing");
      else if (d->cu_init_result == 100)
        ct_dr_fix(v, "the driver sees no GPU: check `nvidia-smi` and `lspci | grep -i nvidia`");
      else
        ct_dr_fix(v, "run `nvidia-smi`: it prints the driver's own explanation of the failure");
      break;
    case CT_GPU_NO_VISIBLE_DEVICE: {
      if (r->n_blockers > 0) break;
      const char *cvd = ct_dr_getenv(r, "CUDA_VISIBLE_DEVICES");
      const char *nvd = ct_dr_getenv(r, "NVIDIA_VISIBLE_DEVICES");
      if (cvd) ct_dr_fix(v, "unset CUDA_VISIBLE_DEVICES (now \"%s\"; \"\" or -1 hides every GPU) or list the GPU indices to use", cvd);
      if (nvd) ct_dr_fix(v, "start the container with NVIDIA_VISIBLE_DEVICES=all (now \"%s\")", nvd);
      break;
    }
    case CT_GPU_DRIVER_TOO_OLD:
      ct_dr_fix(v, "upgrade the NVIDIA driver (%s)", r->ct.detail);
      break;
    case CT_GPU_ARCH_UNSUPPORTED:
      ct_dr_fix(v, "this GPU's compute capability is older than ctensor supports (%s); use a newer GPU or the CPU",
                r->ct.detail);
      break;
    case CT_GPU_SYMBOL_MISSING:
      ct_dr_fix(v, "upgrade the NVIDIA driver: it lacks an entry point ctensor needs (%s)", r->ct.detail);
      break;
    case CT_GPU_HIDDEN_BY_CONFIG:
      ct_dr_fix(v, "the program hid the GPUs with ct_config_set_visible_devices()");
      break;
    default:
      ct_dr_fix(v, "run `nvidia-smi` and check the driver installation");
      break;
  }
  for (int i = 0; i < r->ct.n_unusable; i++)
    ct_dr_note(v, "%s (%s): %s: %s", r->ct.unusable[i].name, r->ct.unusable[i].model,
               ct_gpu_reason_name(r->ct.unusable[i].reason), r->ct.unusable[i].reason_detail);
}

/* ---- TensorFlow ---------------------------------------------------------- */

static bool is_tf_name(const char *n) {
  return strcmp(n, "tensorflow") == 0 || strcmp(n, "tensorflow-gpu") == 0 || strcmp(n, "tensorflow-cpu") == 0 ||
         strcmp(n, "tensorflow-intel") == 0 || strncmp(n, "tf-nightly", 10) == 0;
}

static void subject_for(const ct_doctor_report *r, int site, const char *name, const char *version, char *out,
                        size_t size) {
  const ct_doctor_site *s = &r->sites[site];
  snprintf(out, size, "%s %s (%s%s%s)", name, version, s->python, s->python_version[0] ? ", Python " : "",
           s->python_version);
}

/* The soname TensorFlow dlopens for CUDA `cuda` ("11.2" -> cudart "11.0"). */
static void tf_sonames(const char *cuda, char *cudart, char *cublas, size_t size) {
  int maj = 0, min = 0;
  ct_dr_parse_mm(cuda, &maj, &min);
  if (maj >= 12) {
    snprintf(cudart, size, "%d", maj);
    snprintf(cublas, size, "%d", maj);
  } else if (maj == 11) {
    snprintf(cudart, size, "11.0");
    snprintf(cublas, size, "11");
  } else {
    snprintf(cudart, size, "%d.%d", maj, min);
    snprintf(cublas, size, min == 0 ? "%d.0" : "%d", maj);
  }
}


static void check_gpu_arch(const ct_doctor_report *r, ct_doctor_verdict *v, const char *kernels, const char *what,
                           char *missing, size_t msize) {
  int low = ct_doctor_lowest_sm(kernels);
  if (!low) return;
  const ct_physical_device_info *all[2 * CT_DR_MAX_GPUS];
  int n = 0;
  for (int i = 0; i < r->ct.n_gpus; i++) all[n++] = &r->ct.gpus[i];
  for (int i = 0; i < r->ct.n_unusable; i++) all[n++] = &r->ct.unusable[i];
  for (int i = 0; i < n; i++) {
    int cc = all[i]->compute_major * 10 + all[i]->compute_minor;
    if (cc == 0) continue;
    if (cc < low) {
      ct_dr_appendf(missing, msize, "%sa GPU with compute capability >= %d.%d", missing[0] ? ", " : "", low / 10,
                    low % 10);
      ct_dr_fix(v, "%s (%s) has compute capability %d.%d; %s ships kernels for %s only%s: it ignores this GPU",
                all[i]->name, all[i]->model, all[i]->compute_major, all[i]->compute_minor, what, kernels,
                strchr(kernels, '?') ? " ('?': not confirmed)" : "");
    }
  }
}

static void tf_requirements(ct_doctor_report *r, ct_doctor_verdict *v, int site, const ct_tf_compat *row,
                            const char *pkg_for_fix) {
  char missing[CT_DR_TEXT * 2] = "";
  char cudart[16], cublas[16];
  tf_sonames(row->cuda, cudart, cublas, sizeof cudart);
  char cudnn[16];
  snprintf(cudnn, sizeof cudnn, "%d", atoi(row->cudnn));
  int tm, tn;
  ct_dr_parse_mm(row->version, &tm, &tn);
  bool and_cuda = tm > 2 || (tm == 2 && tn >= 14);
  /* TensorFlow before 2.14 knows nothing of the nvidia-* wheels; a conda env's
   * lib/ is on its rpath either way. */
  int reach = and_cuda || r->sites[site].conda ? site : -1;
  struct {
    ct_doctor_lib_kind kind;
    const char *soname;
    const char *what;
  } need[] = {{CT_LIB_CUDART, cudart, "CUDA runtime"}, {CT_LIB_CUBLAS, cublas, "cuBLAS"}, {CT_LIB_CUDNN, cudnn, "cuDNN"}};
  bool libs_missing = false;
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    const ct_doctor_lib *l = ct_doctor_find_lib(r, need[i].kind, need[i].soname, reach);
    /* TensorFlow rejects a cuDNN older (in minor) than the one it was built with. */
    if (l && need[i].kind == CT_LIB_CUDNN && strchr(l->version, '.') && ct_dr_vercmp(l->version, row->cudnn) < 0) {
      libs_missing = true;
      ct_dr_appendf(missing, sizeof missing, "%scuDNN >= %s (found %s)", missing[0] ? ", " : "", row->cudnn, l->version);
      ct_dr_note(v, "cuDNN %s at %s is older than the %s TensorFlow %s was built with: TensorFlow refuses it "
                    "(\"CuDNN library needs to have matching major version and equal or higher minor version\")",
                 l->version, l->path, row->cudnn, row->version);
      continue;
    }
    char why[CT_DR_TEXT];
    if (l && need[i].kind == CT_LIB_CUDNN && ct_doctor_lib_wrong_cuda(l, row->cuda, why, sizeof why)) {
      libs_missing = true;
      ct_dr_appendf(missing, sizeof missing, "%scuDNN %s for CUDA %d", missing[0] ? ", " : "", row->cudnn,
                    atoi(row->cuda));
      ct_dr_note(v, "%s: TensorFlow %s is built with CUDA %s and needs a cuDNN for that CUDA major", why, row->version,
                 row->cuda);
      continue;
    }
    if (l) {
      ct_dr_note(v, "%s %s found: %s (%s)", need[i].what, l->version, l->path, l->where);
      continue;
    }
    libs_missing = true;
    ct_dr_appendf(missing, sizeof missing, "%s%s.so.%s", missing[0] ? ", " : "",
                  need[i].kind == CT_LIB_CUDART ? "libcudart" : need[i].kind == CT_LIB_CUBLAS ? "libcublas" : "libcudnn",
                  need[i].soname);
    /* A copy inside another environment (pip wheels, conda) belongs to that
     * environment's CUDA: only system-wide installs are worth pointing at. */
    const ct_doctor_lib *elsewhere = ct_doctor_find_lib(r, need[i].kind, need[i].soname, -2);
    if (elsewhere && (strcmp(elsewhere->where, "pip wheel") == 0 || strcmp(elsewhere->where, "conda env") == 0))
      elsewhere = NULL;
    if (elsewhere) {
      char dir[CT_DR_PATH];
      ct_dr_strlcpy(dir, elsewhere->path, sizeof dir);
      char *slash = strrchr(dir, '/');
      if (slash) *slash = '\0';
      ct_dr_fix(v, "add %s to the loader path: `export LD_LIBRARY_PATH=%s:$LD_LIBRARY_PATH` (or list it in "
                   "/etc/ld.so.conf.d/ and run `sudo ldconfig`)",
                dir, dir);
    } else {
      const ct_doctor_lib *other = ct_doctor_find_lib(r, need[i].kind, NULL, -2);
      const ct_doctor_lib *same = ct_doctor_find_lib(r, need[i].kind, need[i].soname, -2);
      if (same)
        ct_dr_note(v, "%s %s at %s (%s) is not where TensorFlow %s looks: it belongs to another environment",
                   need[i].what, same->version, same->path, same->where, row->version);
      else if (other)
        ct_dr_note(v, "%s %s is installed (%s) but TensorFlow %s needs %s.so.%s", need[i].what, other->version,
                   other->path, row->version, need[i].kind == CT_LIB_CUDART ? "libcudart"
                                              : need[i].kind == CT_LIB_CUBLAS ? "libcublas" : "libcudnn",
                   need[i].soname);
    }
  }
  if (libs_missing) {
    const ct_tf_broken_pin *bp = and_cuda ? ct_doctor_tf_broken_pin(row->version, r->sites[site].python_version) : NULL;
    char spec[64];
    if (and_cuda) ct_doctor_tf_and_cuda_spec(row->version, spec, sizeof spec);
    if (bp && !bp->release) {
      /* Every release of the row fails on this Python: no pip command to give. */
      ct_dr_fix(v, "`pip install '%s'` does not install on Python %s (%s): use another Python for TensorFlow %s, "
                   "or install CUDA %s and cuDNN %s on the loader path yourself",
                spec, r->sites[site].python_version, bp->why, row->version, row->cuda, row->cudnn);
      ct_dr_cite(v, bp->why, bp->source);
    } else if (and_cuda) {
      ct_dr_fix(v, "`pip install '%s'` installs CUDA %s and cuDNN %s as pip wheels (only the driver must come from "
                   "the system)",
                spec, row->cuda, row->cudnn);
      if (bp) ct_dr_cite(v, bp->why, bp->source);
    } else
      ct_dr_fix(v, "install CUDA %s and cuDNN %s (for CUDA %d.x) and put their lib directories on the loader path; "
                   "TensorFlow %s loads exactly libcudart.so.%s and libcudnn.so.%s",
                row->cuda, row->cudnn, atoi(row->cuda), row->version, cudart, cudnn);
  }
  char fact[CT_DR_TEXT];
  snprintf(fact, sizeof fact, "TensorFlow %s: Python %s, CUDA %s, cuDNN %s", row->version, row->python, row->cuda,
           row->cudnn);
  ct_dr_cite(v, fact, row->source);
  snprintf(fact, sizeof fact, "TensorFlow %s driver %s (%s)", row->version, row->driver, row->driver_origin);
  ct_dr_cite(v, fact, row->driver_source);
  check_driver(r, v, row->cuda, row->driver, row->driver_origin, missing, sizeof missing);
  if (row->kernels && row->kernels_source) {
    snprintf(fact, sizeof fact, "TensorFlow %s GPU kernels: %s", row->version, row->kernels);
    ct_dr_cite(v, fact, row->kernels_source);
  }
  check_gpu_arch(r, v, row->kernels, "this TensorFlow", missing, sizeof missing);
  if (!r->machine.has_avx && r->machine.cpu_model[0]) {
    ct_dr_appendf(missing, sizeof missing, "%sa CPU with AVX", missing[0] ? ", " : "");
    ct_dr_fix(v, "prebuilt TensorFlow wheels need AVX since TensorFlow 1.6 and this CPU (%s) has none: build "
                 "TensorFlow from source",
              r->machine.cpu_model);
  }
  int py = ct_dr_python_supported(row->python, r->sites[site].python_version);
  if (py == 0)
    ct_dr_note(v, "TensorFlow %s supports Python %s, this is Python %s: pip would not install it here", row->version,
               row->python, r->sites[site].python_version);
  (void)pkg_for_fix;
  if (!r->gpu_present) {
    v->state = CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason, "no NVIDIA GPU on this machine: runs on the CPU%s%s", missing[0] ? "; a GPU would also need " : "", missing);
  } else if (missing[0]) {
    v->state = CT_DR_GPU_NO;
    snprintf(v->reason, sizeof v->reason, "GPU will not be used: missing %s", missing);
  } else {
    v->state = CT_DR_GPU_YES;
    snprintf(v->reason, sizeof v->reason, "GPU support present: CUDA %s, cuDNN %s and the driver were found", row->cuda,
             row->cudnn);
  }
}

static void verdict_tf_site(ct_doctor_report *r, int site) {
  const ct_doctor_pkg *tf = NULL, *gpu = NULL, *cpu = NULL;
  for (int i = 0; i < r->n_pkgs; i++) {
    const ct_doctor_pkg *p = &r->pkgs[i];
    if (p->site != site || !is_tf_name(p->name)) continue;
    if (strcmp(p->name, "tensorflow-gpu") == 0 || strcmp(p->name, "tf-nightly-gpu") == 0) gpu = p;
    else if (strcmp(p->name, "tensorflow-cpu") == 0 || strcmp(p->name, "tf-nightly-cpu") == 0) cpu = p;
    else if (!tf) tf = p;
  }
  if (!tf && !gpu && !cpu) return;
  const ct_doctor_pkg *main_pkg = tf ? tf : gpu ? gpu : cpu;
  char subject[96];
  subject_for(r, site, main_pkg->name, main_pkg->version, subject, sizeof subject);
  ct_doctor_verdict *v = ct_dr_verdict_add(r, subject);
  if (!v) return;
  v->site = site;
  ct_dr_strlcpy(v->package, main_pkg->name, sizeof v->package);
  ct_dr_strlcpy(v->version, main_pkg->version, sizeof v->version);
  int mm, mn;
  const ct_tf_compat *row = ct_doctor_tf_lookup(main_pkg->version);

  if (gpu) {
    const ct_tf_compat *grow = ct_doctor_tf_lookup(gpu->version);
    if (ct_dr_vercmp(gpu->version, "2.12") >= 0) {
      ct_dr_fix(v, "`tensorflow-gpu` %s is the empty stub published after the package was removed (Dec 2022); it "
                   "provides no TensorFlow: `pip uninstall -y tensorflow-gpu`",
                gpu->version);
      if (!tf) {
        v->state = CT_DR_GPU_NO;
        snprintf(v->reason, sizeof v->reason, "tensorflow-gpu %s is a stub, not TensorFlow; `tensorflow` includes GPU "
                                              "support",
                 gpu->version);
        ct_dr_parse_mm(gpu->version, &mm, &mn);
        ct_dr_fix(v, "`pip install tensorflow==%d.%d.*` (the `tensorflow` package includes GPU support)", mm, mn);
        return;
      }
    } else if (grow && grow->gpu_in_main_pkg == 1) {
      ct_dr_note(v, "`tensorflow-gpu` is not needed for this version: `tensorflow` includes GPU support "
                    "(tensorflow-gpu %s is the same build under another name)",
                 gpu->version);
      if (tf)
        ct_dr_fix(v, "tensorflow %s and tensorflow-gpu %s both install the `tensorflow` module (the last installed "
                     "wins): `pip uninstall -y tensorflow tensorflow-gpu && pip install tensorflow==%s.*`",
                  tf->version, gpu->version, grow->version);
    }
    if (!tf) row = grow;
  }
  if (cpu && !tf && !gpu) {
    v->state = r->gpu_present ? CT_DR_GPU_NO : CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason, "tensorflow-cpu is the CPU-only build: runs on the CPU by design");
    if (r->gpu_present && ct_dr_parse_mm(cpu->version, &mm, &mn))
      ct_dr_fix(v, "for the GPU: `pip uninstall -y tensorflow-cpu && pip install tensorflow==%d.%d.*`", mm, mn);
    return;
  }
  if (!row) {
    v->state = CT_DR_UNKNOWN;
    snprintf(v->reason, sizeof v->reason, "TensorFlow %s is not in the doctor's table of releases",
             main_pkg->version);
    return;
  }
  /* A `tensorflow` package without GPU kernels (before 2.1, 1.15.0 aside). */
  bool has_gpu_build = gpu != NULL && ct_dr_vercmp(gpu->version, "2.12") < 0;
  if (tf && !has_gpu_build) {
    bool cpu_only = row->gpu_in_main_pkg == 0 || (row->gpu_in_main_pkg < 0 && strcmp(tf->version, "1.15.0") != 0);
    if (cpu_only) {
      v->state = r->gpu_present ? CT_DR_GPU_NO : CT_DR_CPU_BY_DESIGN;
      /* compat.tsv: 1.15.2 confirmed CPU-only, 1.15.3-1.15.5 "no?". */
      bool unsure = row->gpu_in_main_pkg < 0 && ct_dr_vercmp(tf->version, "1.15.2") > 0;
      snprintf(v->reason, sizeof v->reason, "the `tensorflow` %s package is CPU-only%s: before 2.1 (1.15.0 aside) GPU "
                                            "support came only in `tensorflow-gpu`",
               tf->version, unsure ? " (?)" : "");
      ct_dr_fix(v, "`pip uninstall -y tensorflow && pip install tensorflow-gpu==%s.*` (needs CUDA %s, cuDNN %s, "
                   "driver %s per %s)",
                row->version, row->cuda, row->cudnn, row->driver, row->driver_origin);
      char fact[CT_DR_TEXT];
      snprintf(fact, sizeof fact, "TensorFlow %s: Python %s, CUDA %s, cuDNN %s; `tensorflow` GPU: %s", row->version,
               row->python, row->cuda, row->cudnn, row->gpu_in_main_pkg == 0 ? "no" : "1.15.0 only");
      ct_dr_cite(v, fact, row->source);
      snprintf(fact, sizeof fact, "TensorFlow %s driver %s", row->version, row->driver);
      ct_dr_cite(v, fact, row->driver_source);
      return;
    }
  }
  tf_requirements(r, v, site, row, main_pkg->name);
  if (tf && cpu && ct_dr_parse_mm(tf->version, &mm, &mn)) {
    /* Both wheels install the same `tensorflow` module: the one installed
     * last wins, and it may be the CPU-only build. */
    if (v->state == CT_DR_GPU_YES || v->state == CT_DR_UNKNOWN) {
      v->state = CT_DR_GPU_NO;
      ct_dr_note(v, "otherwise: %s", v->reason);
    }
    snprintf(v->reason, sizeof v->reason,
             "`tensorflow` %s and `tensorflow-cpu` %s are both installed and write the same `tensorflow` module: the "
             "one installed last wins, possibly the CPU-only build",
             tf->version, cpu->version);
    ct_dr_fix(v, "`pip uninstall -y tensorflow tensorflow-cpu && pip install tensorflow==%d.%d.*`", mm, mn);
  }
}

/* ---- PyTorch ------------------------------------------------------------- */

/* "cu121" -> "12.1", "cu118" -> "11.8", "cu92" -> "9.2", "cu130" -> "13.0". */
static bool cuda_from_tag(const char *tag, char *out, size_t size) {
  if (strncmp(tag, "cu", 2) != 0 || !isdigit((unsigned char)tag[2])) return false;
  const char *d = tag + 2;
  size_t n = strspn(d, "0123456789");
  if (n < 2) return false;
  snprintf(out, size, "%.*s.%c", (int)(n - 1), d, d[n - 1]);
  return true;
}

/* The matrix row (and, for builds outside it, the previous-versions page)
 * behind a torch verdict. */
static void cite_torch_row(ct_doctor_verdict *v, const ct_torch_compat *row, const char *cuda) {
  char fact[CT_DR_TEXT];
  snprintf(fact, sizeof fact, "PyTorch %s: Python %s%s%s%s, CUDA builds %s%s%s", row->version, row->python,
           row->python_experimental[0] ? " (" : "", row->python_experimental,
           row->python_experimental[0] ? " experimental)" : "", row->stable_cuda,
           row->experimental_cuda[0] ? ", experimental " : "", row->experimental_cuda);
  ct_dr_cite(v, fact, row->source);
  if (row->also_cuda[0] && row->also_source && (!cuda || strcmp(cuda, row->also_cuda) == 0)) {
    snprintf(fact, sizeof fact, "PyTorch %s: also CUDA %s builds", row->version, row->also_cuda);
    ct_dr_cite(v, fact, row->also_source);
  }
}

static void verdict_torch_pkg(ct_doctor_report *r, const ct_doctor_pkg *p) {
  char subject[96];
  subject_for(r, p->site, p->name, p->version, subject, sizeof subject);
  ct_doctor_verdict *v = ct_dr_verdict_add(r, subject);
  if (!v) return;
  v->site = p->site;
  ct_dr_strlcpy(v->package, p->name, sizeof v->package);
  ct_dr_strlcpy(v->version, p->version, sizeof v->version);
  char base[64];
  ct_dr_strlcpy(base, p->version, sizeof base);
  char *plus = strchr(base, '+');
  const char *tag = "";
  if (plus) {
    *plus = '\0';
    tag = p->version + (plus - base) + 1;
  }
  const ct_torch_compat *row = ct_doctor_torch_lookup(base);
  char cuda[16] = "";
  bool cpu_build = false, rocm = false;
  if (strncmp(tag, "cpu", 3) == 0) cpu_build = true;
  else if (strncmp(tag, "rocm", 4) == 0) rocm = true;
  else if (cuda_from_tag(tag, cuda, sizeof cuda)) {
    ct_dr_note(v, "CUDA %s build (local version tag +%s); the wheel bundles its CUDA runtime and cuDNN", cuda, tag);
  } else if (p->cuda_dep[0]) {
    const char *eq = strstr(p->cuda_dep, "==");
    int a, b;
    if (eq && ct_dr_parse_mm(eq + 2, &a, &b)) snprintf(cuda, sizeof cuda, "%d.%d", a, b);
    ct_dr_note(v, "CUDA %s build: it depends on %s%s%s (CUDA libraries as pip wheels)", cuda, p->cuda_dep,
               p->cudnn_dep[0] ? " and " : "", p->cudnn_dep);
  } else if (p->build[0]) {
    const char *c = strstr(p->build, "cuda");
    int a, b;
    if (c && ct_dr_parse_mm(c + 4, &a, &b)) {
      snprintf(cuda, sizeof cuda, "%d.%d", a, b);
      ct_dr_note(v, "conda build %s: CUDA %s", p->build, cuda);
    } else if (strstr(p->build, "cpu")) {
      cpu_build = true;
    }
  }
  bool cpu_from_libs = false;
  if (!cpu_build && !rocm && !cuda[0] && p->torch_cuda_lib == 0) cpu_build = cpu_from_libs = true;
  if (p->distro)
    ct_dr_note(v, "installed by the system package manager (e.g. Debian's python3-torch), not by pip");
  /* Wheel Python ranges say nothing about a distribution's own build. */
  const char *pyv = r->sites[p->site].python_version;
  if (row && !p->distro && ct_dr_python_supported(row->python, pyv) == 0) {
    if (row->python_experimental[0] && strcmp(row->python_experimental, pyv) == 0)
      ct_dr_note(v, "PyTorch %s supports Python %s as experimental (wheels exist; the supported range is %s)",
                 row->version, pyv, row->python);
    else
      ct_dr_note(v, "PyTorch %s wheels support Python %s%s, this is Python %s", row->version, row->python,
                 row->uncertain ? " (?)" : "", pyv);
  }
  if (row) cite_torch_row(v, row, cuda[0] ? cuda : NULL);
  if (row && cuda[0] && !cpu_build && !rocm) {
    /* The wheel's own cuDNN is the one of its CUDA build, not the stable one. */
    const char *dn = ct_doctor_torch_cudnn(row, cuda);
    ct_dr_note(v, "PyTorch %s's CUDA %s build bundles cuDNN %s%s", row->version, cuda, dn,
               row->uncertain && strcmp(dn, "?") != 0 ? " (?)" : "");
  }
  if (rocm) {
    v->state = CT_DR_GPU_NO;
    snprintf(v->reason, sizeof v->reason, "ROCm (AMD) build +%s: it cannot use an NVIDIA GPU", tag);
  }
  if (cpu_build || rocm) {
    if (!rocm) {
      v->state = r->gpu_present ? CT_DR_GPU_NO : CT_DR_CPU_BY_DESIGN;
      if (cpu_from_libs)
        snprintf(v->reason, sizeof v->reason,
                 "CPU-only build (torch/lib has no libtorch_cuda.so): torch.cuda.is_available() is False");
      else
        snprintf(v->reason, sizeof v->reason, "CPU-only build (%s%s): torch.cuda.is_available() is False",
                 tag[0] ? "+" : "conda build ", tag[0] ? tag : p->build);
    }
    if (p->distro) {
      /* pip must not replace files apt owns: a virtual environment instead. */
      ct_dr_fix(v, "%suse a virtual environment for a CUDA build: `python3 -m venv ~/venv-torch && ~/venv-torch/bin/pip "
                   "install torch` (pip's default Linux wheels of current releases are CUDA builds)",
                r->gpu_present ? "" : "for a GPU machine: ");
      return;
    }
    if (row) {
      char pick[16];
      ct_doctor_torch_pick_cuda(row, ct_doctor_driver_release(r), pick, sizeof pick);
      int a = 0, b = 0, vm = 0, vn = 0;
      ct_dr_parse_mm(pick, &a, &b);
      ct_dr_parse_mm(row->version, &vm, &vn);
      /* Before 2.0 pytorch.org gave CUDA builds with --extra-index-url. */
      ct_dr_fix(v, "%s`pip uninstall -y torch && pip install torch==%s %s https://download.pytorch.org/whl/cu%d%d` "
                   "(PyTorch %s ships CUDA %s%s%s builds%s; this one bundles cuDNN %s)",
                r->gpu_present ? "" : "for a GPU machine: ", base, vm < 2 ? "--extra-index-url" : "--index-url", a, b,
                row->version, row->also_cuda, row->also_cuda[0] ? ", " : "", row->stable_cuda,
                row->uncertain ? " (?)" : "", ct_doctor_torch_cudnn(row, pick));
      cite_torch_row(v, row, pick);
      cite_cuda_row(v, pick);
    } else {
      ct_dr_fix(v, "install a CUDA build of torch %s (see https://pytorch.org/get-started/previous-versions/)", base);
    }
    return;
  }
  if (!cuda[0]) {
    v->state = CT_DR_UNKNOWN;
    snprintf(v->reason, sizeof v->reason, "no +cuXXX/+cpu tag and no nvidia-* dependency in the metadata: cannot tell "
                                          "whether this is a CUDA build");
    return;
  }
  char missing[CT_DR_TEXT * 2] = "";
  check_driver(r, v, cuda, NULL, NULL, missing, sizeof missing);
  if (!r->gpu_present) {
    v->state = CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason, "CUDA %s build, but no NVIDIA GPU on this machine: runs on the CPU", cuda);
  } else if (missing[0]) {
    v->state = CT_DR_GPU_NO;
    snprintf(v->reason, sizeof v->reason, "CUDA %s build; GPU will not be used: missing %s", cuda, missing);
  } else {
    v->state = CT_DR_GPU_YES;
    snprintf(v->reason, sizeof v->reason, "CUDA %s build and a driver that runs it", cuda);
  }
}

/* ---- JAX ----------------------------------------------------------------- */

static void verdict_jax_site(ct_doctor_report *r, int site) {
  const ct_doctor_pkg *jaxlib = ct_doctor_find_pkg(r, site, "jaxlib");
  const ct_doctor_pkg *plugin = NULL;
  for (int i = 0; i < r->n_pkgs; i++)
    if (r->pkgs[i].site == site && strncmp(r->pkgs[i].name, "jax-cuda", 8) == 0) plugin = &r->pkgs[i];
  if (!jaxlib && !plugin) return;
  const ct_doctor_pkg *p = jaxlib ? jaxlib : plugin;
  char subject[96];
  subject_for(r, site, p->name, p->version, subject, sizeof subject);
  ct_doctor_verdict *v = ct_dr_verdict_add(r, subject);
  if (!v) return;
  v->site = site;
  ct_dr_strlcpy(v->package, p->name, sizeof v->package);
  ct_dr_strlcpy(v->version, p->version, sizeof v->version);
  int major = 0;
  if (plugin) major = atoi(plugin->name + 8);
  else if (jaxlib && strstr(jaxlib->version, "+cuda")) major = atoi(strstr(jaxlib->version, "+cuda") + 5);
  const char *rel = ct_doctor_driver_release(r);
  if (!major) {
    v->state = r->gpu_present ? CT_DR_GPU_NO : CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason, "jaxlib without a CUDA plugin (jax-cuda*-plugin) is CPU-only");
    const char *lead = r->gpu_present ? "" : "for a GPU machine: ";
    const ct_jax_cuda *pick = ct_doctor_jax_pick(rel);
    /* No real driver release reaches "99999": the newest extra published. */
    const ct_jax_cuda *newest = ct_doctor_jax_pick("99999");
    if (!rel || !pick || !newest) {
      /* No driver release to choose by: both, the recommended one first. */
      const ct_jax_cuda *older = ct_doctor_jax_pick(NULL);
      if (newest && older && newest != older)
        ct_dr_fix(v, "%s`pip install -U \"%s\"` with an NVIDIA driver %s, or `pip install -U \"%s\"` with a "
                     "driver %s older than that (each installs the CUDA plugin and the CUDA libraries as pip wheels)",
                  lead, newest->extra, newest->driver, older->extra, older->driver);
      if (newest) ct_dr_cite(v, newest->extra, newest->source);
      if (older) ct_dr_cite(v, older->extra, older->source);
      return;
    }
    char need[32];
    ct_dr_bare_release(pick->driver, need, sizeof need);
    bool runs = ct_dr_vercmp(rel, need) >= 0;
    ct_dr_fix(v, "%s`pip install -U \"%s\"` (driver %s %s %s; it installs the CUDA plugin and the CUDA libraries as "
                 "pip wheels)",
              lead, pick->extra, rel, runs ? "meets its" : "is older than its", pick->driver);
    if (!runs) ct_dr_fix(v, "upgrade the NVIDIA driver from %s to %s for %s", rel, pick->driver, pick->extra);
    ct_dr_cite(v, pick->extra, pick->source);
    if (pick != newest) ct_dr_cite(v, newest->extra, newest->source);
    return;
  }
  ct_dr_note(v, "CUDA %d build (%s %s)", major, plugin ? plugin->name : "jaxlib", plugin ? plugin->version : jaxlib->version);
  char missing[CT_DR_TEXT * 2] = "";
  const ct_jax_cuda *jrow = ct_doctor_jax_lookup(major);
  if (jrow) {
    /* JAX's builds rely on minor-version compatibility: the family floor,
     * not the x.0 toolkit's own. */
    char need[32], req[CT_DR_TEXT], fact[CT_DR_TEXT];
    ct_dr_bare_release(jrow->driver, need, sizeof need);
    snprintf(req, sizeof req, "%s (JAX for CUDA %d, the CUDA %d.x minor-version-compatibility floor)", jrow->driver,
             major, major);
    snprintf(fact, sizeof fact, "JAX for CUDA %d: driver %s", major, jrow->driver);
    ct_dr_cite(v, fact, jrow->source);
    driver_meets(r, v, need, req, missing, sizeof missing);
  } else {
    char cuda[16];
    snprintf(cuda, sizeof cuda, "%d.0", major);
    check_driver(r, v, cuda, NULL, NULL, missing, sizeof missing);
  }
  if (!r->gpu_present) {
    v->state = CT_DR_CPU_BY_DESIGN;
    snprintf(v->reason, sizeof v->reason, "CUDA %d build, but no NVIDIA GPU on this machine: runs on the CPU", major);
  } else if (missing[0]) {
    v->state = CT_DR_GPU_NO;
    snprintf(v->reason, sizeof v->reason, "CUDA %d build; GPU will not be used: missing %s", major, missing);
  } else {
    v->state = CT_DR_GPU_YES;
    snprintf(v->reason, sizeof v->reason, "CUDA %d build and a driver that runs it", major);
  }
}

/* ---- all ----------------------------------------------------------------- */

/* A bare `pip` may belong to another Python than the one that has the
 * package: name the interpreter the verdict is about ("`/usr/bin/python3 -m
 * pip install ...`"). Fixes are written with plain "`pip " and "&& pip "; this
 * is the one place that rewrites them. */
static void pin_pip_to_interpreter(const ct_doctor_report *r, ct_doctor_verdict *v) {
  if (v->site < 0 || v->site >= r->n_sites) return;
  const char *python = r->sites[v->site].python;
  if (python[0] != '/') return; /* conda env, --site-packages: no interpreter known */
  for (int k = 0; k < v->n_fixes; k++) {
    char out[sizeof v->fixes[k]];
    size_t n = 0;
    const char *in = v->fixes[k];
    while (*in && n + 1 < sizeof out) {
      bool at = strncmp(in, "`pip ", 5) == 0 || strncmp(in, "&& pip ", 7) == 0;
      if (at) {
        size_t lead = in[0] == '`' ? 1 : 3; /* keep "`" or "&& " */
        int w = snprintf(out + n, sizeof out - n, "%.*s%s -m pip ", (int)lead, in, python);
        if (w < 0 || (size_t)w >= sizeof out - n) break;
        n += (size_t)w;
        in += lead + 4;
      } else {
        out[n++] = *in++;
      }
    }
    out[n] = '\0';
    if (*in == '\0') memcpy(v->fixes[k], out, n + 1); /* only when it all fitted */
  }
}

void ct_doctor_verdicts(ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  /* A container started from a CUDA image (NVIDIA_* variables) was meant to
   * have a GPU; WSL2's /dev/dxg with its libcuda is one. */
  bool nvidia_env = r->machine.container[0] &&
                    (ct_dr_getenv(r, "NVIDIA_VISIBLE_DEVICES") || ct_dr_getenv(r, "NVIDIA_DRIVER_CAPABILITIES") ||
                     ct_dr_getenv(r, "NVIDIA_REQUIRE_CUDA"));
  r->gpu_present = d->proc_present || d->n_devnodes > 0 || d->pci_nvidia_gpus > 0 || r->ct.n_gpus > 0 ||
                   r->ct.n_unusable > 0 || (driver_state(r) == DRV_OK) || d->wsl || nvidia_env;
  ct_doctor_find_blockers(r);
  verdict_ctensor(r);
  for (int s = 0; s < r->n_sites; s++) {
    verdict_tf_site(r, s);
    for (int i = 0; i < r->n_pkgs; i++)
      if (r->pkgs[i].site == s && (strcmp(r->pkgs[i].name, "torch") == 0 || strcmp(r->pkgs[i].name, "pytorch") == 0))
        verdict_torch_pkg(r, &r->pkgs[i]);
    verdict_jax_site(r, s);
  }
  ct_doctor_apply_blockers(r);
  for (int i = 0; i < r->n_verdicts; i++) pin_pip_to_interpreter(r, &r->verdicts[i]);
  const ct_doctor_verdict *ctv = &r->verdicts[0];
  if (r->ct.n_gpus > 0) {
    r->exit_code = 0;
    snprintf(r->headline, sizeof r->headline, "GPU usable: ctensor runs ops on %s (%s)", r->ct.default_device,
             r->ct.gpus[0].model);
  } else if (!r->gpu_present) {
    r->exit_code = 0;
    snprintf(r->headline, sizeof r->headline, "No NVIDIA GPU on this machine: ctensor runs on %s (CPU only, by design)",
             r->ct.default_device[0] ? r->ct.default_device : "CPU:0");
  } else {
    r->exit_code = 1;
    snprintf(r->headline, sizeof r->headline, "NVIDIA GPU present but not usable: %s",
             r->n_blockers && !r->ct.probed ? r->blockers[0].text : ctv->reason);
  }
}
