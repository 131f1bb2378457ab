/*
 * `ctensor doctor --tf VERSION` / `--torch VERSION`: what that version needs
 * and what this machine has, without the framework installed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

static void line(ct_doctor_advice *a, int check, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(ct_doctor_advice *a, int check, bool ok, const char *fmt, ...) {
  if (a->n_lines >= 16) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->lines[a->n_lines], sizeof a->lines[0], fmt, ap);
  va_end(ap);
  a->line_check[a->n_lines] = check != 0;
  a->line_ok[a->n_lines] = ok;
  a->n_lines++;
}


static void advise_driver(const ct_doctor_report *r, ct_doctor_advice *a, const char *cuda, const char *docs) {
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  const char *rel = ct_doctor_driver_release(r);
  char need[32] = "";
  const char *req = docs ? docs : row ? row->minor_compat : NULL;
  if (req) {
    const char *p = req;
    while (*p == '>' || *p == '=') p++;
    size_t n = strspn(p, "0123456789.");
    snprintf(need, sizeof need, "%.*s", (int)n, p);
    size_t l = strlen(need);
    while (l && need[l - 1] == '.') need[--l] = '\0';
  }
  char table[CT_DR_TEXT] = "";
  if (row)
    snprintf(table, sizeof table, "; CUDA %s: %s for every feature, minor-version compatibility %s", cuda, row->linux_min,
             row->minor_compat);
  bool have = r->driver.libcuda_found && !r->driver.libcuda_is_stub;
  if (!have)
    line(a, 1, false, "NVIDIA driver %s%s: missing (no libcuda.so.1%s)", req ? req : "?", table,
         r->driver.libcuda_is_stub ? " other than the toolkit's stub" : "");
  else if (rel && need[0])
    line(a, 1, ct_dr_vercmp(rel, need) >= 0, "NVIDIA driver %s%s: this machine has %s", req, table, rel);
  else
    line(a, 1, true, "NVIDIA driver %s%s: found (%s), release unknown", req ? req : "?", table, r->driver.libcuda_path);
}

static void advise_python(const ct_doctor_report *r, ct_doctor_advice *a, const char *range) {
  char have[256] = "";
  for (int i = 0; i < r->n_sites; i++) {
    if (!r->sites[i].python_version[0] || strstr(have, r->sites[i].python_version)) continue;
    ct_dr_appendf(have, sizeof have, "%s%s", have[0] ? ", " : "", r->sites[i].python_version);
  }
  line(a, 0, true, "Python %s (this machine: %s)", range, have[0] ? have : "no Python found");
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
  if (row->gpu_in_main_pkg == 1)
    snprintf(a->summary, sizeof a->summary,
             "`pip install tensorflow==%s.*` includes GPU support on Linux; `tensorflow-gpu` is not needed "
             "(tensorflow-gpu %s: %s)",
             row->version, row->version, row->gpu_pkg);
  else if (row->gpu_in_main_pkg == 0)
    snprintf(a->summary, sizeof a->summary,
             "`tensorflow` %s is CPU-only: for the GPU `pip install tensorflow-gpu==%s.*` (%s)", row->version,
             row->version, row->gpu_pkg);
  else
    snprintf(a->summary, sizeof a->summary,
             "TensorFlow %s: `tensorflow==1.15.0` includes GPU support, later 1.15.x need `pip install "
             "tensorflow-gpu==1.15.*` (%s)",
             row->version, row->note);
  int tm, tn;
  ct_dr_parse_mm(row->version, &tm, &tn);
  if (tm > 2 || (tm == 2 && tn >= 14))
    line(a, 0, true, "`pip install 'tensorflow[and-cuda]==%s.*'` also installs CUDA and cuDNN as pip wheels (Linux)",
         row->version);
  advise_python(r, a, row->python);
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
  char have[CT_DR_TEXT];
  if (rt) snprintf(have, sizeof have, "found %s (%s)", rt->path, rt->version);
  else if (any_rt) snprintf(have, sizeof have, "missing: this machine has CUDA %s (%s), not libcudart.so.%s", any_rt->version, any_rt->path, cudart);
  else snprintf(have, sizeof have, "missing: no CUDA runtime found");
  line(a, 1, rt != NULL, "CUDA %s (libcudart.so.%s): %s", row->cuda, cudart, have);
  const ct_doctor_lib *dn = ct_doctor_find_lib(r, CT_LIB_CUDNN, cudnn, -2);
  const ct_doctor_lib *any_dn = ct_doctor_find_lib(r, CT_LIB_CUDNN, NULL, -2);
  if (dn) snprintf(have, sizeof have, "found %s (%s)", dn->path, dn->version);
  else if (any_dn) snprintf(have, sizeof have, "missing: this machine has cuDNN %s (%s), not libcudnn.so.%s", any_dn->version, any_dn->path, cudnn);
  else snprintf(have, sizeof have, "missing: no cuDNN found");
  line(a, 1, dn != NULL, "cuDNN %s (libcudnn.so.%s): %s", row->cudnn, cudnn, have);
  advise_driver(r, a, row->cuda, row->driver);
  if (row->kernels) {
    char gpus[CT_DR_TEXT] = "";
    for (int i = 0; i < r->ct.n_gpus; i++)
      ct_dr_appendf(gpus, sizeof gpus, "%s%s sm_%d%d", gpus[0] ? ", " : "", r->ct.gpus[i].model,
                    r->ct.gpus[i].compute_major, r->ct.gpus[i].compute_minor);
    line(a, 0, true, "GPU kernels in the wheel: %s (this machine's GPUs: %s)", row->kernels, gpus[0] ? gpus : "none");
  }
  if (r->machine.cpu_model[0])
    line(a, 1, r->machine.has_avx, "CPU with AVX (prebuilt wheels since TensorFlow 1.6): %s", r->machine.has_avx ? "yes" : "no");
  if (row->note && row->note[0]) line(a, 0, true, "note: %s", row->note);
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
  char list[64];
  ct_dr_strlcpy(list, row->stable_cuda, sizeof list);
  char first[16];
  ct_dr_strlcpy(first, list, sizeof first);
  first[strcspn(first, ",")] = '\0';
  char last[16] = "";
  char *save = NULL;
  for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) ct_dr_strlcpy(last, tok, sizeof last);
  int a1 = 0, b1 = 0;
  ct_dr_parse_mm(last, &a1, &b1);
  snprintf(a->summary, sizeof a->summary,
           "PyTorch %s wheels bundle their CUDA runtime and cuDNN; stable CUDA builds: %s%s%s%s. For CUDA %s: `pip "
           "install torch==%s.* --index-url https://download.pytorch.org/whl/cu%d%d`",
           row->version, row->stable_cuda, row->experimental_cuda[0] ? ", experimental: " : "", row->experimental_cuda,
           row->uncertain ? " (?)" : "", last, row->version, a1, b1);
  advise_python(r, a, row->python);
  line(a, 0, true, "cuDNN bundled: %s", row->cudnn);
  char buf[64];
  ct_dr_strlcpy(buf, row->stable_cuda, sizeof buf);
  save = NULL;
  for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) advise_driver(r, a, tok, NULL);
  line(a, 0, true, "CPU-only alternative: `pip install torch==%s.* --index-url https://download.pytorch.org/whl/cpu`",
       row->version);
}

void ct_doctor_advise(ct_doctor_report *r, ct_doctor_advice *a, const char *framework, const char *version) {
  memset(a, 0, sizeof *a);
  a->present = true;
  ct_dr_strlcpy(a->framework, framework, sizeof a->framework);
  ct_dr_strlcpy(a->version, version, sizeof a->version);
  if (strcmp(framework, "tensorflow") == 0) advise_tf(r, a);
  else advise_torch(r, a);
}
