/* The report as JSON, schema "ctensor-doctor" version CT_DOCTOR_SCHEMA_VERSION
 * (documented in docs/doctor.md). Keys are only ever added within a version. */
#include <string.h>

#include "doctor/doctor.h"

static void js(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void kv(FILE *f, const char *key, const char *value, bool comma) {
  js(f, key);
  fputs(": ", f);
  js(f, value);
  if (comma) fputs(", ", f);
}

static const char *state_name(ct_doctor_state s) {
  switch (s) {
    case CT_DR_GPU_YES: return "gpu";
    case CT_DR_GPU_NO: return "no_gpu_fixable";
    case CT_DR_CPU_BY_DESIGN: return "cpu_by_design";
    default: return "unknown";
  }
}

static void device(FILE *f, const ct_physical_device_info *d) {
  fputs("{", f);
  kv(f, "name", d->name, true);
  kv(f, "model", d->model, true);
  fprintf(f, "\"compute_capability\": \"%d.%d\", \"memory_bytes\": %llu, ", d->compute_major, d->compute_minor,
          (unsigned long long)d->memory_bytes);
  kv(f, "pci_bus_id", d->pci_bus_id, true);
  fprintf(f, "\"usable\": %s, ", d->usable ? "true" : "false");
  kv(f, "reason", ct_gpu_reason_name(d->reason), true);
  kv(f, "reason_detail", d->reason_detail, false);
  fputs("}", f);
}

void ct_doctor_print_json(const ct_doctor_report *r, FILE *f) {
  fprintf(f, "{\"schema\": \"ctensor-doctor\", \"schema_version\": %d,\n", CT_DOCTOR_SCHEMA_VERSION);
  fprintf(f, " \"exit_code\": %d, \"gpu_present\": %s, ", r->exit_code, r->gpu_present ? "true" : "false");
  kv(f, "headline", r->headline, false);
  fprintf(f, ",\n \"elapsed_ms\": %.1f,\n", r->elapsed_ms);

  const ct_doctor_ctensor *c = &r->ct;
  fputs(" \"ctensor\": {", f);
  kv(f, "version", c->version, true);
  kv(f, "build_features", c->features, true);
  kv(f, "gpu_availability", ct_gpu_reason_name(c->reason), true);
  kv(f, "detail", c->detail, true);
  kv(f, "default_device", c->default_device, true);
  fputs("\"gpus\": [", f);
  for (int i = 0; i < c->n_gpus; i++) {
    if (i) fputs(", ", f);
    device(f, &c->gpus[i]);
  }
  fputs("], \"unusable_gpus\": [", f);
  for (int i = 0; i < c->n_unusable; i++) {
    if (i) fputs(", ", f);
    device(f, &c->unusable[i]);
  }
  fputs("]},\n", f);

  const ct_doctor_machine *m = &r->machine;
  fputs(" \"machine\": {", f);
  kv(f, "os", m->os, true);
  kv(f, "kernel", m->kernel, true);
  kv(f, "arch", m->arch, true);
  kv(f, "libc", m->libc, true);
  kv(f, "cpu_model", m->cpu_model, true);
  fprintf(f, "\"cores\": %d, \"memory_bytes\": %llu, ", m->cores, (unsigned long long)m->memory_bytes);
  fprintf(f, "\"isa\": {\"sse4_2\": %s, \"avx\": %s, \"avx2\": %s, \"fma\": %s, \"avx512f\": %s}, ",
          m->has_sse42 ? "true" : "false", m->has_avx ? "true" : "false", m->has_avx2 ? "true" : "false",
          m->has_fma ? "true" : "false", m->has_avx512f ? "true" : "false");
  kv(f, "container", m->container, false);
  fputs("},\n", f);

  const ct_doctor_driver *d = &r->driver;
  fputs(" \"driver\": {", f);
  fprintf(f, "\"kernel_module_loaded\": %s, ", d->proc_present ? "true" : "false");
  kv(f, "kernel_module_version", d->kernel_module_version, true);
  fputs("\"device_nodes\": [", f);
  for (int i = 0; i < d->n_devnodes; i++) {
    if (i) fputs(", ", f);
    js(f, d->devnodes[i]);
  }
  fprintf(f, "], \"pci_nvidia_gpus\": %d, \"libcuda_found\": %s, ", d->pci_nvidia_gpus, d->libcuda_found ? "true" : "false");
  kv(f, "libcuda_path", d->libcuda_path, true);
  kv(f, "libcuda_found_via", d->libcuda_how, true);
  fprintf(f, "\"libcuda_is_stub\": %s, \"cuda_driver_version\": %d, \"cu_init_result\": %d, ",
          d->libcuda_is_stub ? "true" : "false", d->cuda_driver_version, d->cu_init_result);
  kv(f, "cu_init_result_name", d->cu_init_result >= 0 ? ct_dr_cuda_error_name(d->cu_init_result) : "", true);
  kv(f, "userspace_version", d->libcuda_userspace_version, true);
  fprintf(f, "\"userspace_mismatch\": %s, ", d->userspace_mismatch ? "true" : "false");
  kv(f, "dlopen_error", d->dlopen_error, true);
  kv(f, "stub_dirs_on_ld_library_path", d->stub_dirs_on_ld_path, true);
  fprintf(f, "\"nvml_found\": %s, ", d->nvml_found ? "true" : "false");
  kv(f, "nvml_driver_version", d->nvml_driver_version, true);
  fprintf(f, "\"wsl\": %s, ", d->wsl ? "true" : "false");
  kv(f, "pci_driver", d->pci_driver, true);
  fprintf(f, "\"nouveau_loaded\": %s, ", d->nouveau_loaded ? "true" : "false");
  kv(f, "nvidia_module_file", d->nvidia_module_file, true);
  fprintf(f, "\"secure_boot\": %s, \"driver_gpus\": %d, \"gpu_uuids\": [",
          d->secure_boot < 0 ? "null" : d->secure_boot ? "true" : "false", d->n_driver_gpus);
  for (int i = 0; i < d->n_gpu_uuids; i++) {
    if (i) fputs(", ", f);
    js(f, d->gpu_uuids[i]);
  }
  fputs("]},\n", f);

  fputs(" \"blockers\": [", f);
  for (int i = 0; i < r->n_blockers; i++) {
    const ct_doctor_blocker *b = &r->blockers[i];
    fputs(i ? ",\n   {" : "\n   {", f);
    kv(f, "name", b->name, true);
    kv(f, "text", b->text, true);
    fputs("\"fixes\": [", f);
    for (int k = 0; k < b->n_fixes; k++) {
      if (k) fputs(", ", f);
      js(f, b->fixes[k]);
    }
    fputs("]}", f);
  }
  fputs("],\n", f);

  fputs(" \"libraries\": [", f);
  for (int i = 0; i < r->n_libs; i++) {
    const ct_doctor_lib *l = &r->libs[i];
    fputs(i ? ",\n   {" : "\n   {", f);
    kv(f, "library", ct_dr_lib_kind_name(l->kind), true);
    kv(f, "version", l->version, true);
    kv(f, "version_source", l->version_source, true);
    kv(f, "package_version", l->file_version, true);
    kv(f, "soname_version", l->soname_version, true);
    kv(f, "path", l->path, true);
    kv(f, "real_path", l->real_path, true);
    kv(f, "found_in", l->where, true);
    fprintf(f, "\"loadable_by_name\": %s}", l->loader_visible ? "true" : "false");
  }
  fputs("],\n", f);

  fputs(" \"python_environments\": [", f);
  for (int s = 0; s < r->n_sites; s++) {
    const ct_doctor_site *site = &r->sites[s];
    fputs(s ? ",\n   {" : "\n   {", f);
    kv(f, "python", site->python, true);
    kv(f, "python_version", site->python_version, true);
    kv(f, "site_packages", site->dir, true);
    fprintf(f, "\"conda\": %s, \"packages\": [", site->conda ? "true" : "false");
    int k = 0;
    for (int i = 0; i < r->n_pkgs; i++) {
      const ct_doctor_pkg *p = &r->pkgs[i];
      if (p->site != s) continue;
      fputs(k++ ? ", {" : "{", f);
      kv(f, "name", p->name, true);
      kv(f, "version", p->version, true);
      kv(f, "source", p->source, true);
      kv(f, "build", p->build, false);
      fputs("}", f);
    }
    fputs("]}", f);
  }
  fputs("],\n", f);

  fputs(" \"verdicts\": [", f);
  for (int i = 0; i < r->n_verdicts; i++) {
    const ct_doctor_verdict *v = &r->verdicts[i];
    fputs(i ? ",\n   {" : "\n   {", f);
    kv(f, "subject", v->subject, true);
    kv(f, "package", v->package, true);
    kv(f, "version", v->version, true);
    kv(f, "state", state_name(v->state), true);
    kv(f, "reason", v->reason, true);
    fputs("\"notes\": [", f);
    for (int k = 0; k < v->n_notes; k++) {
      if (k) fputs(", ", f);
      js(f, v->notes[k]);
    }
    fputs("], \"fixes\": [", f);
    for (int k = 0; k < v->n_fixes; k++) {
      if (k) fputs(", ", f);
      js(f, v->fixes[k]);
    }
    fputs("], \"sources\": [", f);
    for (int k = 0; k < v->n_cites; k++) {
      fputs(k ? ", {" : "{", f);
      kv(f, "fact", v->cite_fact[k], true);
      kv(f, "source", v->cite_source[k], false);
      fputs("}", f);
    }
    fputs("], \"blocked_by\": [", f);
    for (int b = 0, k = 0; b < r->n_blockers; b++)
      if (v->blocked_by & (1u << b)) {
        if (k++) fputs(", ", f);
        js(f, r->blockers[b].name);
      }
    fputs("]}", f);
  }
  fputs("],\n", f);

  fputs(" \"environment\": {", f);
  for (int i = 0; i < CT_DR_N_ENV; i++) {
    if (i) fputs(", ", f);
    js(f, r->env[i].name);
    fputs(": ", f);
    if (r->env[i].set) js(f, r->env[i].value);
    else fputs("null", f);
  }
  fputs("},\n", f);

  fputs(" \"advice\": [", f);
  int na = 0;
  for (int i = 0; i < 2; i++) {
    const ct_doctor_advice *a = &r->advice[i];
    if (!a->present) continue;
    fputs(na++ ? ", {" : "{", f);
    kv(f, "framework", a->framework, true);
    kv(f, "version", a->version, true);
    fprintf(f, "\"known\": %s, ", a->known ? "true" : "false");
    kv(f, "summary", a->summary, true);
    kv(f, "summary_source", a->summary_source, true);
    fputs("\"requirements\": [", f);
    for (int k = 0; k < a->n_lines; k++) {
      fputs(k ? ", {" : "{", f);
      kv(f, "text", a->lines[k], true);
      if (a->line_source[k][0]) kv(f, "source", a->line_source[k], true);
      else fputs("\"source\": null, ", f);
      if (a->line_check[k]) fprintf(f, "\"satisfied\": %s}", a->line_ok[k] ? "true" : "false");
      else fputs("\"satisfied\": null}", f);
    }
    fputs("]}", f);
  }
  fputs("],\n", f);

  fputs(" \"verify\": [", f);
  for (int i = 0; i < r->n_verify; i++) {
    const ct_doctor_verify_result *v = &r->verify[i];
    fputs(i ? ", {" : "{", f);
    kv(f, "device", v->device, true);
    fprintf(f, "\"n\": %d, \"gflops\": %.3f, \"max_rel_err\": %.3g, \"ok\": %s, ", v->n, v->gflops, v->max_rel_err,
            v->ok ? "true" : "false");
    kv(f, "error", v->error, false);
    fputs("}", f);
  }
  fputs("]\n}\n", f);
}
