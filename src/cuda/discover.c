/*
 * GPU discovery with reasons: which GPUs exist, which can be used, and for
 * each one that cannot (or when none can), a stable reason and a sentence
 * that names the fix.
 *
 * Discovery opens libcuda.so.1, calls cuInit and queries device attributes.
 * It creates no CUDA context and allocates no device memory (TensorFlow
 * issue #8021: listing devices must not take the GPUs). cuBLAS and NVRTC
 * are only located, not opened.
 *
 * Environment: ctensor reads its variables (CT_CUDA_DRIVER_PATH, ...,
 * CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES for the messages) once per
 * context, here. CUDA_VISIBLE_DEVICES itself is applied by the driver, which
 * reads it once per process at its first cuInit: changing it afterwards has
 * no effect on the real driver.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"
#include "cuda/loader.h"

const char *ct_gpu_reason_name(ct_gpu_reason reason) {
  switch (reason) {
    case CT_GPU_USABLE: return "USABLE";
    case CT_GPU_NO_DRIVER_LIBRARY: return "NO_DRIVER_LIBRARY";
    case CT_GPU_DRIVER_IS_STUB: return "DRIVER_IS_STUB";
    case CT_GPU_DRIVER_INIT_FAILED: return "DRIVER_INIT_FAILED";
    case CT_GPU_NO_DEVICE: return "NO_DEVICE";
    case CT_GPU_NO_VISIBLE_DEVICE: return "NO_VISIBLE_DEVICE";
    case CT_GPU_DRIVER_TOO_OLD: return "DRIVER_TOO_OLD";
    case CT_GPU_ARCH_UNSUPPORTED: return "ARCH_UNSUPPORTED";
    case CT_GPU_SYMBOL_MISSING: return "SYMBOL_MISSING";
    case CT_GPU_HIDDEN_BY_CONFIG: return "HIDDEN_BY_CONFIG";
    case CT_GPU_NO_CUBLAS: return "NO_CUBLAS";
    case CT_GPU_NO_NVRTC: return "NO_NVRTC";
    case CT_GPU_DEVICE_UNAVAILABLE: return "DEVICE_UNAVAILABLE";
    case CT_GPU_DEVICE_FAILED: return "DEVICE_FAILED";
  }
  return "UNKNOWN_REASON";
}

/* ---- minimum driver releases (Linux), from NVIDIA's release notes -------- */

/* A toolkit X.Y runs on any driver of the same major from the minor-version
 * compatibility release on; the full-feature release is per X.Y. */
static const struct {
  int major;
  const char *minor_compat;
} compat_min[] = {{13, "580.65.06"}, {12, "525.60.13"}, {11, "450.80.02"}};

static const struct {
  int major, minor;
  const char *release;
} full_min[] = {
    {13, 1, "590.44.01"}, {13, 0, "580.65.06"}, {12, 9, "575.51.03"}, {12, 8, "570.26"},
    {12, 6, "560.28.03"}, {12, 5, "555.42.02"}, {12, 4, "550.54.14"}, {12, 3, "545.23.06"},
    {12, 2, "535.54.03"}, {12, 1, "530.30.02"}, {12, 0, "525.60.13"}, {11, 8, "520.61.05"},
    {11, 7, "515.43.04"}, {11, 6, "510.39.01"}, {11, 5, "495.29.05"}, {11, 4, "470.42.01"},
    {11, 3, "465.19.01"}, {11, 2, "460.27.03"}, {11, 1, "455.23"},    {11, 0, "450.51.05"},
};

/* The minimum Linux driver release for CUDA major.minor (minor < 0: the
 * major's minor-version-compatibility minimum). NULL when unknown. */
static const char *min_driver_release(int major, int minor) {
  if (minor >= 0)
    for (size_t i = 0; i < CT_ARRAY_LEN(full_min); i++)
      if (full_min[i].major == major && full_min[i].minor == minor) return full_min[i].release;
  for (size_t i = 0; i < CT_ARRAY_LEN(compat_min); i++)
    if (compat_min[i].major == major) return compat_min[i].minor_compat;
  return NULL;
}

/* The kernel module's release, "550.54.14", from /proc (empty if absent). */
static void kernel_driver_release(char *out, size_t size) {
  out[0] = '\0';
  FILE *f = fopen("/proc/driver/nvidia/version", "r");
  if (!f) return;
  char line[256];
  if (fgets(line, sizeof line, f)) {
    /* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu ..." */
    const char *p = strstr(line, "Kernel Module");
    if (p) {
      p += strlen("Kernel Module");
      while (*p == ' ') p++;
      size_t n = strcspn(p, " \n");
      if (n >= size) n = size - 1;
      memcpy(out, p, n);
      out[n] = '\0';
    }
  }
  fclose(f);
}

/* ---- messages ------------------------------------------------------------ */

static void visibility_values(const ct_cuda_env *env, char *out, size_t size) {
  size_t n = 0;
  out[0] = '\0';
  if (env->has_cuda_visible) {
    int w = snprintf(out, size, "CUDA_VISIBLE_DEVICES=\"%s\"", env->cuda_visible);
    if (w > 0) n = (size_t)w < size ? (size_t)w : size - 1;
  }
  if (env->has_nvidia_visible)
    snprintf(out + n, size - n, "%sNVIDIA_VISIBLE_DEVICES=\"%s\"", n ? ", " : "", env->nvidia_visible);
}

static void init_failure_detail(const ct_cuda_state *st, CUresult r, char *out, size_t size) {
  const char *name = ct_cuda_error_name(&st->drv, r);
  switch (r) {
    case CUDA_ERROR_NO_DEVICE:
      snprintf(out, size,
               "cuInit failed with %s (100): the driver is installed but sees no CUDA-capable GPU; check "
               "that /dev/nvidia0 exists (in a container, run it with the NVIDIA runtime, e.g. --gpus all)",
               name);
      break;
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
      snprintf(out, size,
               "cuInit failed with %s (803): the NVIDIA kernel module and the user-space driver (%s) have "
               "different versions, usually after a driver update without a reboot; reboot, or reinstall a "
               "single driver version",
               name, st->libs[CT_CUDA_LIB_DRIVER].path);
      break;
    case CUDA_ERROR_UNKNOWN:
      snprintf(out, size,
               "cuInit failed with %s (999): often /dev/nvidia-uvm is missing (load it with 'nvidia-modprobe "
               "-u' or 'modprobe nvidia_uvm') or the GPU did not come back from suspend (reboot)",
               name);
      break;
    case CUDA_ERROR_INSUFFICIENT_DRIVER:
      snprintf(out, size,
               "cuInit failed with %s (35): the driver (%s) is older than this CUDA driver library "
               "(a forward-compatibility package?); install a newer NVIDIA driver",
               name, st->libs[CT_CUDA_LIB_DRIVER].path);
      break;
    default: {
      const char *text = NULL;
      if (st->drv.cuGetErrorString && st->drv.cuGetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
      snprintf(out, size, "cuInit failed with %s (%d)%s%s (driver %s)", name, r, text ? ": " : "",
               text ? text : "", st->libs[CT_CUDA_LIB_DRIVER].path);
    }
  }
}

static bool path_is_stub(const char *path) { return strstr(path, "/stubs/") != NULL; }

/* The lowest compute capability the libraries found can target (CUDA 13
 * dropped everything before Turing, CUDA 12 everything before Maxwell). */
static int min_cc_for(int cuda_major) {
  if (cuda_major >= 13) return 75;
  if (cuda_major == 12) return 50;
  if (cuda_major == 11) return 35;
  return 50;
}

static void format_uuid(const CUuuid *u, char *out, size_t size) {
  const unsigned char *b = (const unsigned char *)u->bytes;
  snprintf(out, size, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Fills everything but the name, usability and reason of one GPU. */
/* Fills *info. The compute capability decides whether the GPU can be used
 * and what kernels are built for it, so a failed query of it is returned
 * (the name of the attribute in *failed_what, the error as the result)
 * rather than read as capability 0.0, an "old GPU". The other fields only
 * describe the GPU: a failed query leaves them empty or "unknown GPU". */
static CUresult describe_gpu(const ct_cuda_state *st, int ordinal, ct_physical_device_info *info,
                             const char **failed_what) {
  const ct_cuda_driver *d = &st->drv;
  memset(info, 0, sizeof *info);
  snprintf(info->device_type, sizeof info->device_type, "GPU");
  CUdevice dev = 0;
  if (d->cuDeviceGet(&dev, ordinal) != CUDA_SUCCESS) dev = ordinal;
  char name[128] = "";
  if (d->cuDeviceGetName(name, (int)sizeof name, dev) != CUDA_SUCCESS) snprintf(name, sizeof name, "unknown GPU");
  name[sizeof name - 1] = '\0';
  snprintf(info->model, sizeof info->model, "%s", name);
  int v = 0;
  CUresult cc_result = d->cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  *failed_what = "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)";
  if (cc_result == CUDA_SUCCESS) {
    info->compute_major = v;
    cc_result = d->cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    *failed_what = "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)";
    if (cc_result == CUDA_SUCCESS) info->compute_minor = v;
  }
  if (d->cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) == CUDA_SUCCESS) info->cores = v;
  size_t mem = 0;
  if (d->cuDeviceTotalMem(&mem, dev) == CUDA_SUCCESS) info->memory_bytes = mem;
  char bus[32] = "";
  if (!d->cuDeviceGetPCIBusId || d->cuDeviceGetPCIBusId(bus, (int)sizeof bus, dev) != CUDA_SUCCESS) {
    int dom = 0, b = 0, slot = 0;
    d->cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev);
    d->cuDeviceGetAttribute(&b, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev);
    d->cuDeviceGetAttribute(&slot, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev);
    snprintf(bus, sizeof bus, "%04x:%02x:%02x.0", (unsigned)dom & 0xffffu, (unsigned)b & 0xffu,
             (unsigned)slot & 0xffu);
  }
  bus[sizeof bus - 1] = '\0';
  snprintf(info->pci_bus_id, sizeof info->pci_bus_id, "%s", bus);
  CUuuid u;
  memset(&u, 0, sizeof u);
  if (d->cuDeviceGetUuid(&u, dev) == CUDA_SUCCESS) format_uuid(&u, info->uuid, sizeof info->uuid);
  info->reason = CT_GPU_USABLE;
  return cc_result;
}

/* The library that decides the driver requirement, if any is too new. */
static const ct_cuda_library *too_new_library(const ct_cuda_state *st, const char **which) {
  static const ct_cuda_lib order[] = {CT_CUDA_LIB_CUBLAS, CT_CUDA_LIB_NVRTC, CT_CUDA_LIB_CUBLASLT};
  for (size_t i = 0; i < CT_ARRAY_LEN(order); i++)
    if (st->libs[order[i]].too_new) {
      *which = order[i] == CT_CUDA_LIB_NVRTC ? "NVRTC" : order[i] == CT_CUDA_LIB_CUBLAS ? "cuBLAS" : "cuBLASLt";
      return &st->libs[order[i]];
    }
  return NULL;
}

static void too_old_detail(const ct_cuda_state *st, char *out, size_t size) {
  char release[64];
  kernel_driver_release(release, sizeof release);
  int dmaj = st->driver_version / 1000, dmin = st->driver_version % 1000 / 10;
  const char *which = NULL;
  const ct_cuda_library *L = too_new_library(st, &which);
  char have[96];
  snprintf(have, sizeof have, "the driver supports CUDA %d.%d (cuDriverGetVersion %d%s%s)", dmaj, dmin,
           st->driver_version, release[0] ? ", release " : "", release);
  if (L) {
    const char *compat = min_driver_release(L->version_major, -1);
    const char *full = min_driver_release(L->version_major, L->version_minor);
    char ver[16];
    if (L->version_minor >= 0) {
      snprintf(ver, sizeof ver, "%d.%d", L->version_major, L->version_minor);
    } else {
      snprintf(ver, sizeof ver, "%d", L->version_major);
    }
    snprintf(out, size, "%s; %s %s (%s) needs CUDA %d.x: install NVIDIA driver >= %s%s%s", have, which, ver,
             L->path, L->version_major, compat ? compat : "(unknown)",
             full && compat && strcmp(full, compat) != 0 ? ", full features >= " : "",
             full && compat && strcmp(full, compat) != 0 ? full : "");
  } else {
    snprintf(out, size, "%s; ctensor needs CUDA %d.%d or newer: install NVIDIA driver >= %s", have,
             CT_CUDA_MIN_DRIVER_VERSION / 1000, CT_CUDA_MIN_DRIVER_VERSION % 1000 / 10,
             min_driver_release(CT_CUDA_MIN_DRIVER_VERSION / 1000, -1));
  }
}

static void set_reason(ct_gpu_reason *overall, char *detail, size_t size, ct_gpu_reason r, const char *text) {
  *overall = r;
  snprintf(detail, size, "%s", text);
}

ct_status ct_cuda_discover(ct_context *ctx, ct_physical_device_info *usable, int *n_usable,
                           ct_physical_device_info *unusable, int *n_unusable, ct_gpu_reason *overall,
                           char *detail, size_t detail_size) {
  *n_usable = 0;
  *n_unusable = 0;
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  if (!st) return CT_RESOURCE_EXHAUSTED;
  char msg[1024];
  const ct_cuda_library *drvlib = &st->libs[CT_CUDA_LIB_DRIVER];

  ct_status s = ct_cuda_load_driver(st);
  ct_cuda_locate_libraries(st);
  if (s == CT_NOT_FOUND) {
    bool proc = access("/proc/driver/nvidia/version", F_OK) == 0;
    bool node = access("/dev/nvidia0", F_OK) == 0;
    snprintf(msg, sizeof msg, "libcuda.so.1 (the NVIDIA driver's CUDA library) could not be loaded: %s; %s",
             drvlib->error,
             proc || node ? "a kernel driver is present (/proc/driver/nvidia or /dev/nvidia0): reinstall the "
                            "driver's user-space libraries or set CT_CUDA_DRIVER_PATH"
                          : "no NVIDIA driver is installed (/proc/driver/nvidia/version and /dev/nvidia0 absent)");
    set_reason(overall, detail, detail_size, CT_GPU_NO_DRIVER_LIBRARY, msg);
    return CT_OK;
  }
  if (path_is_stub(drvlib->path)) {
    snprintf(msg, sizeof msg,
             "%s is the CUDA toolkit's stub library, not the driver: remove its 'stubs' directory from "
             "LD_LIBRARY_PATH (or CT_CUDA_DRIVER_PATH); the real libcuda.so.1 comes with the NVIDIA driver",
             drvlib->path);
    set_reason(overall, detail, detail_size, CT_GPU_DRIVER_IS_STUB, msg);
    return CT_OK;
  }
  if (s != CT_OK) {
    /* A stub library may also lack entry points; cuInit tells. */
    if (st->drv.cuInit && st->drv.cuInit(0) == CUDA_ERROR_STUB_LIBRARY) {
      snprintf(msg, sizeof msg, "%s is the CUDA toolkit's stub library (cuInit returned CUDA_ERROR_STUB_LIBRARY)",
               drvlib->path);
      set_reason(overall, detail, detail_size, CT_GPU_DRIVER_IS_STUB, msg);
    } else {
      snprintf(msg, sizeof msg, "%s; update the NVIDIA driver", drvlib->error);
      set_reason(overall, detail, detail_size, CT_GPU_SYMBOL_MISSING, msg);
    }
    return CT_OK;
  }

  char vis[300];
  visibility_values(&st->env, vis, sizeof vis);
  CUresult r = st->drv.cuInit(0);
  st->init_result = r;
  if (r == CUDA_ERROR_STUB_LIBRARY) {
    snprintf(msg, sizeof msg,
             "cuInit returned CUDA_ERROR_STUB_LIBRARY (34): %s is the CUDA toolkit's stub library, not the "
             "driver; remove the directory holding it from LD_LIBRARY_PATH (or CT_CUDA_DRIVER_PATH)",
             drvlib->path);
    set_reason(overall, detail, detail_size, CT_GPU_DRIVER_IS_STUB, msg);
    return CT_OK;
  }
  if (r == CUDA_ERROR_NO_DEVICE && vis[0]) {
    snprintf(msg, sizeof msg,
             "no GPU is visible: %s (an empty value, -1 or an unknown index hides every GPU; visible GPUs are "
             "renumbered from 0 in the order listed)",
             vis);
    set_reason(overall, detail, detail_size, CT_GPU_NO_VISIBLE_DEVICE, msg);
    return CT_OK;
  }
  if (r != CUDA_SUCCESS) {
    init_failure_detail(st, r, msg, sizeof msg);
    set_reason(overall, detail, detail_size, CT_GPU_DRIVER_INIT_FAILED, msg);
    return CT_OK;
  }
  st->cu_initialized = true;
  int count = 0;
  r = st->drv.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) {
    /* not "no GPU": the driver could not say */
    snprintf(msg, sizeof msg, "cuDeviceGetCount failed with %s (%d) after cuInit succeeded (driver %s)",
             ct_cuda_error_name(&st->drv, r), r, drvlib->path);
    set_reason(overall, detail, detail_size, CT_GPU_DRIVER_INIT_FAILED, msg);
    return CT_OK;
  }
  if (count <= 0) {
    if (vis[0]) {
      snprintf(msg, sizeof msg, "no GPU is visible: %s (an empty value, -1 or an unknown index hides every GPU)",
               vis);
      set_reason(overall, detail, detail_size, CT_GPU_NO_VISIBLE_DEVICE, msg);
    } else {
      snprintf(msg, sizeof msg, "the driver (%s, CUDA %d.%d) reports no GPU", drvlib->path,
               st->driver_version / 1000, st->driver_version % 1000 / 10);
      set_reason(overall, detail, detail_size, CT_GPU_NO_DEVICE, msg);
    }
    return CT_OK;
  }
  if (count > CT_MAX_PHYSICAL) count = CT_MAX_PHYSICAL;

  const char *which = NULL;
  bool too_old = st->driver_version < CT_CUDA_MIN_DRIVER_VERSION || too_new_library(st, &which) != NULL;
  char old_msg[CT_INFO_TEXT_MAX] = "";
  if (too_old) too_old_detail(st, old_msg, sizeof old_msg);

  const ct_cuda_library *nvrtc = &st->libs[CT_CUDA_LIB_NVRTC], *cublas = &st->libs[CT_CUDA_LIB_CUBLAS];
  int lib_major = nvrtc->located ? nvrtc->version_major : cublas->located ? cublas->version_major : 0;
  int min_cc = min_cc_for(lib_major);

  for (int ord = 0; ord < count; ord++) {
    ct_physical_device_info info;
    const char *failed_what = NULL;
    CUresult described = describe_gpu(st, ord, &info, &failed_what);
    int cc = info.compute_major * 10 + info.compute_minor;
    ct_gpu_reason why = CT_GPU_USABLE;
    if (described != CUDA_SUCCESS) {
      why = CT_GPU_DEVICE_UNAVAILABLE;
      snprintf(info.reason_detail, sizeof info.reason_detail,
               "%s (pci bus id %s, CUDA device %d): %s failed with %s (%d): its compute capability is unknown, so "
               "it is not used",
               info.model, info.pci_bus_id, ord, failed_what, ct_cuda_error_name(&st->drv, described), described);
    } else if (too_old) {
      why = CT_GPU_DRIVER_TOO_OLD;
      snprintf(info.reason_detail, sizeof info.reason_detail, "%s", old_msg);
    } else if (cc < min_cc) {
      why = CT_GPU_ARCH_UNSUPPORTED;
      snprintf(info.reason_detail, sizeof info.reason_detail,
               "%s (pci bus id %s) has compute capability %d.%d; the minimum is %d.%d (sm_%d, what CUDA %d "
               "libraries can target)",
               info.model, info.pci_bus_id, info.compute_major, info.compute_minor, min_cc / 10, min_cc % 10,
               min_cc, lib_major > 0 ? lib_major : 12);
    }
    int mode = 0;
    CUdevice cu_dev = ord;
    if (why == CT_GPU_USABLE && st->drv.cuDeviceGet(&cu_dev, ord) == CUDA_SUCCESS &&
        st->drv.cuDeviceGetAttribute(&mode, CU_DEVICE_ATTRIBUTE_COMPUTE_MODE, cu_dev) == CUDA_SUCCESS &&
        mode == 2 /* CU_COMPUTEMODE_PROHIBITED */) {
      /* No process may create a context on it: known without trying. The
       * other failures of context creation are only found at
       * initialisation (ct_cuda_device_init). */
      why = CT_GPU_DEVICE_UNAVAILABLE;
      snprintf(info.reason_detail, sizeof info.reason_detail,
               "%s (pci bus id %s) is in prohibited compute mode: no process may use it (nvidia-smi -c DEFAULT "
               "allows it again)",
               info.model, info.pci_bus_id);
    }
    if (why != CT_GPU_USABLE) {
      info.usable = false;
      info.reason = why;
      info.index = ord;
      snprintf(info.name, sizeof info.name, "cuda:%d", ord);
      unusable[(*n_unusable)++] = info;
      continue;
    }
    int i = (*n_usable)++;
    info.usable = true;
    info.index = i;
    snprintf(info.name, sizeof info.name, "/physical_device:GPU:%d", i);
    /* Usable, with what it cannot do. */
    if (!nvrtc->located) {
      info.reason = CT_GPU_NO_NVRTC;
      snprintf(info.reason_detail, sizeof info.reason_detail,
               "NVRTC not found (libnvrtc.so.13/.12/.11.2; set CT_NVRTC_PATH): only copies%s run on this GPU",
               cublas->located ? " and matmul" : "");
    } else if (!cublas->located) {
      info.reason = CT_GPU_NO_CUBLAS;
      snprintf(info.reason_detail, sizeof info.reason_detail,
               "cuBLAS not found (libcublas.so.13/.12/.11; set CT_CUBLAS_PATH): matmul cannot run on this GPU");
    }
    st->ordinals[i] = ord;
    usable[i] = info;
  }
  st->n_usable = *n_usable;
  if (*n_usable > 0) ct_cuda_prune_kernels(&ctx->registry, nvrtc->located, cublas->located);

  if (*n_usable > 0) {
    *overall = CT_GPU_USABLE;
    snprintf(detail, detail_size, "%d GPU%s usable (driver CUDA %d.%d, %s)", *n_usable, *n_usable == 1 ? "" : "s",
             st->driver_version / 1000, st->driver_version % 1000 / 10, drvlib->path);
  } else {
    *overall = unusable[0].reason;
    snprintf(detail, detail_size, "%s", unusable[0].reason_detail);
  }
  return CT_OK;
}
