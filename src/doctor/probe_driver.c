/*
 * The NVIDIA driver as a framework meets it: the kernel module, the device
 * nodes, the PCI devices, and the user-space library libcuda.so.1 found the
 * way the dynamic loader would find it (LD_LIBRARY_PATH first). The library
 * is opened and asked for its CUDA version and cuInit's result, which is how
 * the toolkit's stub (cuInit == 34, CUDA_ERROR_STUB_LIBRARY) gives itself
 * away.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor/doctor.h"

typedef int (*cu_init_fn)(unsigned int);
typedef int (*cu_version_fn)(int *);
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_version_fn)(char *, unsigned int);

/* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ..."
 * or "... Open Kernel Module for x86_64  560.35.03  Release Build ...":
 * the first token after "Kernel Module" that looks like a release. */
void ct_dr_parse_module_version(const char *text, char *out, size_t size) {
  const char *p = strstr(text, "Kernel Module");
  out[0] = '\0';
  if (!p) return;
  p += strlen("Kernel Module");
  const char *nl = strchr(p, '\n');
  while (*p && (!nl || p < nl)) {
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, " \t\n");
    if (n > 0 && p[0] >= '0' && p[0] <= '9' && memchr(p, '.', n)) {
      if (n >= size) n = size - 1;
      memcpy(out, p, n);
      out[n] = '\0';
      return;
    }
    p += n;
  }
}

static bool is_stub_dir(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  return n >= 6 && strncmp(dir + n - 6, "/stubs", 6) == 0;
}

/* libcuda.so.550.54.15 -> "550.54.15" (the user-space driver release). */
void ct_dr_release_from_name(const char *path, char *out, size_t size) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  out[0] = '\0';
  const char *p = strstr(base, ".so.");
  if (!p) return;
  p += 4;
  if (strchr(p, '.') && strcmp(p, "1") != 0) ct_dr_strlcpy(out, p, size);
}

static void probe_devices(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  char path[CT_DR_PATH];
  ct_dr_rooted(r, "/dev", path, sizeof path);
  DIR *dir = opendir(path);
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (strncmp(e->d_name, "nvidia", 6) != 0) continue;
      if (strcmp(e->d_name, "nvidia-uvm") == 0) d->uvm_node = true;
      if (d->n_devnodes < CT_DR_MAX_DEVNODES)
        snprintf(d->devnodes[d->n_devnodes++], sizeof d->devnodes[0], "/dev/%s", e->d_name);
    }
    closedir(dir);
  }
  /* Sorted, so that the output is stable. */
  for (int i = 1; i < d->n_devnodes; i++)
    for (int j = i; j > 0 && strcmp(d->devnodes[j - 1], d->devnodes[j]) > 0; j--) {
      char t[64];
      memcpy(t, d->devnodes[j], sizeof t);
      memcpy(d->devnodes[j], d->devnodes[j - 1], sizeof t);
      memcpy(d->devnodes[j - 1], t, sizeof t);
    }

  ct_dr_rooted(r, "/sys/bus/pci/devices", path, sizeof path);
  dir = opendir(path);
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char f[CT_DR_PATH + 300], v[32], c[32];
      snprintf(f, sizeof f, "%s/%s/vendor", path, e->d_name);
      if (!ct_dr_read_file(f, v, sizeof v) || strncmp(v, "0x10de", 6) != 0) continue;
      snprintf(f, sizeof f, "%s/%s/class", path, e->d_name);
      /* 0x03xxxx: display controllers (VGA 0x0300, 3D 0x0302). */
      if (!ct_dr_read_file(f, c, sizeof c) || strncmp(c, "0x03", 4) != 0) continue;
      if (d->pci_nvidia_gpus++ == 0) {
        /* The kernel driver bound to it: the basename of its `driver` link. */
        char link[CT_DR_PATH];
        snprintf(f, sizeof f, "%s/%s/driver", path, e->d_name);
        ssize_t n = readlink(f, link, sizeof link - 1);
        if (n > 0) {
          link[n] = '\0';
          const char *b = strrchr(link, '/');
          ct_dr_strlcpy(d->pci_driver, b ? b + 1 : link, sizeof d->pci_driver);
        }
        ct_dr_strlcpy(d->pci_slot, e->d_name, sizeof d->pci_slot);
      }
    }
    closedir(dir);
  }
}

/* Whether this process's LD_LIBRARY_PATH has a relative or empty entry,
 * which the dynamic loader resolves from the current directory: then no
 * bare-name dlopen is made (the loader in src/cuda/loader.c does the same),
 * and the system directories are looked at by full path instead. */
static bool process_ld_path_relative(void) {
  const char *ld = getenv("LD_LIBRARY_PATH");
  if (!ld || !*ld) return false;
  for (const char *p = ld;;) {
    size_t n = strcspn(p, ":;");
    if (n == 0 || p[0] != '/') return true;
    if (!p[n]) return false;
    p += n + 1;
  }
}

static bool is_regular(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Finds libcuda.so.1 as the loader would. Sets libcuda_path/how. Only
 * absolute paths are taken: whatever is found here is opened. */
static void locate_libcuda(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  char path[CT_DR_PATH];
  const char *override = ct_dr_getenv(r, "CT_CUDA_DRIVER_PATH");
  if (override && *override) {
    /* An explicit file, never taken relative to --root; as for the loader,
     * only an absolute path to a regular file. */
    ct_dr_strlcpy(path, override, sizeof path);
    if (path[0] == '/' && is_regular(path)) {
      ct_dr_strlcpy(d->libcuda_path, path, sizeof d->libcuda_path);
      ct_dr_strlcpy(d->libcuda_how, "CT_CUDA_DRIVER_PATH", sizeof d->libcuda_how);
      d->libcuda_found = true;
      return;
    }
  }
  const char *ld = ct_dr_getenv(r, "LD_LIBRARY_PATH");
  if (ld && *ld) {
    char copy[4096];
    ct_dr_strlcpy(copy, ld, sizeof copy);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      if (is_stub_dir(dir)) {
        if (d->stub_dirs_on_ld_path[0]) ct_dr_appendf(d->stub_dirs_on_ld_path, sizeof d->stub_dirs_on_ld_path, ":");
        ct_dr_appendf(d->stub_dirs_on_ld_path, sizeof d->stub_dirs_on_ld_path, "%s", dir);
      }
      if (d->libcuda_found || dir[0] != '/') continue;
      char rel[CT_DR_PATH];
      snprintf(rel, sizeof rel, "%s/libcuda.so.1", dir);
      ct_dr_rooted(r, rel, path, sizeof path);
      if (ct_dr_exists(path)) {
        ct_dr_strlcpy(d->libcuda_path, path, sizeof d->libcuda_path);
        ct_dr_strlcpy(d->libcuda_how, "LD_LIBRARY_PATH", sizeof d->libcuda_how);
        d->libcuda_found = true;
      }
    }
    if (d->libcuda_found) return;
  }
  if (r->opt.root[0] == '\0' && !process_ld_path_relative()) {
    /* The loader's own search (ld.so.cache, default dirs). */
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (h) {
      struct link_map *lm = NULL;
      if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
        ct_dr_strlcpy(d->libcuda_path, lm->l_name, sizeof d->libcuda_path);
      else
        ct_dr_strlcpy(d->libcuda_path, "libcuda.so.1", sizeof d->libcuda_path);
      ct_dr_strlcpy(d->libcuda_how, "dynamic loader", sizeof d->libcuda_how);
      d->libcuda_found = true;
      dlclose(h);
    } else {
      const char *e = dlerror();
      ct_dr_strlcpy(d->dlopen_error, e ? e : "", sizeof d->dlopen_error);
    }
    return;
  }
  static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu",
                                     "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char rel[CT_DR_PATH];
    snprintf(rel, sizeof rel, "%s/libcuda.so.1", dirs[i]);
    ct_dr_rooted(r, rel, path, sizeof path);
    if (ct_dr_exists(path)) {
      ct_dr_strlcpy(d->libcuda_path, path, sizeof d->libcuda_path);
      ct_dr_strlcpy(d->libcuda_how, "system directory", sizeof d->libcuda_how);
      d->libcuda_found = true;
      return;
    }
  }
  ct_dr_strlcpy(d->dlopen_error, "libcuda.so.1: not found in the system directories of the root",
                sizeof d->dlopen_error);
}

static void query_libcuda(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  char real[PATH_MAX];
  /* WSL's libcuda.so.1 -> libcuda.so.1.1 names no driver release. */
  if (realpath(d->libcuda_path, real) && !strstr(real, "/usr/lib/wsl/")) {
    ct_dr_release_from_name(real, d->libcuda_userspace_version, sizeof d->libcuda_userspace_version);
    if (strstr(real, "/stubs/")) d->libcuda_is_stub = true;
  }
  if (strstr(d->libcuda_path, "/stubs/")) d->libcuda_is_stub = true;
  if (strchr(d->libcuda_path, '/') && d->libcuda_path[0] != '/') {
    /* a relative --root: never opened from the current directory */
    snprintf(d->dlopen_error, sizeof d->dlopen_error, "%.200s: not an absolute path; not opened", d->libcuda_path);
    return;
  }
  void *h = dlopen(d->libcuda_path, RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    ct_dr_strlcpy(d->dlopen_error, e ? e : "", sizeof d->dlopen_error);
    return;
  }
  cu_version_fn ver = (cu_version_fn)(uintptr_t)dlsym(h, "cuDriverGetVersion");
  cu_init_fn init = (cu_init_fn)(uintptr_t)dlsym(h, "cuInit");
  if (ver) {
    int v = 0;
    if (ver(&v) == 0) d->cuda_driver_version = v;
  }
  if (init) d->cu_init_result = init(0);
  if (d->cu_init_result == 34) d->libcuda_is_stub = true;
  /* A driver that initialised keeps threads and state: leave it loaded (the
   * loader holds it too). A failed one is closed. */
  if (d->cu_init_result != 0) dlclose(h);
}

static void probe_nvml(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  void *h = NULL;
  if (r->opt.root[0] == '\0' && !process_ld_path_relative()) {
    h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (h) ct_dr_strlcpy(d->nvml_path, "libnvidia-ml.so.1", sizeof d->nvml_path);
  } else {
    static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/lib/wsl/lib"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !d->nvml_found; i++) {
      char rel[CT_DR_PATH], path[CT_DR_PATH];
      snprintf(rel, sizeof rel, "%s/libnvidia-ml.so.1", dirs[i]);
      ct_dr_rooted(r, rel, path, sizeof path);
      if (ct_dr_exists(path)) {
        d->nvml_found = true;
        ct_dr_strlcpy(d->nvml_path, path, sizeof d->nvml_path);
        if (path[0] == '/') h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
      }
    }
  }
  if (!h) return;
  d->nvml_found = true;
  struct link_map *lm = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0])
    ct_dr_strlcpy(d->nvml_path, lm->l_name, sizeof d->nvml_path);
  nvml_init_fn init = (nvml_init_fn)(uintptr_t)dlsym(h, "nvmlInit_v2");
  nvml_version_fn ver = (nvml_version_fn)(uintptr_t)dlsym(h, "nvmlSystemGetDriverVersion");
  nvml_init_fn shutdown = (nvml_init_fn)(uintptr_t)dlsym(h, "nvmlShutdown");
  if (init && ver && init() == 0) {
    char v[80] = "";
    if (ver(v, sizeof v) == 0) ct_dr_strlcpy(d->nvml_driver_version, v, sizeof d->nvml_driver_version);
    if (shutdown) shutdown();
  }
  dlclose(h);
}

/* A line of /proc/modules starting with `name` and a space. */
static bool module_listed(const char *modules, const char *name) {
  size_t n = strlen(name);
  for (const char *p = modules; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == ' ') return true;
  return false;
}

/* An nvidia.ko* in the usual places of one /lib/modules/<release> tree. */
static bool find_module_file(const char *release_dir, char *out, size_t size) {
  static const char *const subs[] = {"updates/dkms", "extra", "kernel/drivers/video", "updates", "extra/nvidia",
                                     "kernel/drivers/char/drm", "misc"};
  static const char *const names[] = {"nvidia.ko", "nvidia.ko.zst", "nvidia.ko.xz", "nvidia.ko.gz"};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
      char f[CT_DR_PATH + 64];
      snprintf(f, sizeof f, "%s/%s/%s", release_dir, subs[i], names[k]);
      if (ct_dr_exists(f)) {
        ct_dr_strlcpy(out, f, size);
        return true;
      }
    }
  return false;
}

/* Which kernel driver holds the GPU, whether NVIDIA's module is installed
 * but not loaded, Secure Boot, WSL2, and the GPUs the module exposes. Only
 * files are read; nothing is run (not lsmod, not mokutil). */
static void probe_kernel_side(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  char path[CT_DR_PATH], text[4096];
  /* /proc/modules runs to tens of KiB on a desktop. */
  size_t msize = 256 * 1024;
  char *modules = malloc(msize);
  ct_dr_rooted(r, "/proc/modules", path, sizeof path);
  if (modules && ct_dr_read_file(path, modules, msize)) {
    d->nouveau_loaded = module_listed(modules, "nouveau");
    d->nvidia_module_listed = module_listed(modules, "nvidia");
  }
  free(modules);
  ct_dr_rooted(r, "/sys/module/nouveau", path, sizeof path);
  if (ct_dr_is_dir(path)) d->nouveau_loaded = true;
  if (strcmp(d->pci_driver, "nouveau") == 0) d->nouveau_loaded = true;

  /* The running kernel's modules; under --root every release in the tree. */
  struct utsname u;
  char rel[CT_DR_PATH];
  if (r->opt.root[0] == '\0' && uname(&u) == 0) {
    snprintf(rel, sizeof rel, "/lib/modules/%s", u.release);
    find_module_file(rel, d->nvidia_module_file, sizeof d->nvidia_module_file);
  } else {
    ct_dr_rooted(r, "/lib/modules", path, sizeof path);
    DIR *dir = opendir(path);
    if (dir) {
      struct dirent *e;
      while (!d->nvidia_module_file[0] && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(rel, sizeof rel, "%s/%s", path, e->d_name);
        find_module_file(rel, d->nvidia_module_file, sizeof d->nvidia_module_file);
      }
      closedir(dir);
    }
  }

  /* EFI variable SecureBoot: 4 bytes of attributes, then the value byte. */
  d->secure_boot = -1;
  ct_dr_rooted(r, "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0f0a8f3e6c6", path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (f) {
    unsigned char b[5];
    if (fread(b, 1, 5, f) == 5) d->secure_boot = b[4] == 1;
    fclose(f);
  }

  /* /dev/dxg is WSL2's GPU paravirtualisation; its libcuda.so.1 comes with
   * the Windows driver (and is missing when that driver is too old). */
  char dxg[CT_DR_PATH];
  ct_dr_rooted(r, "/dev/dxg", dxg, sizeof dxg);
  d->wsl = ct_dr_exists(dxg);

  /* /proc/driver/nvidia/gpus/<bus>/information: "GPU UUID: GPU-...". */
  ct_dr_rooted(r, "/proc/driver/nvidia/gpus", path, sizeof path);
  DIR *dir = opendir(path);
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.') continue;
      d->n_driver_gpus++;
      char info[CT_DR_PATH + 300];
      snprintf(info, sizeof info, "%s/%s/information", path, e->d_name);
      if (!ct_dr_read_file(info, text, sizeof text) || d->n_gpu_uuids >= CT_DR_MAX_GPUS) continue;
      const char *u2 = strstr(text, "GPU UUID:");
      if (!u2) continue;
      u2 += 9;
      while (*u2 == ' ' || *u2 == '\t') u2++;
      size_t n = strcspn(u2, " \t\n");
      if (n >= sizeof d->gpu_uuids[0]) n = sizeof d->gpu_uuids[0] - 1;
      memcpy(d->gpu_uuids[d->n_gpu_uuids], u2, n);
      d->gpu_uuids[d->n_gpu_uuids++][n] = '\0';
    }
    closedir(dir);
  }
  if (d->n_driver_gpus == 0)
    for (int i = 0; i < d->n_devnodes; i++) {
      const char *n = d->devnodes[i] + strlen("/dev/nvidia");
      if (*n >= '0' && *n <= '9' && n[strspn(n, "0123456789")] == '\0') d->n_driver_gpus++;
    }
}

void ct_doctor_probe_driver(ct_doctor_report *r) {
  ct_doctor_driver *d = &r->driver;
  char path[CT_DR_PATH], text[1024];
  d->cu_init_result = -1;
  ct_dr_rooted(r, "/proc/driver/nvidia/version", path, sizeof path);
  if (ct_dr_read_file(path, text, sizeof text)) {
    d->proc_present = true;
    ct_dr_parse_module_version(text, d->kernel_module_version, sizeof d->kernel_module_version);
    size_t n = strcspn(text, "\n");
    if (n >= sizeof d->proc_text) n = sizeof d->proc_text - 1;
    memcpy(d->proc_text, text, n);
    d->proc_text[n] = '\0';
  }
  probe_devices(r);
  probe_kernel_side(r);
  locate_libcuda(r);
  if (d->libcuda_found) query_libcuda(r);
  if (d->kernel_module_version[0] && d->libcuda_userspace_version[0] && !d->libcuda_is_stub &&
      strcmp(d->kernel_module_version, d->libcuda_userspace_version) != 0)
    d->userspace_mismatch = true;
  if (d->cu_init_result == 803) d->userspace_mismatch = true;
  probe_nvml(r);
}
