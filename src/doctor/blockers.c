/*
 * Machine-wide blockers: facts of the machine that keep every CUDA program,
 * and so ctensor, TensorFlow, PyTorch and JAX alike, off the GPU, however
 * well each framework is installed. They are found once from the probes and
 * then applied to every verdict, so that no framework can be reported as
 * using a GPU that the environment hides, a driver that cannot initialise,
 * or a device that nouveau holds.
 *
 * The names are stable (JSON "blockers"[].name and a verdict's
 * "blocked_by"); docs/doctor.md lists them.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

static ct_doctor_blocker *add_blocker(ct_doctor_report *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_doctor_blocker *add_blocker(ct_doctor_report *r, const char *name, const char *fmt, ...) {
  if (r->n_blockers >= CT_DR_MAX_BLOCKERS) return NULL;
  ct_doctor_blocker *b = &r->blockers[r->n_blockers++];
  memset(b, 0, sizeof *b);
  ct_dr_strlcpy(b->name, name, sizeof b->name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->text, sizeof b->text, fmt, ap);
  va_end(ap);
  return b;
}

static void blocker_fix(ct_doctor_blocker *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void blocker_fix(ct_doctor_blocker *b, const char *fmt, ...) {
  if (!b || b->n_fixes >= 3) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->fixes[b->n_fixes++], sizeof b->fixes[0], fmt, ap);
  va_end(ap);
}

static void machine_note(ct_doctor_report *r, const char *text) {
  if (r->n_machine_notes < 4) ct_dr_strlcpy(r->machine_notes[r->n_machine_notes++], text, sizeof r->machine_notes[0]);
}

/* ---- CUDA_VISIBLE_DEVICES ------------------------------------------------ */

/* The driver reads the list left to right and stops at the first entry that
 * is not a GPU index or UUID (prefix) of this machine: "-1", "", "2" on a
 * one-GPU machine and "foo,0" all leave no GPU visible. Returns the number
 * of GPUs left visible and describes the first bad entry in `why`; -1 when
 * the variable is unset. */
static int cvd_visible(const ct_doctor_report *r, const char *cvd, char *bad, size_t bsize) {
  const ct_doctor_driver *d = &r->driver;
  bad[0] = '\0';
  int visible = 0;
  char copy[CT_DR_PATH];
  ct_dr_strlcpy(copy, cvd, sizeof copy);
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok)) tok++;
    size_t n = strlen(tok);
    while (n > 0 && isspace((unsigned char)tok[n - 1])) tok[--n] = '\0';
    bool ok;
    if (n > 0 && strspn(tok, "0123456789") == n) {
      long idx = strtol(tok, NULL, 10);
      ok = d->n_driver_gpus == 0 || idx < d->n_driver_gpus;
      if (!ok && d->n_driver_gpus == 1)
        snprintf(bad, bsize, "\"%s\" names GPU %ld, but the driver has one GPU (index 0)", tok, idx);
      else if (!ok)
        snprintf(bad, bsize, "\"%s\" names GPU %ld, but the driver has %d GPUs (indices 0-%d)", tok, idx,
                 d->n_driver_gpus, d->n_driver_gpus - 1);
    } else if (strncmp(tok, "GPU-", 4) == 0 || strncmp(tok, "MIG-", 4) == 0) {
      /* UUIDs can be checked when the module lists them (MIG ones cannot). */
      ok = d->n_gpu_uuids == 0 || strncmp(tok, "MIG-", 4) == 0;
      for (int i = 0; i < d->n_gpu_uuids && !ok; i++) ok = strncmp(d->gpu_uuids[i], tok, n) == 0;
      if (!ok) snprintf(bad, bsize, "\"%s\" matches no GPU UUID of this machine", tok);
    } else {
      ok = false;
      snprintf(bad, bsize, "\"%s\" is neither a GPU index nor a GPU UUID", tok);
    }
    if (!ok) break;
    visible++;
  }
  return visible;
}

static void find_cvd(ct_doctor_report *r) {
  const char *cvd = ct_dr_getenv(r, "CUDA_VISIBLE_DEVICES");
  if (!cvd) return;
  char bad[CT_DR_TEXT];
  int visible = cvd_visible(r, cvd, bad, sizeof bad);
  int have = r->driver.n_driver_gpus;
  char range[64];
  if (have > 1) snprintf(range, sizeof range, "0 to %d", have - 1);
  else snprintf(range, sizeof range, "0");
  if (visible == 0) {
    ct_doctor_blocker *b;
    if (!cvd[0])
      b = add_blocker(r, "cuda_visible_devices",
                      "CUDA_VISIBLE_DEVICES is set to the empty string: it hides every GPU from every CUDA program");
    else if (strcmp(cvd, "-1") == 0)
      b = add_blocker(r, "cuda_visible_devices", "CUDA_VISIBLE_DEVICES=\"-1\" hides every GPU from every CUDA program");
    else
      b = add_blocker(r, "cuda_visible_devices",
                      "CUDA_VISIBLE_DEVICES=\"%s\" leaves no GPU visible to any CUDA program: %s, and the driver stops "
                      "reading the list at the first entry that names no GPU",
                      cvd, bad);
    blocker_fix(b, "`unset CUDA_VISIBLE_DEVICES` (now \"%s\"), or list GPUs that exist: indices %s or UUIDs from "
                   "`nvidia-smi -L`; check the shell profile, the job script and the program itself (os.environ) for "
                   "where it is set",
                cvd, have ? range : "from `nvidia-smi -L`");
  } else if (bad[0]) {
    char note[CT_DR_TEXT * 2];
    snprintf(note, sizeof note,
             "CUDA_VISIBLE_DEVICES=\"%s\": only the first %d entr%s count: %s, and the driver ignores it and every "
             "entry after it",
             cvd, visible, visible == 1 ? "y" : "ies", bad);
    machine_note(r, note);
  }
}

/* ---- containers ---------------------------------------------------------- */

static bool any_nvidia_env(const ct_doctor_report *r, char *which, size_t size) {
  static const char *const names[] = {"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *v = ct_dr_getenv(r, names[i]);
    if (v) {
      snprintf(which, size, "%s=%s", names[i], v);
      return true;
    }
  }
  return false;
}

static bool has_gpu_node(const ct_doctor_driver *d) {
  for (int i = 0; i < d->n_devnodes; i++) {
    const char *n = d->devnodes[i] + strlen("/dev/nvidia");
    if (*n >= '0' && *n <= '9') return true;
  }
  return false;
}

static const char *const toolkit_fix =
    "start the container with the NVIDIA Container Toolkit: `docker run --gpus all ...` (Podman: `--device "
    "nvidia.com/gpu=all`; Kubernetes: a `nvidia.com/gpu` resource limit); on the host that needs the "
    "nvidia-container-toolkit package and `sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl "
    "restart docker`";

static void find_container(ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  const char *nvd = ct_dr_getenv(r, "NVIDIA_VISIBLE_DEVICES");
  if (nvd && (strcmp(nvd, "void") == 0 || strcmp(nvd, "none") == 0) && !has_gpu_node(d)) {
    ct_doctor_blocker *b = add_blocker(
        r, "nvidia_visible_devices",
        "NVIDIA_VISIBLE_DEVICES=\"%s\": the NVIDIA container runtime gave this container no GPU (%s)", nvd,
        strcmp(nvd, "void") == 0 ? "\"void\": neither GPUs nor driver libraries"
                                 : "\"none\": the driver libraries but no GPU");
    blocker_fix(b, "start the container with NVIDIA_VISIBLE_DEVICES=all (or GPU indices/UUIDs): `docker run --gpus "
                   "all -e NVIDIA_VISIBLE_DEVICES=all ...`; it is read when the container starts, so setting it inside "
                   "does nothing");
    return;
  }
  if (!r->machine.container[0] || d->wsl) return;
  char which[CT_DR_TEXT];
  if (d->n_devnodes == 0 && any_nvidia_env(r, which, sizeof which)) {
    ct_doctor_blocker *b = add_blocker(r, "container_without_gpu",
                                       "this %s container comes from a CUDA image (%s) but has no /dev/nvidia* "
                                       "devices: it was most likely started without `--gpus` (the NVIDIA Container "
                                       "Toolkit), so no GPU was passed in",
                                       r->machine.container, which);
    blocker_fix(b, "%s", toolkit_fix);
    return;
  }
  if (has_gpu_node(d) && (!d->uvm_node || !d->libcuda_found)) {
    char what[96] = "";
    if (!d->uvm_node) ct_dr_appendf(what, sizeof what, "/dev/nvidia-uvm");
    if (!d->libcuda_found) ct_dr_appendf(what, sizeof what, "%slibcuda.so.1", what[0] ? " and " : "");
    ct_doctor_blocker *b = add_blocker(r, "container_without_driver",
                                       "this %s container has GPU device nodes but no %s: the devices were passed by "
                                       "hand (`--device /dev/nvidia0`) rather than with `--gpus`, which also mounts "
                                       "/dev/nvidia-uvm and the host driver's libcuda.so.1",
                                       r->machine.container, what);
    blocker_fix(b, "%s", toolkit_fix);
  }
}

/* ---- the kernel side ----------------------------------------------------- */

static void find_kernel(ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  if (d->wsl || r->machine.container[0]) return; /* no kernel module of their own */
  bool nvidia_loaded = d->proc_present || d->nvidia_module_listed || strcmp(d->pci_driver, "nvidia") == 0;
  if (nvidia_loaded || d->pci_nvidia_gpus == 0) return;
  if (d->nouveau_loaded && (strcmp(d->pci_driver, "nouveau") == 0 || !d->pci_driver[0])) {
    ct_doctor_blocker *b = add_blocker(
        r, "nouveau",
        "the open-source nouveau driver drives the NVIDIA GPU%s%s%s and NVIDIA's kernel module is not loaded: no CUDA "
        "program can use the GPU through nouveau",
        d->pci_slot[0] ? " (PCI " : "", d->pci_slot, d->pci_slot[0] ? ")" : "");
    blocker_fix(b, "install NVIDIA's driver (Ubuntu: `sudo ubuntu-drivers install`; others: the distribution's "
                   "nvidia driver package or NVIDIA's installer); it blacklists nouveau: "
                   "/etc/modprobe.d/ with `blacklist nouveau` and `options nouveau modeset=0`, then `sudo "
                   "update-initramfs -u` (dracut: `sudo dracut --force`) and reboot");
    if (d->secure_boot == 1)
      blocker_fix(b, "Secure Boot is on: the NVIDIA module must be signed with a key enrolled in MOK (`sudo mokutil "
                     "--import` of the DKMS key, then confirm at the next boot), or it will not load");
    return;
  }
  if (d->nvidia_module_file[0]) {
    ct_doctor_blocker *b;
    if (d->secure_boot == 1) {
      b = add_blocker(r, "module_not_loaded",
                      "NVIDIA's kernel module is installed (%s) but not loaded, and Secure Boot is on: the kernel "
                      "refuses a module not signed with an enrolled key (`modprobe nvidia` says \"Key was rejected "
                      "by service\")",
                      d->nvidia_module_file);
      blocker_fix(b, "check with `mokutil --sb-state`; enroll the key DKMS signs modules with (`sudo mokutil --import "
                     "/var/lib/dkms/mok.pub`, confirm in the MOK manager at the next boot), then `sudo modprobe "
                     "nvidia`; or turn Secure Boot off in the firmware settings");
    } else {
      b = add_blocker(r, "module_not_loaded",
                      "NVIDIA's kernel module is installed (%s) but not loaded: no /proc/driver/nvidia%s",
                      d->nvidia_module_file,
                      d->secure_boot == 0 ? " (Secure Boot is off, so not a signing problem)" : "");
      blocker_fix(b, "`sudo modprobe nvidia` and read its error (and `sudo dmesg | grep -i nvrm`); a module built "
                     "for another kernel needs `sudo dkms autoinstall` and a reboot%s",
                  d->secure_boot < 0 ? "; \"Key was rejected by service\" means Secure Boot (`mokutil --sb-state`) "
                                       "wants the module signed"
                                     : "");
    }
  }
}

static void find_driver(ct_doctor_report *r) {
  const ct_doctor_driver *d = &r->driver;
  if (d->userspace_mismatch || d->cu_init_result == 803) {
    const char *km = d->kernel_module_version[0] ? d->kernel_module_version : "?";
    const char *us = d->libcuda_userspace_version[0] ? d->libcuda_userspace_version : "?";
    char usr[96];
    if (d->libcuda_userspace_version[0]) snprintf(usr, sizeof usr, "driver %s", us);
    else snprintf(usr, sizeof usr, "another release (cuInit returned 803)");
    ct_doctor_blocker *b = add_blocker(r, "driver_mismatch",
                                       "the loaded kernel module is driver %s but the user-space driver (%s) is "
                                       "%s: every CUDA program fails with error 803 "
                                       "(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH) and nvidia-smi with \"Driver/library "
                                       "version mismatch\"",
                                       km, d->libcuda_path[0] ? d->libcuda_path : "libcuda.so.1", usr);
    blocker_fix(b, "reboot, so that the kernel loads the module of the driver the update installed%s%s (the usual "
                   "cause: a driver update while module %s stayed loaded)",
                d->libcuda_userspace_version[0] ? ", " : "", d->libcuda_userspace_version, km);
    blocker_fix(b, "if %s persists after a reboot, reinstall one driver release so that the kernel module and "
                   "libcuda.so.<release> match (now %s and %s), e.g. remove the older packages and `sudo apt-get "
                   "install --reinstall` the driver",
                "the mismatch", km, us);
  }
  bool uvm_matters = !d->wsl && !r->machine.container[0] && d->proc_present && has_gpu_node(d);
  if (d->cu_init_result == 999 && !d->wsl) {
    ct_doctor_blocker *b = add_blocker(r, "cuinit_unknown_error",
                                       "cuInit fails with 999 (CUDA_ERROR_UNKNOWN)%s: typically the unified-memory "
                                       "module nvidia-uvm is not loaded or broke after a suspend/resume",
                                       d->uvm_node ? "" : " and /dev/nvidia-uvm is missing");
    blocker_fix(b, "`sudo nvidia-modprobe -u -c=0` (loads nvidia-uvm and creates /dev/nvidia-uvm) or `sudo modprobe "
                   "nvidia-uvm`; after a suspend/resume: `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`");
  } else if (uvm_matters && !d->uvm_node) {
    machine_note(r, "no /dev/nvidia-uvm yet: the first CUDA program normally creates it (through nvidia-modprobe); "
                    "if CUDA then fails with error 999, run `sudo nvidia-modprobe -u -c=0` or `sudo modprobe "
                    "nvidia-uvm`");
  }
  if (d->libcuda_is_stub && (d->proc_present || d->wsl)) {
    ct_doctor_blocker *b = add_blocker(r, "libcuda_stub",
                                       "the libcuda.so.1 the loader finds first (%s) is the CUDA toolkit's stub, which "
                                       "exists only for linking: every CUDA call fails with 34 "
                                       "(CUDA_ERROR_STUB_LIBRARY) although a driver is installed",
                                       d->libcuda_path);
    if (d->stub_dirs_on_ld_path[0])
      blocker_fix(b, "remove %s from LD_LIBRARY_PATH (the stubs directory belongs on the linker's path, "
                     "LIBRARY_PATH, at most)",
                  d->stub_dirs_on_ld_path);
    else
      blocker_fix(b, "remove %s or the directory holding it from the loader's path (`/etc/ld.so.conf.d/`, then `sudo "
                     "ldconfig`)",
                  d->libcuda_path);
  }
  if (d->wsl && d->libcuda_found && !strstr(d->libcuda_path, "/usr/lib/wsl/") && !d->libcuda_is_stub) {
    ct_doctor_blocker *b =
        add_blocker(r, "wsl_linux_driver",
                    "this is WSL2, whose GPU comes from the Windows driver through /usr/lib/wsl/lib/libcuda.so.1, but "
                    "the loader finds a Linux driver's libcuda.so.1 first (%s), which cannot drive the GPU in WSL",
                    d->libcuda_path);
    blocker_fix(b, "uninstall the Linux NVIDIA driver packages inside WSL (NVIDIA's WSL guide: install only the Windows "
                   "driver; inside WSL use the cuda-toolkit packages without the driver), then `sudo ldconfig`");
  }
}

void ct_doctor_find_blockers(ct_doctor_report *r) {
  r->n_blockers = 0;
  r->n_machine_notes = 0;
  find_container(r);
  find_kernel(r);
  find_driver(r);
  /* Hiding GPUs matters only where there are GPUs to hide. */
  if (r->gpu_present) find_cvd(r);
}

/* ---- applying them -------------------------------------------------------- */

static bool has_fix(const ct_doctor_verdict *v, const char *fix) {
  for (int k = 0; k < v->n_fixes; k++)
    if (strcmp(v->fixes[k], fix) == 0) return true;
  return false;
}

/* Blocker fixes go first: nothing else helps before they are done. */
static void prepend_fixes(ct_doctor_verdict *v, const ct_doctor_blocker *b) {
  for (int k = b->n_fixes - 1; k >= 0; k--) {
    if (has_fix(v, b->fixes[k])) continue;
    int n = v->n_fixes < CT_DR_MAX_FIXES ? v->n_fixes : CT_DR_MAX_FIXES - 1;
    memmove(v->fixes[1], v->fixes[0], (size_t)n * sizeof v->fixes[0]);
    ct_dr_strlcpy(v->fixes[0], b->fixes[k], sizeof v->fixes[0]);
    v->n_fixes = n + 1;
  }
}

void ct_doctor_apply_blockers(ct_doctor_report *r) {
  for (int i = 0; i < r->n_verdicts; i++) {
    ct_doctor_verdict *v = &r->verdicts[i];
    bool is_ctensor = i == 0 && v->site < 0;
    if (is_ctensor && (!r->ct.probed || v->state == CT_DR_GPU_YES)) continue;
    if (v->state == CT_DR_CPU_BY_DESIGN && !r->gpu_present) continue;
    for (int k = 0; k < r->n_machine_notes; k++) ct_dr_note(v, "%s", r->machine_notes[k]);
    if (r->n_blockers == 0) {
      /* A driver floor the machine's unknown release cannot be held to. */
      if (!is_ctensor && v->driver_unknown && v->state == CT_DR_GPU_YES) {
        v->state = CT_DR_UNKNOWN;
        ct_dr_appendf(v->reason, sizeof v->reason, "; whether the driver is new enough cannot be told: its release is "
                                                   "unknown%s",
                      r->driver.wsl ? " (WSL2: the Windows driver's)" : "");
      }
      continue;
    }
    char reason[sizeof v->reason];
    snprintf(reason, sizeof reason, "GPU will not be used: ");
    for (int b = 0; b < r->n_blockers; b++) {
      ct_dr_appendf(reason, sizeof reason, "%s%s", b ? "; also " : "", r->blockers[b].text);
      v->blocked_by |= 1u << b;
    }
    if (v->reason[0] && !is_ctensor) ct_dr_note(v, "once that is fixed: %s", v->reason);
    /* ctensor's own reason names what its loader saw (DRIVER_INIT_FAILED,
     * ...): kept, with the blocker's fixes first. */
    if (!is_ctensor || v->state != CT_DR_GPU_NO) ct_dr_strlcpy(v->reason, reason, sizeof v->reason);
    v->state = CT_DR_GPU_NO;
    for (int b = r->n_blockers - 1; b >= 0; b--) prepend_fixes(v, &r->blockers[b]);
  }
}
