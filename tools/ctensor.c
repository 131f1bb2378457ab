/*
 * The `ctensor` command line: devices, version, doctor.
 *
 * Exit codes: 0 success, 1 the command ran and found a problem (doctor: a
 * GPU is present but unusable), 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctensor.h"
#include "doctor/doctor.h"

static const char usage_main[] =
    "usage: ctensor <command> [options]\n"
    "\n"
    "commands:\n"
    "  devices [--json]   list physical, logical and unusable devices\n"
    "  doctor [options]   will the GPU be used, and if not, what to change\n"
    "                     (ctensor doctor --help for its options)\n"
    "  version            print the version and build features\n"
    "  help               print this help\n";

static const char usage_devices[] =
    "usage: ctensor devices [--json] [--verbose]\n"
    "\n"
    "Lists the physical devices ctensor found (/physical_device:CPU:0, ...),\n"
    "the logical devices ops run on (/job:localhost/replica:0/task:0/device:CPU:0),\n"
    "and every GPU that exists but cannot be used, with the reason.\n"
    "\n"
    "options:\n"
    "  --json      machine-readable output (always includes every load attempt)\n"
    "  --verbose   also list every attempt to find or open a GPU library\n"
    "  --help      this help\n"
    "\n"
    "GPU libraries other than the driver are only located here (found on\n"
    "disk, version from the file name); they are opened when a GPU op first\n"
    "needs them.\n";

static const char usage_version[] =
    "usage: ctensor version\n"
    "\n"
    "Prints ctensor's version and the features this build has.\n";

static int usage_error(const char *usage, const char *fmt, const char *arg) {
  fprintf(stderr, "ctensor: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage);
  return 2;
}

/* Writes s as a JSON string literal. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static double gib(uint64_t bytes) { return (double)bytes / (double)(1ull << 30); }

static void print_physical_json(FILE *f, const ct_physical_device_info *d) {
  fprintf(f, "{\"name\": ");
  json_str(f, d->name);
  fprintf(f, ", \"device_type\": ");
  json_str(f, d->device_type);
  fprintf(f, ", \"index\": %d, \"model\": ", d->index);
  json_str(f, d->model);
  fprintf(f, ", \"cores\": %d, \"memory_bytes\": %llu", d->cores, (unsigned long long)d->memory_bytes);
  if (strcmp(d->device_type, "CPU") == 0) {
    fprintf(f, ", \"features\": [");
    char feats[sizeof d->features];
    snprintf(feats, sizeof feats, "%s", d->features);
    int k = 0;
    for (char *tok = strtok(feats, " "); tok; tok = strtok(NULL, " ")) {
      fprintf(f, k++ ? ", " : "");
      json_str(f, tok);
    }
    fprintf(f, "]");
  } else {
    fprintf(f, ", \"compute_capability\": \"%d.%d\", \"pci_bus_id\": ", d->compute_major, d->compute_minor);
    json_str(f, d->pci_bus_id);
    fprintf(f, ", \"uuid\": ");
    json_str(f, d->uuid);
  }
  fprintf(f, ", \"usable\": %s", d->usable ? "true" : "false");
  if (!d->usable) {
    fprintf(f, ", \"reason\": ");
    json_str(f, ct_gpu_reason_name(d->reason));
    fprintf(f, ", \"reason_detail\": ");
    json_str(f, d->reason_detail);
  }
  fprintf(f, "}");
}

static void print_physical_text(FILE *f, const ct_physical_device_info *d) {
  if (strcmp(d->device_type, "CPU") == 0) {
    fprintf(f, "  %-24s %s, %d cores, %.1f GiB\n", d->name, d->model, d->cores, gib(d->memory_bytes));
    if (d->features[0]) fprintf(f, "  %-24s features: %s\n", "", d->features);
  } else {
    fprintf(f, "  %-24s %s, compute capability %d.%d, %.1f GiB, %d SMs, pci %s%s\n", d->name, d->model,
            d->compute_major, d->compute_minor, gib(d->memory_bytes), d->cores, d->pci_bus_id,
            d->usable ? "" : " (unusable: see below)");
  }
}

static void version_str(const ct_gpu_library_info *g, char *buf, size_t size) {
  if (g->version_major < 0) snprintf(buf, size, "?");
  else if (g->version_minor < 0) snprintf(buf, size, "%d", g->version_major);
  else snprintf(buf, size, "%d.%d", g->version_major, g->version_minor);
}

static void print_libraries(FILE *f, ct_context *ctx, bool json, bool verbose) {
  int n = ct_gpu_library_count(ctx);
  ct_gpu_library_info g;
  char v[32];
  if (json) {
    fprintf(f, "  \"gpu_libraries\": [");
    for (int i = 0; i < n; i++) {
      if (ct_gpu_library_get(ctx, i, &g) != CT_OK) continue;
      version_str(&g, v, sizeof v);
      fprintf(f, "%s{\"name\": ", i ? ",\n    " : "\n    ");
      json_str(f, g.name);
      fprintf(f, ", \"found\": %s, \"loaded\": %s, \"version\": ", g.found ? "true" : "false", g.loaded ? "true" : "false");
      json_str(f, v);
      fprintf(f, ", \"path\": ");
      json_str(f, g.path);
      fprintf(f, ", \"detail\": ");
      json_str(f, g.detail);
      fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"load_attempts\": [");
    int na = ct_gpu_load_attempt_count(ctx);
    ct_gpu_load_attempt a;
    for (int i = 0; i < na; i++) {
      if (ct_gpu_load_attempt_get(ctx, i, &a) != CT_OK) continue;
      fprintf(f, "%s{\"library\": ", i ? ",\n    " : "\n    ");
      json_str(f, a.library);
      fprintf(f, ", \"stage\": ");
      json_str(f, a.stage);
      fprintf(f, ", \"opened\": %s, \"ok\": %s, \"name\": ", a.opened ? "true" : "false", a.ok ? "true" : "false");
      json_str(f, a.name);
      fprintf(f, ", \"path\": ");
      json_str(f, a.path);
      fprintf(f, ", \"error\": ");
      json_str(f, a.error);
      fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n");
    return;
  }
  fprintf(f, "GPU libraries:\n");
  for (int i = 0; i < n; i++) {
    if (ct_gpu_library_get(ctx, i, &g) != CT_OK) continue;
    version_str(&g, v, sizeof v);
    if (g.found)
      fprintf(f, "  %-9s %-6s %s%s%s%s\n", g.name, v, g.path, g.loaded ? " (loaded)" : " (found; opened on first use)",
              g.detail[0] ? ": " : "", g.detail);
    else
      fprintf(f, "  %-9s not found%s%s\n", g.name, g.detail[0] ? ": " : "", g.detail);
  }
  if (!verbose) return;
  fprintf(f, "Load attempts:\n");
  int na = ct_gpu_load_attempt_count(ctx);
  ct_gpu_load_attempt a;
  for (int i = 0; i < na; i++) {
    if (ct_gpu_load_attempt_get(ctx, i, &a) != CT_OK) continue;
    fprintf(f, "  %-9s %-10s %-7s %s %s%s%s\n", a.library, a.stage, a.opened ? "dlopen" : "stat", a.ok ? "ok  " : "fail",
            a.path[0] ? a.path : a.name, a.error[0] ? ": " : "", a.error);
  }
}

static int cmd_devices(int argc, char **argv) {
  bool json = false, verbose = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = true;
    else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) verbose = true;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage_devices, stdout);
      return 0;
    } else
      return usage_error(usage_devices, "devices: unknown argument '%s'", argv[i]);
  }
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "ctensor: %s\n", ct_last_error());
    return 1;
  }
  /* Initialise first: a GPU on which no context can be created is only
   * found then (DEVICE_UNAVAILABLE), and must be listed as unusable. */
  if (ct_context_initialize(ctx) != CT_OK) {
    fprintf(stderr, "ctensor: cannot initialise: %s\n", ct_last_error());
    ct_context_free(ctx);
    return 1;
  }
  int n_phys = ct_physical_device_count(ctx, NULL);
  int n_unusable = ct_unusable_device_count(ctx);
  char detail[CT_INFO_TEXT_MAX];
  ct_gpu_reason gpu = ct_gpu_availability(ctx, detail, sizeof detail);
  int n_logical = ct_logical_device_count(ctx, NULL);
  ct_physical_device_info p;
  ct_logical_device_info l;
  FILE *f = stdout;
  if (json) {
    fprintf(f, "{\n  \"physical_devices\": [");
    for (int i = 0; i < n_phys; i++) {
      if (ct_physical_device_get(ctx, NULL, i, &p) != CT_OK) continue;
      fprintf(f, i ? ",\n    " : "\n    ");
      print_physical_json(f, &p);
    }
    fprintf(f, "\n  ],\n  \"logical_devices\": [");
    for (int i = 0; i < n_logical; i++) {
      if (ct_logical_device_get(ctx, NULL, i, &l) != CT_OK) continue;
      fprintf(f, "%s{\"name\": ", i ? ",\n    " : "\n    ");
      json_str(f, l.name);
      fprintf(f, ", \"short_name\": ");
      json_str(f, l.short_name);
      fprintf(f, ", \"device_type\": ");
      json_str(f, l.device_type);
      fprintf(f, ", \"index\": %d, \"physical_index\": %d, \"memory_limit_bytes\": %llu}", l.index, l.physical_index,
              (unsigned long long)l.memory_limit_bytes);
    }
    fprintf(f, "\n  ],\n  \"unusable_devices\": [");
    for (int i = 0; i < n_unusable; i++) {
      if (ct_unusable_device_get(ctx, i, &p) != CT_OK) continue;
      fprintf(f, i ? ",\n    " : "\n    ");
      print_physical_json(f, &p);
    }
    fprintf(f, "\n  ],\n");
    print_libraries(f, ctx, true, true);
    fprintf(f, "  \"gpu\": {\"usable\": %s, \"reason\": ", gpu == CT_GPU_USABLE ? "true" : "false");
    json_str(f, ct_gpu_reason_name(gpu));
    fprintf(f, ", \"detail\": ");
    json_str(f, detail);
    fprintf(f, "}\n}\n");
  } else {
    fprintf(f, "Physical devices:\n");
    for (int i = 0; i < n_phys; i++)
      if (ct_physical_device_get(ctx, NULL, i, &p) == CT_OK) print_physical_text(f, &p);
    fprintf(f, "Logical devices:\n");
    for (int i = 0; i < n_logical; i++)
      if (ct_logical_device_get(ctx, NULL, i, &l) == CT_OK) {
        if (l.memory_limit_bytes)
          fprintf(f, "  %s (memory limit %.0f MiB)\n", l.name, (double)l.memory_limit_bytes / (1 << 20));
        else
          fprintf(f, "  %s\n", l.name);
      }
    if (n_unusable > 0) {
      fprintf(f, "Unusable GPUs:\n");
      for (int i = 0; i < n_unusable; i++) {
        if (ct_unusable_device_get(ctx, i, &p) != CT_OK) continue;
        fprintf(f, "  %-24s %s: %s (%s)\n", p.name, p.model[0] ? p.model : "GPU", ct_gpu_reason_name(p.reason),
                p.reason_detail);
      }
    }
    print_libraries(f, ctx, false, verbose);
    if (gpu == CT_GPU_USABLE)
      fprintf(f, "GPU: usable (%s)\n", detail);
    else
      fprintf(f, "GPU: not used: %s: %s\n", ct_gpu_reason_name(gpu), detail);
  }
  ct_context_free(ctx);
  return 0;
}

static int cmd_version(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage_version, stdout);
      return 0;
    }
    return usage_error(usage_version, "version: unknown argument '%s'", argv[i]);
  }
  char info[512];
  ct_build_info(info, sizeof info);
  printf("ctensor %s (header %s)\n", ct_version(), CT_VERSION_STRING);
  printf("Build: %s\n", info);
  printf("Features: %s\n", ct_build_features());
  printf("GPU: NVIDIA driver (libcuda.so.1), cuBLAS and NVRTC are opened at run time when present;\n"
         "     none is needed to build or to run on the CPU (see `ctensor devices`)\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage_error(usage_main, "%s", "missing command");
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_main, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) return cmd_version(1, argv + 1);
  if (strcmp(cmd, "devices") == 0) return cmd_devices(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0) return cmd_version(argc - 1, argv + 1);
  if (strcmp(cmd, "doctor") == 0) return ct_doctor_main(argc - 1, argv + 1, stdout, stderr);
  return usage_error(usage_main, "unknown command '%s'", cmd);
}
