/*
 * `ctensor doctor --tf VERSION` / `--torch VERSION`: what that version needs
 * and what this machine has, without the framework installed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

static void line(ct_doctor_advice *a, int check, bool ok, const char *src, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void line(ct_doctor_advice *a, int check, bool ok, const char *src, const char *fmt, ...) {
  if (a->n_lines >= 16) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->lines[a->n_lines], sizeof a->lines[0], fmt, ap);
  va_end(ap);
  ct_dr_strlcpy(a->line_source[a->n_lines], src ? src : "", sizeof a->line_source[0]);
  a->line_check[a->n_lines] = check != 0;
  a->line_ok[a->n_lines] = ok;
  a->n_lines++;
}


/* Appends `what` to the advice's list of what this machine lacks. */
static void lack(ct_doctor_advice *a, char *lacks, size_t size, const char *what) {
  (void)a;
  ct_dr_appendf(lacks, size, "%s%s", lacks[0] ? "; " : "", what);
}

/* The driver line for CUDA `cuda`. `docs` is the framework's own floor (may
 * be NULL), `origin` who asks for it, `src` that floor's source. */
static void advise_driver(const ct_doctor_report *r, ct_doctor_advice *a, const char *cuda, const char *docs,
                          const char *origin, const char *src, char *lacks, size_t lsize) {
  const char *rel = ct_doctor_driver_release(r);
  char need[32] = "";
  ct_doctor_driver_floor(cuda, docs, need, sizeof need);
  char req[CT_DR_TEXT];
  if (docs) snprintf(req, sizeof req, "%s%s%s", docs, origin ? " per " : "", origin ? origin : "");
  else if (need[0]) snprintf(req, sizeof req, ">=%s", need);
  else ct_dr_strlcpy(req, "?", sizeof req);
  char table[CT_DR_TEXT] = "", tt[CT_DR_TEXT];
  ct_doctor_driver_table_text(cuda, tt, sizeof tt);
  if (tt[0]) snprintf(table, sizeof table, " (%s)", tt);
  char source[CT_DR_TEXT * 4] = "";
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  if (src) ct_dr_appendf(source, sizeof source, "%s", src);
  if (row) ct_dr_appendf(source, sizeof source, "%sCUDA %s: %s", source[0] ? "; " : "", cuda, row->source);
  bool have = r->driver.libcuda_found && !r->driver.libcuda_is_stub;
  char what[CT_DR_TEXT];
  snprintf(what, sizeof what, "the NVIDIA driver %s", docs ? docs : req);
  if (!have) {
    line(a, 1, false, source, "NVIDIA driver %s%s: missing (no libcuda.so.1%s)", req, table,
         r->driver.libcuda_is_stub ? " other than the toolkit's stub" : "");
    lack(a, lacks, lsize, what);
  } else if (rel && need[0]) {
    bool ok = ct_dr_vercmp(rel, need) >= 0;
    line(a, 1, ok, source, "NVIDIA driver %s%s: this machine has %s", req, table, rel);
    if (!ok) {
      snprintf(what, sizeof what, "a driver newer than %s (%s)", rel, docs ? docs : req);
      lack(a, lacks, lsize, what);
    }
  } else {
    line(a, 1, true, source, "NVIDIA driver %s%s: found (%s), release unknown", req, table, r->driver.libcuda_path);
  }
}

/* The GPU itself: none, or its compute capability against the lowest SASS
 * target of the build (`kernels` may be NULL: not known). */
static void advise_gpu(const ct_doctor_report *r, ct_doctor_advice *a, const char *kernels, const char *src,
                       const char *who, char *lacks, size_t lsize) {
  int low = ct_doctor_lowest_sm(kernels);
  char gpus[CT_DR_TEXT] = "";
  bool any = false, all_ok = true;
  const ct_physical_device_info *all[2 * CT_DR_MAX_GPUS];
  int n = 0;
  for (int i = 0; i < r->ct.n_gpus; i++) all[n++] = &r->ct.gpus[i];
  for (int i = 0; i < r->ct.n_unusable; i++) all[n++] = &r->ct.unusable[i];
  for (int i = 0; i < n; i++) {
    int cc = all[i]->compute_major * 10 + all[i]->compute_minor;
    if (!cc) continue;
    any = true;
    if (low && cc < low) all_ok = false;
    ct_dr_appendf(gpus, sizeof gpus, "%s%s sm_%d", gpus[0] ? ", " : "", all[i]->model, cc);
  }
  const char *unsure = kernels && strchr(kernels, '?') ? " ('?': not confirmed)" : "";
  if (!any && !r->gpu_present) {
    if (kernels) line(a, 1, false, src, "NVIDIA GPU: none on this machine (%s ships kernels for %s%s)", who, kernels, unsure);
    else line(a, 1, false, NULL, "NVIDIA GPU: none on this machine");
    lack(a, lacks, lsize, "an NVIDIA GPU");
  } else if (!any) {
    line(a, 0, true, src, "NVIDIA GPU present, compute capability unknown%s%s%s", kernels ? "; kernels for " : "",
         kernels ? kernels : "", unsure);
  } else if (kernels) {
    line(a, 1, all_ok, src, "GPU kernels in the wheel: %s%s; this machine's GPUs: %s", kernels, unsure, gpus);
    if (!all_ok) {
      char what[64];
      snprintf(what, sizeof what, "a GPU of compute capability >= %d.%d", low / 10, low % 10);
      lack(a, lacks, lsize, what);
    }
  } else {
    line(a, 0, true, NULL, "this machine's GPUs: %s (the build's kernel targets are not in the table)", gpus);
  }
}

/* `experimental` ("3.12", may be "") is a Python the release has wheels for
 * without supporting it fully: installable, said so, never "no wheel". */
static void advise_python(const ct_doctor_report *r, ct_doctor_advice *a, const char *range, const char *experimental,
                          bool unsure, const char *src, char *lacks, size_t lsize) {
  char have[256] = "";
  int verdict = -1; /* -1 no Python found, 0 none in range, 1 one in range, 2 only an experimental one */
  for (int i = 0; i < r->n_sites; i++) {
    const char *pv = r->sites[i].python_version;
    if (!pv[0]) continue;
    int in = ct_dr_python_supported(range, pv);
    if (in == 1) verdict = 1;
    else if (verdict != 1 && in == 0 && experimental && experimental[0] && strcmp(experimental, pv) == 0) verdict = 2;
    else if (verdict < 0 && in == 0) verdict = 0;
    if (strstr(have, pv)) continue;
    ct_dr_appendf(have, sizeof have, "%s%s", have[0] ? ", " : "", pv);
  }
  char shown[96];
  snprintf(shown, sizeof shown, "%s%s%s%s%s", range, experimental && experimental[0] ? " (" : "",
           experimental ? experimental : "", experimental && experimental[0] ? " experimental)" : "",
           unsure ? " (?)" : "");
  if (verdict < 0) {
    line(a, 0, true, src, "Python %s (this machine: %s)", shown, have[0] ? have : "no Python found");
    return;
  }
  if (verdict == 2) {
    line(a, 1, true, src, "Python %s: this machine has %s (wheels exist for Python %s; its support is experimental)",
         shown, have, experimental);
    return;
  }
  line(a, 1, verdict == 1, src, "Python %s: this machine has %s%s", shown, have,
       verdict == 1 ? "" : " (pip finds no wheel of this version for it)");
  if (verdict != 1) {
    char what[128];
    snprintf(what, sizeof what, "a Python in %s", range);
    lack(a, lacks, lsize, what);
  }
}

/* The last advice line: everything this machine lacks, in one sentence. */
static void advise_lacks(ct_doctor_advice *a, const char *what, const char *lacks) {
  if (lacks[0]) line(a, 1, false, NULL, "this machine lacks, for %s on the GPU: %s", what, lacks);
  else line(a, 1, true, NULL, "this machine has everything %s needs for the GPU", what);
}

static void advise_tf(const ct_doctor_report *r, ct_doctor_advice *a) {
  const ct_tf_compat *row = ct_doctor_tf_lookup(a->version);
  if (!row) {
    int n;
    const ct_tf_compat *t = ct_doctor_tf_table(&n);
    snprintf(a->summary, sizeof a->summary, "TensorFlow %s is not in the table (known: %s to %s)", a->version,
             t[0].version, t[n - 1].version);
    return;
  }
  a->known = true;
  int tm, tn;
  ct_dr_parse_mm(row->version, &tm, &tn);
  bool v212 = tm > 2 || (tm == 2 && tn >= 12);
  bool v211 = tm > 2 || (tm == 2 && tn >= 11);
  const char *q = row->gpu_uncertain ? " (?)" : "";
  if (row->gpu_in_main_pkg == 1 && v212)
    snprintf(a->summary, sizeof a->summary,
             "`pip install tensorflow==%s.*` includes GPU support on Linux%s (native Windows: CPU only since 2.11; "
             "use WSL2). Do not install `tensorflow-gpu`: it was removed after 2.11 and `tensorflow-gpu==2.12.0` "
             "is an empty stub whose installation fails",
             row->version, q);
  else if (row->gpu_in_main_pkg == 1 && v211)
    snprintf(a->summary, sizeof a->summary,
             "`pip install tensorflow==%s.*` includes GPU support on Linux (native Windows: CPU only; use WSL2); "
             "`tensorflow-gpu` is not needed (tensorflow-gpu %s: %s)",
             row->version, row->version, row->gpu_pkg);
  else if (row->gpu_in_main_pkg == 1)
    snprintf(a->summary, sizeof a->summary,
             "`pip install tensorflow==%s.*` includes GPU support (Linux and Windows); `tensorflow-gpu` is not "
             "needed: tensorflow-gpu %s is the same build under another name",
             row->version, row->version);
  else if (row->gpu_in_main_pkg == 0)
    snprintf(a->summary, sizeof a->summary,
             "`tensorflow` %s is CPU-only: for the GPU `pip install tensorflow-gpu==%s.*` (%s)", row->version,
             row->version, row->gpu_pkg);
  else
    snprintf(a->summary, sizeof a->summary,
             "TensorFlow %s: `tensorflow==1.15.0` includes GPU support; from 1.15.2 the GPU needs `pip install "
             "tensorflow-gpu==1.15.*` (%s)",
             row->version, row->note);
  ct_dr_strlcpy(a->summary_source, row->source, sizeof a->summary_source);
  char lacks[CT_DR_TEXT * 2] = "";
  if (tm > 2 || (tm == 2 && tn >= 14)) {
    char spec[64];
    ct_doctor_tf_and_cuda_spec(row->version, spec, sizeof spec);
    const ct_tf_broken_pin *bp = ct_doctor_tf_broken_pin(row->version, "");
    if (bp && bp->release)
      line(a, 0, true, bp->source, "`pip install '%s'` also installs CUDA and cuDNN as pip wheels (Linux); not %s: %s",
           spec, bp->release, bp->why);
    else
      line(a, 0, true, NULL, "`pip install '%s'` also installs CUDA and cuDNN as pip wheels (Linux)", spec);
    /* A pin that fails only on some Pythons matters where the machine has one. */
    for (int i = 0; i < r->n_sites; i++) {
      const ct_tf_broken_pin *pb = ct_doctor_tf_broken_pin(row->version, r->sites[i].python_version);
      if (!pb || pb->release || !pb->python || !r->sites[i].python_version[0]) continue;
      line(a, 1, false, pb->source,
           "on Python %s (this machine has it) the and-cuda extra of TensorFlow %s does not install: %s; use "
           "another Python for it, or install CUDA %s and cuDNN %s yourself",
           pb->python, row->version, pb->why, row->cuda, row->cudnn);
      break;
    }
  }
  advise_python(r, a, row->python, NULL, false, row->source, lacks, sizeof lacks);
  /* The exact sonames TensorFlow dlopens. */
  int cm = atoi(row->cuda), cn = 0;
  ct_dr_parse_mm(row->cuda, &cm, &cn);
  char cudart[16], cudnn[16];
  if (cm >= 12) snprintf(cudart, sizeof cudart, "%d", cm);
  else if (cm == 11) snprintf(cudart, sizeof cudart, "11.0");
  else snprintf(cudart, sizeof cudart, "%d.%d", cm, cn);
  snprintf(cudnn, sizeof cudnn, "%d", atoi(row->cudnn));
  const ct_doctor_lib *rt = ct_doctor_find_lib(r, CT_LIB_CUDART, cudart, -2);
  const ct_doctor_lib *any_rt = ct_doctor_find_lib(r, CT_LIB_CUDART, NULL, -2);
  char have[CT_DR_TEXT], what[96];
  if (rt) snprintf(have, sizeof have, "found %s (%s)", rt->path, rt->version);
  else if (any_rt) snprintf(have, sizeof have, "missing: this machine has CUDA %s (%s), not libcudart.so.%s", any_rt->version, any_rt->path, cudart);
  else snprintf(have, sizeof have, "missing: no CUDA runtime found");
  line(a, 1, rt != NULL, row->source, "CUDA %s (libcudart.so.%s): %s", row->cuda, cudart, have);
  if (!rt) {
    snprintf(what, sizeof what, "CUDA %s (libcudart.so.%s)", row->cuda, cudart);
    lack(a, lacks, sizeof lacks, what);
  }
  /* TensorFlow refuses a cuDNN of another major or an older minor than it
   * was built with ("CuDNN library needs to have matching major version and
   * equal or higher minor version"). */
  const ct_doctor_lib *dn = ct_doctor_find_lib(r, CT_LIB_CUDNN, cudnn, -2);
  const ct_doctor_lib *any_dn = ct_doctor_find_lib(r, CT_LIB_CUDNN, NULL, -2);
  char wrong_cuda[CT_DR_TEXT] = "";
  bool dn_cuda = dn && ct_doctor_lib_wrong_cuda(dn, row->cuda, wrong_cuda, sizeof wrong_cuda);
  bool dn_ok = dn && !dn_cuda && (!strchr(dn->version, '.') || ct_dr_vercmp(dn->version, row->cudnn) >= 0);
  if (dn_ok) snprintf(have, sizeof have, "found %s (%s)", dn->path, dn->version);
  else if (dn_cuda) snprintf(have, sizeof have, "wrong build: %s", wrong_cuda);
  else if (dn) snprintf(have, sizeof have, "too old: %s is cuDNN %s, TensorFlow %s needs %s or a newer %s.x", dn->path, dn->version, row->version, row->cudnn, cudnn);
  else if (any_dn) snprintf(have, sizeof have, "missing: this machine has cuDNN %s (%s), not libcudnn.so.%s", any_dn->version, any_dn->path, cudnn);
  else snprintf(have, sizeof have, "missing: no cuDNN found");
  line(a, 1, dn_ok, row->source, "cuDNN %s (libcudnn.so.%s): %s", row->cudnn, cudnn, have);
  if (!dn_ok) {
    if (dn_cuda)
      snprintf(what, sizeof what, "cuDNN %s (libcudnn.so.%s) for CUDA %d", row->cudnn, cudnn, atoi(row->cuda));
    else
      snprintf(what, sizeof what, "cuDNN %s (libcudnn.so.%s)", row->cudnn, cudnn);
    lack(a, lacks, sizeof lacks, what);
  }
  advise_driver(r, a, row->cuda, row->driver, row->driver_origin, row->driver_source, lacks, sizeof lacks);
  advise_gpu(r, a, row->kernels, row->kernels_source, "this TensorFlow", lacks, sizeof lacks);
  if (r->machine.cpu_model[0]) {
    line(a, 1, r->machine.has_avx, NULL, "CPU with AVX (prebuilt wheels since TensorFlow 1.6): %s", r->machine.has_avx ? "yes" : "no");
    if (!r->machine.has_avx) lack(a, lacks, sizeof lacks, "a CPU with AVX");
  }
  if (row->note && row->note[0]) line(a, 0, true, row->source, "note: %s", row->note);
  char who[48];
  snprintf(who, sizeof who, "TensorFlow %s", row->version);
  advise_lacks(a, who, lacks);
}

/* Compute capabilities (86 for 8.6) of this machine's GPUs; returns how many. */
static int machine_ccs(const ct_doctor_report *r, int *ccs, int max) {
  int n = 0;
  for (int i = 0; i < r->ct.n_gpus && n < max; i++)
    if (r->ct.gpus[i].compute_major) ccs[n++] = r->ct.gpus[i].compute_major * 10 + r->ct.gpus[i].compute_minor;
  for (int i = 0; i < r->ct.n_unusable && n < max; i++)
    if (r->ct.unusable[i].compute_major)
      ccs[n++] = r->ct.unusable[i].compute_major * 10 + r->ct.unusable[i].compute_minor;
  return n;
}

/* True unless CUDA `cuda`'s toolkit is known not to compile for one of `ccs`. */
static bool covers_all(const char *cuda, const int *ccs, int n) {
  for (int i = 0; i < n; i++)
    if (ct_doctor_cuda_covers_sm(cuda, ccs[i]) == 0) return false;
  return true;
}

static void advise_torch(const ct_doctor_report *r, ct_doctor_advice *a) {
  const ct_torch_compat *row = ct_doctor_torch_lookup(a->version);
  if (!row) {
    int n;
    const ct_torch_compat *t = ct_doctor_torch_table(&n);
    snprintf(a->summary, sizeof a->summary, "PyTorch %s is not in the table (known: %s to %s)", a->version,
             t[0].version, t[n - 1].version);
    return;
  }
  a->known = true;
  const char *rel = ct_doctor_driver_release(r);
  int vm = 0, vn = 0;
  ct_dr_parse_mm(row->version, &vm, &vn);
  /* Before 2.0 pytorch.org gave the CUDA builds with --extra-index-url (the
   * CUDA index alone did not carry every dependency then). */
  const char *idx = vm < 2 ? "--extra-index-url" : "--index-url";
  /* The build to recommend: the newest published one this driver runs;
   * when its toolkit cannot target this machine's GPU, the newest build
   * (experimental ones included) that can. */
  char pick[16];
  ct_doctor_torch_pick_cuda(row, rel, pick, sizeof pick);
  int ccs[2 * CT_DR_MAX_GPUS];
  int n_cc = machine_ccs(r, ccs, 2 * CT_DR_MAX_GPUS);
  bool pick_experimental = false;
  if (n_cc && !covers_all(pick, ccs, n_cc) && row->experimental_cuda[0] && covers_all(row->experimental_cuda, ccs, n_cc)) {
    char need[32] = "";
    ct_doctor_driver_floor(row->experimental_cuda, NULL, need, sizeof need);
    if (!rel || !need[0] || ct_dr_vercmp(rel, need) >= 0) {
      ct_dr_strlcpy(pick, row->experimental_cuda, sizeof pick);
      pick_experimental = true;
    }
  }
  int pa = 0, pb = 0;
  ct_dr_parse_mm(pick, &pa, &pb);
  snprintf(a->summary, sizeof a->summary,
           "PyTorch %s CUDA wheels carry their own CUDA runtime and cuDNN (only the NVIDIA driver comes from the "
           "system); stable CUDA builds: %s%s%s%s%s%s. For CUDA %s%s: `pip install 'torch==%s.*' %s "
           "https://download.pytorch.org/whl/cu%d%d`",
           row->version, row->stable_cuda, row->experimental_cuda[0] ? ", experimental: " : "", row->experimental_cuda,
           row->also_cuda[0] ? ", also published: " : "", row->also_cuda, row->uncertain ? " (?)" : "", pick,
           pick_experimental ? " (experimental, the build whose toolkit targets this GPU)" : "", row->version, idx, pa,
           pb);
  ct_dr_strlcpy(a->summary_source, row->source, sizeof a->summary_source);
  if (row->also_cuda[0] && strcmp(pick, row->also_cuda) == 0 && row->also_source)
    ct_dr_appendf(a->summary_source, sizeof a->summary_source, "; %s", row->also_source);
  char lacks[CT_DR_TEXT * 2] = "";
  advise_python(r, a, row->python, row->python_experimental, row->uncertain, row->source, lacks, sizeof lacks);
  const char *dn = ct_doctor_torch_cudnn(row, pick);
  line(a, 0, true, row->source, "cuDNN bundled with the CUDA %s build: %s%s", pick, dn,
       row->uncertain && strcmp(dn, "?") != 0 ? " (?)" : "");
  if (row->experimental_cuda[0] && strcmp(row->experimental_cuda, pick) != 0) {
    int ea = 0, eb = 0;
    ct_dr_parse_mm(row->experimental_cuda, &ea, &eb);
    line(a, 0, true, row->source,
         "experimental CUDA %s build: `pip install 'torch==%s.*' %s https://download.pytorch.org/whl/cu%d%d`, "
         "bundles cuDNN %s",
         row->experimental_cuda, row->version, idx, ea, eb, ct_doctor_torch_cudnn(row, row->experimental_cuda));
  }
  /* Any one of the published CUDA builds that this driver runs is enough. */
  char buf[96];
  snprintf(buf, sizeof buf, "%s%s%s%s%s", row->also_cuda, row->also_cuda[0] ? ", " : "", row->stable_cuda,
           pick_experimental ? ", " : "", pick_experimental ? pick : "");
  char first_lack[CT_DR_TEXT * 2] = "";
  bool one_runs = false;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    char one[CT_DR_TEXT * 2] = "";
    const char *src = row->also_cuda[0] && strcmp(tok, row->also_cuda) == 0 ? row->also_source : NULL;
    advise_driver(r, a, tok, NULL, NULL, src, one, sizeof one);
    if (!one[0]) one_runs = true;
    else if (!first_lack[0]) ct_dr_strlcpy(first_lack, one, sizeof first_lack);
  }
  if (!one_runs && first_lack[0]) lack(a, lacks, sizeof lacks, first_lack);
  advise_gpu(r, a, NULL, NULL, "PyTorch", lacks, sizeof lacks);
  const ct_cuda_driver_row *cr = ct_doctor_cuda_driver_lookup(pick);
  if (n_cc && cr) {
    char gpus[CT_DR_TEXT] = "";
    for (int i = 0; i < n_cc; i++) ct_dr_appendf(gpus, sizeof gpus, "%ssm_%d", i ? ", " : "", ccs[i]);
    bool ok = covers_all(pick, ccs, n_cc);
    line(a, 1, ok, cr->sm_source, "CUDA %s targets %s; this machine's GPUs: %s", pick, cr->sm, gpus);
    if (!ok) {
      char what[96];
      snprintf(what, sizeof what, "a CUDA build of PyTorch %s that targets %s", row->version, gpus);
      lack(a, lacks, sizeof lacks, what);
    }
  }
  line(a, 0, true, NULL, "CPU-only alternative: `pip install 'torch==%s.*' %s https://download.pytorch.org/whl/cpu`",
       row->version, idx);
  char who[48];
  snprintf(who, sizeof who, "PyTorch %s", row->version);
  advise_lacks(a, who, lacks);
}

void ct_doctor_advise(ct_doctor_report *r, ct_doctor_advice *a, const char *framework, const char *version) {
  memset(a, 0, sizeof *a);
  a->present = true;
  ct_dr_strlcpy(a->framework, framework, sizeof a->framework);
  ct_dr_strlcpy(a->version, version, sizeof a->version);
  if (strcmp(framework, "tensorflow") == 0) advise_tf(r, a);
  else advise_torch(r, a);
}
