/* The report for people: a one-line verdict first, then sections with
 * ✓/✗ marks; colour only when writing to a terminal. */
#include <string.h>

#include "doctor/doctor.h"

typedef struct {
  FILE *f;
  bool color;
} out_t;

static const char *col(const out_t *o, const char *code) { return o->color ? code : ""; }
#define GREEN "\033[32m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RESET "\033[0m"

static void mark(const out_t *o, bool ok) {
  fprintf(o->f, "%s%s%s", col(o, ok ? GREEN : RED), ok ? "✓" : "✗", col(o, RESET));
}

static void section(const out_t *o, const char *title) { fprintf(o->f, "\n%s%s%s\n", col(o, BOLD), title, col(o, RESET)); }

static void state_mark(const out_t *o, ct_doctor_state s) {
  switch (s) {
    case CT_DR_GPU_YES: fprintf(o->f, "%s✓%s", col(o, GREEN), col(o, RESET)); break;
    case CT_DR_GPU_NO: fprintf(o->f, "%s✗%s", col(o, RED), col(o, RESET)); break;
    case CT_DR_CPU_BY_DESIGN: fprintf(o->f, "%s○%s", col(o, YELLOW), col(o, RESET)); break;
    default: fprintf(o->f, "%s?%s", col(o, YELLOW), col(o, RESET)); break;
  }
}

static double gib(uint64_t b) { return (double)b / (double)(1ull << 30); }

static void print_verdicts(const out_t *o, const ct_doctor_report *r) {
  section(o, "Verdicts (✓ GPU used, ✗ GPU not used: fix below, ○ CPU by design, ? unknown)");
  for (int i = 0; i < r->n_verdicts; i++) {
    const ct_doctor_verdict *v = &r->verdicts[i];
    fprintf(o->f, "  ");
    state_mark(o, v->state);
    fprintf(o->f, " %s%s%s: %s\n", col(o, BOLD), v->subject, col(o, RESET), v->reason);
    for (int k = 0; k < v->n_notes; k++) fprintf(o->f, "      %s- %s%s\n", col(o, DIM), v->notes[k], col(o, RESET));
    for (int k = 0; k < v->n_fixes; k++) fprintf(o->f, "      %d. %s\n", k + 1, v->fixes[k]);
    if (r->opt.sources)
      for (int k = 0; k < v->n_cites; k++)
        fprintf(o->f, "      %ssource of \"%s\": %s%s\n", col(o, DIM), v->cite_fact[k], v->cite_source[k], col(o, RESET));
  }
}

static void print_ctensor(const out_t *o, const ct_doctor_report *r) {
  const ct_doctor_ctensor *c = &r->ct;
  section(o, "ctensor");
  fprintf(o->f, "  version %s, build features: %s\n", c->version, c->features);
  if (!c->probed) {
    fprintf(o->f, "  (devices not probed)\n");
    return;
  }
  if (c->n_cpu > 0)
    fprintf(o->f, "  %s: %s, %d cores, %.1f GiB\n", c->cpu0.name, c->cpu0.model, c->cpu0.cores, gib(c->cpu0.memory_bytes));
  for (int i = 0; i < c->n_gpus; i++) {
    const ct_physical_device_info *g = &c->gpus[i];
    fprintf(o->f, "  ");
    mark(o, true);
    fprintf(o->f, " %s: %s, sm_%d%d, %.1f GiB, PCI %s\n", g->name, g->model, g->compute_major, g->compute_minor,
            gib(g->memory_bytes), g->pci_bus_id);
  }
  for (int i = 0; i < c->n_unusable; i++) {
    const ct_physical_device_info *g = &c->unusable[i];
    fprintf(o->f, "  ");
    mark(o, false);
    fprintf(o->f, " %s: %s, sm_%d%d: %s: %s\n", g->name, g->model, g->compute_major, g->compute_minor,
            ct_gpu_reason_name(g->reason), g->reason_detail);
  }
  fprintf(o->f, "  GPU availability: %s%s%s\n", ct_gpu_reason_name(c->reason), c->detail[0] ? ": " : "", c->detail);
  fprintf(o->f, "  ops without a device scope run on: %s\n", c->default_device);
}

static void print_machine(const out_t *o, const ct_doctor_report *r) {
  const ct_doctor_machine *m = &r->machine;
  section(o, "Machine");
  fprintf(o->f, "  OS: %s (%s, %s), %s\n", m->os[0] ? m->os : "?", m->kernel, m->arch, m->libc);
  fprintf(o->f, "  CPU: %s, %d logical cores, %.1f GiB memory\n", m->cpu_model[0] ? m->cpu_model : "?", m->cores,
          gib(m->memory_bytes));
  fprintf(o->f, "  ISA: sse4.2 %s, avx %s, avx2 %s, fma %s, avx512f %s\n", m->has_sse42 ? "yes" : "no",
          m->has_avx ? "yes" : "no", m->has_avx2 ? "yes" : "no", m->has_fma ? "yes" : "no", m->has_avx512f ? "yes" : "no");
  if (m->cpu_model[0]) {
    fprintf(o->f, "  ");
    mark(o, m->has_avx);
    fprintf(o->f, " %s\n", m->has_avx ? "AVX present: prebuilt TensorFlow wheels (AVX required since 1.6) can run"
                                       : "no AVX: prebuilt TensorFlow wheels (AVX required since 1.6) will not run");
  }
  if (m->container[0]) fprintf(o->f, "  container: %s\n", m->container);
}

static void print_driver(const out_t *o, const ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  section(o, "NVIDIA driver");
  fprintf(o->f, "  ");
  mark(o, d->proc_present);
  if (d->proc_present) fprintf(o->f, " kernel module %s (%s)\n", d->kernel_module_version, d->proc_text);
  else fprintf(o->f, " kernel module: not loaded (no /proc/driver/nvidia/version)\n");
  fprintf(o->f, "  ");
  mark(o, d->n_devnodes > 0);
  if (d->n_devnodes) {
    fprintf(o->f, " device nodes:");
    for (int i = 0; i < d->n_devnodes; i++) fprintf(o->f, " %s", d->devnodes[i]);
    fprintf(o->f, "%s\n", d->uvm_node ? "" : " (no /dev/nvidia-uvm)");
  } else {
    fprintf(o->f, " device nodes: none (/dev/nvidia*)\n");
  }
  fprintf(o->f, "  PCI: %d NVIDIA display device%s\n", d->pci_nvidia_gpus, d->pci_nvidia_gpus == 1 ? "" : "s");
  fprintf(o->f, "  ");
  bool lib_ok = d->libcuda_found && !d->libcuda_is_stub && d->cu_init_result <= 0;
  mark(o, lib_ok);
  if (!d->libcuda_found) {
    fprintf(o->f, " libcuda.so.1: not found (%s)\n", d->dlopen_error);
  } else {
    fprintf(o->f, " libcuda.so.1: %s (via %s)%s\n", d->libcuda_path, d->libcuda_how,
            d->libcuda_is_stub ? ": the CUDA toolkit's STUB, not a driver" : "");
    if (d->cuda_driver_version)
      fprintf(o->f, "      CUDA driver API version %d.%d\n", d->cuda_driver_version / 1000,
              (d->cuda_driver_version % 1000) / 10);
    if (d->cu_init_result >= 0)
      fprintf(o->f, "      cuInit: %d (%s)\n", d->cu_init_result, ct_dr_cuda_error_name(d->cu_init_result));
    else if (d->dlopen_error[0])
      fprintf(o->f, "      could not be opened: %s\n", d->dlopen_error);
    if (d->libcuda_userspace_version[0]) fprintf(o->f, "      user-space release %s\n", d->libcuda_userspace_version);
  }
  if (d->userspace_mismatch) {
    fprintf(o->f, "  ");
    mark(o, false);
    fprintf(o->f, " kernel module %s and user-space driver %s differ\n", d->kernel_module_version,
            d->libcuda_userspace_version);
  }
  if (d->stub_dirs_on_ld_path[0]) {
    fprintf(o->f, "  ");
    mark(o, false);
    fprintf(o->f, " LD_LIBRARY_PATH holds a stubs directory: %s\n", d->stub_dirs_on_ld_path);
  }
  if (d->wsl) fprintf(o->f, "  WSL2: /dev/dxg and /usr/lib/wsl/lib/libcuda.so.1 (the Windows driver's GPU)\n");
  if (d->pci_driver[0]) fprintf(o->f, "  PCI %s is bound to the %s driver\n", d->pci_slot, d->pci_driver);
  if (d->nouveau_loaded) fprintf(o->f, "  nouveau (the open-source driver) is loaded\n");
  if (!d->proc_present && d->nvidia_module_file[0])
    fprintf(o->f, "  NVIDIA kernel module installed, not loaded: %s\n", d->nvidia_module_file);
  if (d->secure_boot >= 0) fprintf(o->f, "  Secure Boot: %s\n", d->secure_boot ? "on" : "off");
  if (d->nvml_found)
    fprintf(o->f, "  NVML: %s, driver %s\n", d->nvml_path, d->nvml_driver_version[0] ? d->nvml_driver_version : "?");
  else
    fprintf(o->f, "  NVML: libnvidia-ml.so.1 not found\n");
}

static void print_libs(const out_t *o, const ct_doctor_report *r) {
  section(o, "CUDA libraries (✓ loadable by name, ✗ only by path)");
  if (r->n_libs == 0) fprintf(o->f, "  none found in %d directories searched\n", r->n_search_dirs);
  for (int i = 0; i < r->n_libs; i++) {
    const ct_doctor_lib *l = &r->libs[i];
    fprintf(o->f, "  ");
    mark(o, l->loader_visible);
    fprintf(o->f, " %-6s %-10s (%s", ct_dr_lib_kind_name(l->kind), l->version, l->version_source);
    if (l->file_version[0] && strcmp(l->file_version, l->version) != 0) fprintf(o->f, "; package %s", l->file_version);
    fprintf(o->f, ")  %s  [%s]\n", l->path, l->where);
    /* A toolkit's runtime says which GPUs programs built with it can target. */
    const ct_cuda_driver_row *cr = l->kind == CT_LIB_CUDART ? ct_doctor_cuda_driver_lookup(l->version) : NULL;
    if (cr) {
      int maj = 0, min = 0;
      ct_dr_parse_mm(l->version, &maj, &min);
      fprintf(o->f, "      CUDA %d.%d targets %s\n", maj, min, cr->sm);
      if (r->opt.sources) fprintf(o->f, "      %ssource: %s%s\n", col(o, DIM), cr->sm_source, col(o, RESET));
    }
  }
}

static void print_frameworks(const out_t *o, const ct_doctor_report *r) {
  section(o, "Python environments");
  if (r->n_sites == 0) fprintf(o->f, "  none found\n");
  for (int s = 0; s < r->n_sites; s++) {
    const ct_doctor_site *site = &r->sites[s];
    int n = 0;
    for (int i = 0; i < r->n_pkgs; i++) n += r->pkgs[i].site == s;
    fprintf(o->f, "  %s%s%s: %s (%d relevant package%s)\n", site->python, site->python_version[0] ? ", Python " : "",
            site->python_version, site->dir, n, n == 1 ? "" : "s");
    for (int i = 0; i < r->n_pkgs; i++) {
      const ct_doctor_pkg *p = &r->pkgs[i];
      if (p->site != s) continue;
      fprintf(o->f, "      %s %s%s%s\n", p->name, p->version, p->build[0] ? " " : "", p->build);
    }
  }
}

static void print_env(const out_t *o, const ct_doctor_report *r) {
  section(o, "Environment");
  for (int i = 0; i < CT_DR_N_ENV; i++) {
    const ct_doctor_env_var *e = &r->env[i];
    if (e->set) fprintf(o->f, "  %s=\"%s\"\n", e->name, e->value);
    else fprintf(o->f, "  %s%s (unset)%s\n", col(o, DIM), e->name, col(o, RESET));
  }
}

static void print_source(const out_t *o, bool on, const char *src) {
  if (on && src[0]) fprintf(o->f, "      %ssource: %s%s\n", col(o, DIM), src, col(o, RESET));
}

static void print_advice(const out_t *o, const ct_doctor_advice *a, bool sources) {
  if (!a->present) return;
  char title[96];
  snprintf(title, sizeof title, "Advisor: %s %s on this machine", a->framework, a->version);
  section(o, title);
  fprintf(o->f, "  %s\n", a->summary);
  print_source(o, sources, a->summary_source);
  for (int i = 0; i < a->n_lines; i++) {
    fprintf(o->f, "  ");
    if (a->line_check[i]) mark(o, a->line_ok[i]);
    else fprintf(o->f, "-");
    fprintf(o->f, " %s\n", a->lines[i]);
    print_source(o, sources, a->line_source[i]);
  }
}

static void print_verify(const out_t *o, const ct_doctor_report *r) {
  if (!r->opt.verify) return;
  section(o, "Verify: matmul on every usable device, compared with CPU:0");
  for (int i = 0; i < r->n_verify; i++) {
    const ct_doctor_verify_result *v = &r->verify[i];
    fprintf(o->f, "  ");
    mark(o, v->ok);
    if (v->error[0]) fprintf(o->f, " %s: %s\n", v->device[0] ? v->device : "?", v->error);
    else
      fprintf(o->f, " %s: %dx%d float32 matmul, %.1f GFLOP/s, max relative error vs CPU %.2g\n", v->device, v->n, v->n,
              v->gflops, v->max_rel_err);
  }
}

void ct_doctor_print_text(const ct_doctor_report *r, FILE *f) {
  out_t o = {f, r->opt.color};
  fprintf(f, "%s", col(&o, BOLD));
  mark(&o, r->exit_code == 0);
  fprintf(f, "%s %s%s\n", col(&o, BOLD), r->headline, col(&o, RESET));
  if (r->n_blockers) {
    section(&o, "Machine-wide: keeps every framework off the GPU");
    for (int i = 0; i < r->n_blockers; i++) {
      fprintf(f, "  ");
      mark(&o, false);
      fprintf(f, " [%s] %s\n", r->blockers[i].name, r->blockers[i].text);
    }
  }
  for (int i = 0; i < 2; i++) print_advice(&o, &r->advice[i], r->opt.sources);
  print_verdicts(&o, r);
  print_verify(&o, r);
  print_ctensor(&o, r);
  print_machine(&o, r);
  print_driver(&o, r);
  print_libs(&o, r);
  print_frameworks(&o, r);
  print_env(&o, r);
  section(&o, "Sources of the compatibility facts");
  for (int i = 0; ct_doctor_table_sources[i]; i++) fprintf(f, "  - %s\n", ct_doctor_table_sources[i]);
  fprintf(f, "  ('?' marks a value not confirmed from a primary source%s)\n",
          r->opt.sources ? "" : "; --sources shows the source of each fact used");
  fprintf(f, "\n%sdoctor took %.0f ms%s\n", col(&o, DIM), r->elapsed_ms, col(&o, RESET));
}
