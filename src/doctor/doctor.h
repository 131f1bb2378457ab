/*
 * `ctensor doctor`: will the GPU be used, and if not, exactly what to change.
 *
 * The doctor is a pipeline of plain data: probes fill a ct_doctor_report
 * (machine, driver, CUDA libraries, Python frameworks, environment, ctensor's
 * own devices), the verdict pass turns it into verdicts with numbered fixes,
 * and the reporters print it as text or JSON. Every number it prints comes
 * from the machine or from the tables in compat_tables.c (which cite their
 * sources); nothing is imported or downloaded.
 *
 * Probes read files below `root` ("" for the real machine), so that tests can
 * point the doctor at a fixture tree (see docs/doctor.md).
 */
#ifndef CT_DOCTOR_H
#define CT_DOCTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctensor.h"

/* argv[0] is "doctor"; returns the process exit code (0 GPU usable or none by
 * design, 1 GPU present but unusable, 2 usage error). Writes to `out`
 * (stdout) and `err`. */
int ct_doctor_main(int argc, char **argv, FILE *out, FILE *err);

/* The JSON schema version written as "schema_version" (docs/doctor.md).
 * 2: every advice requirement and every verdict says where its facts come
 * from ("source", "sources"). */
#define CT_DOCTOR_SCHEMA_VERSION 2

#define CT_DR_PATH 512
#define CT_DR_TEXT 256
#define CT_DR_MAX_ENV 16
#define CT_DR_MAX_LIBS 48
#define CT_DR_MAX_SITES 24
#define CT_DR_MAX_PKGS 96
#define CT_DR_MAX_VERDICTS 24
#define CT_DR_MAX_FIXES 8
#define CT_DR_MAX_NOTES 8
#define CT_DR_MAX_DEVNODES 12
#define CT_DR_MAX_SEARCH_DIRS 64
#define CT_DR_MAX_GPUS 16
#define CT_DR_MAX_VERIFY 16
#define CT_DR_MAX_CITES 8

/* ---- options ---------------------------------------------------------- */

typedef struct ct_doctor_env_override {
  char name[64];
  char value[CT_DR_PATH];
  bool unset; /* --env NAME= with nothing: treat as unset */
} ct_doctor_env_override;

typedef struct ct_doctor_options {
  bool json;
  bool verify;
  bool color;
  bool no_pythons;             /* skip PATH interpreters (fixtures) */
  bool no_ctensor;             /* skip ctensor's own device probe */
  bool sources;                /* --sources: print each fact used with its source */
  char root[CT_DR_PATH];       /* "" = the real machine */
  char tf_version[32];         /* --tf */
  char torch_version[32];      /* --torch */
  char pythons[4][CT_DR_PATH]; /* --python (repeatable) */
  int n_pythons;
  char sites[8][CT_DR_PATH];   /* --site-packages (repeatable) */
  int n_sites;
  ct_doctor_env_override env[CT_DR_MAX_ENV]; /* --env NAME=VALUE */
  int n_env;
} ct_doctor_options;

/* ---- machine ------------------------------------------------------------ */

typedef struct ct_doctor_machine {
  char os[CT_DR_TEXT];       /* PRETTY_NAME from os-release */
  char kernel[CT_DR_TEXT];   /* uname -sr */
  char arch[32];
  char libc[64];             /* "glibc 2.36" */
  char cpu_model[CT_DR_TEXT];
  int cores;                 /* logical CPUs online */
  uint64_t memory_bytes;
  bool has_sse42, has_avx, has_avx2, has_fma, has_avx512f;
  char container[64];        /* "docker", "podman", "kubernetes", "" */
} ct_doctor_machine;

/* ---- NVIDIA driver ------------------------------------------------------ */

typedef struct ct_doctor_driver {
  bool proc_present;                 /* /proc/driver/nvidia/version */
  char kernel_module_version[64];    /* "550.54.15" */
  char proc_text[CT_DR_TEXT];        /* first line of that file */
  char devnodes[CT_DR_MAX_DEVNODES][64];
  int n_devnodes;
  bool uvm_node;                     /* /dev/nvidia-uvm */
  int pci_nvidia_gpus;               /* display-class devices with vendor 0x10de */
  bool libcuda_found;
  char libcuda_path[CT_DR_PATH];
  char libcuda_how[64];              /* "LD_LIBRARY_PATH", "loader", ... */
  bool libcuda_is_stub;              /* path under .../stubs or cuInit == 34 */
  int cuda_driver_version;           /* cuDriverGetVersion, e.g. 12040; 0 unknown */
  int cu_init_result;                /* -1 not called */
  char libcuda_userspace_version[64];/* from libcuda.so.<ver> file name */
  bool userspace_mismatch;           /* user-space release != kernel module */
  char dlopen_error[CT_DR_TEXT];
  bool nvml_found;
  char nvml_path[CT_DR_PATH];
  char nvml_driver_version[64];      /* nvmlSystemGetDriverVersion */
  char stub_dirs_on_ld_path[CT_DR_PATH]; /* LD_LIBRARY_PATH entries that are stubs dirs */
  /* WSL2: /dev/dxg and /usr/lib/wsl/lib/libcuda.so.1, the GPU of the Windows
   * driver; there is no kernel module and no /dev/nvidia* there. */
  bool wsl;
  char pci_driver[32];               /* driver bound to the first NVIDIA display device: "nvidia", "nouveau", "" none */
  char pci_slot[32];                 /* its PCI address, "0000:01:00.0" */
  bool nouveau_loaded;               /* /sys/module/nouveau or a "nouveau" line in /proc/modules */
  bool nvidia_module_listed;         /* an "nvidia" line in /proc/modules */
  char nvidia_module_file[CT_DR_PATH]; /* an nvidia.ko* installed under /lib/modules; "" none found */
  int secure_boot;                   /* the EFI SecureBoot variable: 1 on, 0 off, -1 unknown */
  /* GPUs the kernel module exposes: /proc/driver/nvidia/gpus/<bus>/information
   * (with their UUIDs), else the /dev/nvidia<N> nodes; 0 unknown. */
  int n_driver_gpus;
  char gpu_uuids[CT_DR_MAX_GPUS][64];
  int n_gpu_uuids;
} ct_doctor_driver;

/* A fact of the machine that keeps every CUDA program, and so every
 * framework, off the GPU (docs/doctor.md lists the names, which are stable). */
typedef struct ct_doctor_blocker {
  char name[40];               /* "cuda_visible_devices", "driver_mismatch", ... */
  char text[CT_DR_TEXT * 2];   /* what is wrong, in one sentence */
  char fixes[3][CT_DR_TEXT * 2];
  int n_fixes;
} ct_doctor_blocker;

#define CT_DR_MAX_BLOCKERS 6

/* ---- CUDA libraries ----------------------------------------------------- */

typedef enum ct_doctor_lib_kind {
  CT_LIB_CUDART = 0, CT_LIB_CUBLAS, CT_LIB_CUDNN, CT_LIB_NVRTC, CT_LIB_NCCL, CT_LIB_KIND_COUNT
} ct_doctor_lib_kind;

typedef struct ct_doctor_lib {
  ct_doctor_lib_kind kind;
  char path[CT_DR_PATH];       /* as found (the soname link) */
  char real_path[CT_DR_PATH];
  char where[64];              /* "ld.so cache", "LD_LIBRARY_PATH", "/usr/local/cuda", "conda", "pip wheel" */
  int soname_major;            /* from libX.so.N */
  char soname_version[32];     /* "11.0" for libcudart.so.11.0, "13" */
  char version[32];            /* "13.0.96", "9.19.0" */
  char version_source[32];     /* "library call", "file name", "wheel metadata", "soname" */
  char file_version[32];       /* full version from the real file name or wheel metadata */
  bool loader_visible;         /* found by a plain dlopen(soname) of any program */
  /* The CUDA major the library was built for, where the install says so
   * (an nvidia-*-cuNN wheel beside it, or a cuda-NN.M directory); 0 unknown.
   * cuDNN 9 and NCCL ship one build per CUDA major. */
  int cuda_major;
} ct_doctor_lib;

/* ---- Python frameworks -------------------------------------------------- */

typedef struct ct_doctor_site {
  char python[CT_DR_PATH];     /* interpreter (or "conda env", "--site-packages") */
  char python_version[16];     /* "3.11"; "" unknown */
  char dir[CT_DR_PATH];
  bool conda;                  /* a conda environment's site-packages */
  char conda_prefix[CT_DR_PATH];
  bool scanned;
} ct_doctor_site;

typedef struct ct_doctor_pkg {
  int site;                    /* index into sites */
  char name[64];               /* normalised: lower case, '-' */
  char version[64];            /* full, local tag included: "2.1.0+cpu" */
  char source[16];             /* "dist-info", "egg-info", "conda-meta" */
  char build[64];              /* conda build string */
  char cuda_dep[64];           /* "nvidia-cuda-runtime-cu12==12.1.105" */
  char cudnn_dep[64];          /* "nvidia-cudnn-cu12==8.9.2.26" */
  bool has_nvidia_wheels;      /* site-packages/nvidia/<x>/lib present */
  /* torch: 1 torch/lib holds libtorch_cuda.so (or libc10_cuda.so), 0 it
   * holds neither (a CPU-only build), -1 no torch/lib to look at. */
  int torch_cuda_lib;
  bool distro;                 /* installed by the OS package manager (/usr/lib/python3/dist-packages) */
} ct_doctor_pkg;

/* ---- ctensor's own view (public API) ------------------------------------ */

typedef struct ct_doctor_ctensor {
  bool probed;
  char version[32];
  char features[CT_DR_TEXT];
  ct_gpu_reason reason;
  char detail[CT_INFO_TEXT_MAX];
  int n_cpu;
  ct_physical_device_info cpu0;
  ct_physical_device_info gpus[CT_DR_MAX_GPUS];
  int n_gpus;
  ct_physical_device_info unusable[CT_DR_MAX_GPUS];
  int n_unusable;
  char default_device[CT_DEVICE_NAME_MAX]; /* where an unscoped op lands */
} ct_doctor_ctensor;

/* ---- verdicts ----------------------------------------------------------- */

typedef enum ct_doctor_state {
  CT_DR_GPU_YES = 0,     /* will use the GPU */
  CT_DR_GPU_NO = 1,      /* will not, and a fix exists */
  CT_DR_CPU_BY_DESIGN,   /* no GPU expected: CPU build or no NVIDIA GPU */
  CT_DR_UNKNOWN,         /* cannot tell from metadata */
} ct_doctor_state;

typedef struct ct_doctor_verdict {
  char subject[96];            /* "ctensor", "tensorflow 2.4.0 (python3.8 /usr/...)" */
  char package[64];
  char version[64];
  int site;                    /* -1 for ctensor */
  ct_doctor_state state;
  char reason[CT_DR_TEXT * 2];
  char notes[CT_DR_MAX_NOTES][CT_DR_TEXT * 2];
  int n_notes;
  char fixes[CT_DR_MAX_FIXES][CT_DR_TEXT * 2];
  int n_fixes;
  /* The table facts this verdict relied on, each with its source, so that
   * every printed requirement can be traced (--sources, JSON "sources"). */
  char cite_fact[CT_DR_MAX_CITES][CT_DR_TEXT];
  char cite_source[CT_DR_MAX_CITES][CT_DR_TEXT * 2];
  int n_cites;
  /* Set while judging: the driver release needed is known but the
   * machine's is not (WSL2 without NVML, for one): "?" rather than a tick. */
  bool driver_unknown;
  unsigned blocked_by;         /* bit i: report blocker i applies to this verdict */
} ct_doctor_verdict;

/* ---- advisor (--tf / --torch) ------------------------------------------- */

typedef struct ct_doctor_advice {
  bool present;
  char framework[16];          /* "tensorflow", "torch" */
  char version[32];            /* as asked */
  bool known;                  /* found in the table */
  char summary[CT_DR_TEXT * 2];
  char lines[16][CT_DR_TEXT * 2]; /* facts, each "ok"/"missing" marked */
  bool line_ok[16];
  bool line_check[16];         /* line carries a ✓/✗ */
  char line_source[16][CT_DR_TEXT * 4]; /* where the line's requirement comes from; "" none */
  char summary_source[CT_DR_TEXT * 2];
  int n_lines;
} ct_doctor_advice;

/* ---- --verify ----------------------------------------------------------- */

typedef struct ct_doctor_verify_result {
  char device[CT_DEVICE_NAME_MAX]; /* where the matmul ran (tensor device) */
  int n;
  double gflops;
  double max_rel_err;
  bool ok;
  char error[CT_DR_TEXT];
} ct_doctor_verify_result;

/* ---- the report --------------------------------------------------------- */

typedef struct ct_doctor_env_var {
  const char *name;
  bool set;
  char value[CT_DR_PATH];
} ct_doctor_env_var;

#define CT_DR_N_ENV 16

typedef struct ct_doctor_report {
  ct_doctor_options opt;
  ct_doctor_machine machine;
  ct_doctor_driver driver;
  ct_doctor_env_var env[CT_DR_N_ENV];
  char search_dirs[CT_DR_MAX_SEARCH_DIRS][CT_DR_PATH];
  char search_where[CT_DR_MAX_SEARCH_DIRS][64];
  int n_search_dirs;
  ct_doctor_lib libs[CT_DR_MAX_LIBS];
  int n_libs;
  ct_doctor_site sites[CT_DR_MAX_SITES];
  int n_sites;
  ct_doctor_pkg pkgs[CT_DR_MAX_PKGS];
  int n_pkgs;
  ct_doctor_ctensor ct;
  ct_doctor_verdict verdicts[CT_DR_MAX_VERDICTS];
  int n_verdicts;
  ct_doctor_blocker blockers[CT_DR_MAX_BLOCKERS];
  int n_blockers;
  /* Machine-wide facts worth saying under every framework's verdict that do
   * not block it ("no /dev/nvidia-uvm yet: the first CUDA call creates it"). */
  char machine_notes[4][CT_DR_TEXT * 2];
  int n_machine_notes;
  ct_doctor_advice advice[2];
  ct_doctor_verify_result verify[CT_DR_MAX_VERIFY];
  int n_verify;
  bool gpu_present;            /* any evidence of NVIDIA hardware */
  int exit_code;
  char headline[CT_DR_TEXT * 2];
  double elapsed_ms;
} ct_doctor_report;

/* ---- compatibility tables (compat_tables.c) ----------------------------- */

/* Every row names its source: the document (a URL or a document's name)
 * and what it says for that row. A value ending in '?' was not confirmed
 * from a primary source and is printed with its '?'. */

typedef struct ct_tf_compat {
  const char *version;        /* "2.4" */
  const char *python;         /* "3.6-3.8" */
  const char *cuda;           /* "11.0" */
  const char *cudnn;          /* "8.0" */
  int gpu_in_main_pkg;        /* 1 yes, 0 no, -1 depends (1.15) */
  const char *gpu_pkg;        /* tensorflow-gpu status */
  const char *driver;         /* the driver floor printed: ">=450.x" */
  const char *kernels;        /* "sm_35,sm_50,...,compute_80?" or NULL */
  const char *note;
  bool gpu_uncertain;         /* "yes?" in the sources: GPU in `tensorflow` not confirmed */
  const char *source;         /* Python, CUDA, cuDNN and package facts */
  const char *driver_origin;  /* printed with the driver floor: who asks for it */
  const char *driver_source;
  const char *kernels_source;
} ct_tf_compat;

typedef struct ct_cuda_driver_row {
  const char *toolkit;        /* "11.0.2 GA" */
  const char *linux_min;      /* ">=450.51.05" */
  const char *minor_compat;   /* ">=450.80.02" or "none (...)" */
  const char *sm;             /* "sm_35-sm_80" */
  const char *source;         /* the two driver numbers */
  const char *sm_source;
} ct_cuda_driver_row;

/* The cuDNN a PyTorch wheel built for one CUDA bundles. */
typedef struct ct_torch_cudnn {
  const char *cuda;           /* "12.1" */
  const char *cudnn;          /* "8.9.2.26"; "?" not in the sources */
} ct_torch_cudnn;

typedef struct ct_torch_compat {
  const char *version;        /* "2.1" */
  const char *python;         /* ">=3.8, <=3.11" */
  const char *python_experimental; /* "3.12": wheels exist, support experimental; "" none */
  const char *stable_cuda;    /* "11.8" */
  const char *experimental_cuda; /* "12.1" */
  const char *also_cuda;      /* other CUDA builds published (1.12: "10.2"); "" none */
  ct_torch_cudnn cudnn[4];    /* per CUDA build */
  bool uncertain;
  const char *source;
  const char *also_source;    /* for also_cuda */
} ct_torch_compat;

/* JAX built for one CUDA major. */
typedef struct ct_jax_cuda {
  int major;                  /* 11, 12, 13 */
  const char *driver;         /* ">=450.80.02" */
  const char *extra;          /* the pip extra ("jax[cuda12]"); NULL: no longer published */
  const char *source;
} ct_jax_cuda;

/* A release whose `tensorflow[and-cuda]` extra is known not to install. */
typedef struct ct_tf_broken_pin {
  const char *tf;             /* the table row: "2.15" */
  const char *release;        /* the broken release ("2.15.0"); NULL: every release of the row */
  const char *python;         /* only on this Python ("3.11"); NULL: any */
  const char *instead;        /* a release of the row whose extra installs; NULL: none known */
  const char *why;
  const char *source;
} ct_tf_broken_pin;

const ct_tf_compat *ct_doctor_tf_lookup(const char *version);
const ct_tf_compat *ct_doctor_tf_table(int *n);
/* The row of the first GA release of `cuda` ("11.0", "12.2"); NULL unknown. */
const ct_cuda_driver_row *ct_doctor_cuda_driver_lookup(const char *cuda);
/* Oldest driver release (bare, "450.80.02") that runs CUDA `cuda`; with a
 * framework's own line (">=450.x") the stricter of the two. "" when unknown. */
void ct_doctor_driver_floor(const char *cuda, const char *docs, char *out, size_t size);
/* The cuda-driver facts for `cuda` as one clause ("CUDA 11.0: >=450.51.05"). */
void ct_doctor_driver_table_text(const char *cuda, char *out, size_t size);
const ct_torch_compat *ct_doctor_torch_lookup(const char *version);
const ct_torch_compat *ct_doctor_torch_table(int *n);
/* The cuDNN bundled by `row`'s build for `cuda` ("12.1"); "?" when unknown. */
const char *ct_doctor_torch_cudnn(const ct_torch_compat *row, const char *cuda);
/* Newest CUDA build of `row` (stable or also-published) that driver release
 * `rel` runs (NULL: unknown, any); the oldest when none does. */
void ct_doctor_torch_pick_cuda(const ct_torch_compat *row, const char *rel, char *out, size_t size);
/* Whether CUDA `cuda`'s toolkit compiles for compute capability `cc` (86
 * for 8.6): 1 yes, 0 no, -1 not known. */
int ct_doctor_cuda_covers_sm(const char *cuda, int cc);
const ct_jax_cuda *ct_doctor_jax_lookup(int cuda_major);
/* The JAX CUDA extra for driver release `rel`: the newest whose floor it
 * meets; NULL rel or too old a driver: the oldest still published. */
const ct_jax_cuda *ct_doctor_jax_pick(const char *rel);
/* The known-broken `tensorflow[and-cuda]` pin for TF `row` on Python
 * `python` ("" unknown: any), or NULL. */
const ct_tf_broken_pin *ct_doctor_tf_broken_pin(const char *row, const char *python);
/* The requirement to hand pip for `tensorflow[and-cuda]` of TF `row`
 * ("tensorflow[and-cuda]==2.15.0.post1", "tensorflow[and-cuda]==2.16.*"),
 * steering around a known-broken release. */
void ct_doctor_tf_and_cuda_spec(const char *row, char *out, size_t size);
/* Row i of the CUDA toolkit table (its key into *cuda); NULL past the end. */
const ct_cuda_driver_row *ct_doctor_cuda_driver_table(int i, const char **cuda);
const ct_jax_cuda *ct_doctor_jax_table(int *n);
const ct_tf_broken_pin *ct_doctor_tf_broken_pin_table(int *n);
/* Sources of the tables, one line each (for the report and docs). */
extern const char *const ct_doctor_table_sources[];

/* ---- small helpers shared by the files (doctor_util.c) ------------------ */

/* "2.4.1" -> major 2 minor 4; returns false when not a version. */
bool ct_dr_parse_mm(const char *v, int *major, int *minor);
/* ">=450.80.02" -> "450.80.02"; ">=450.x" -> "450"; "?" -> "". */
void ct_dr_bare_release(const char *req, char *out, size_t size);
/* Python "3.11" inside "3.6-3.8", "2.7,3.3-3.7" or ">=3.8, <=3.11": 1 yes, 0 no, -1 unknown. */
int ct_dr_python_supported(const char *range, const char *ver);
/* Compares dotted numeric versions ("450.80.02" vs "450.51"): <0, 0, >0. */
int ct_dr_vercmp(const char *a, const char *b);
/* root + path into out. */
void ct_dr_rooted(const ct_doctor_report *r, const char *path, char *out, size_t size);
bool ct_dr_exists(const char *path);
bool ct_dr_is_dir(const char *path);
/* Reads up to size-1 bytes; returns false if unreadable. */
bool ct_dr_read_file(const char *path, char *buf, size_t size);
/* The doctor's view of an environment variable (--env overrides). */
const char *ct_dr_getenv(const ct_doctor_report *r, const char *name);
void ct_dr_strlcpy(char *dst, const char *src, size_t size);
void ct_dr_appendf(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Extracts the "X.Y" prefix of a driver release ("450.80.02" -> "450.80"). */
ct_doctor_verdict *ct_dr_verdict_add(ct_doctor_report *r, const char *subject);
void ct_dr_fix(ct_doctor_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ct_dr_note(ct_doctor_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records that verdict `v` used table fact `fact` (from `source`); repeats
 * are kept once. */
void ct_dr_cite(ct_doctor_verdict *v, const char *fact, const char *source);
/* Name of a CUDA driver API error code, "CUDA_ERROR_..." (or "error N"). */
const char *ct_dr_cuda_error_name(int code);
const char *ct_dr_lib_kind_name(ct_doctor_lib_kind k);

/* ---- passes ------------------------------------------------------------- */

void ct_doctor_probe_env(ct_doctor_report *r);
void ct_doctor_probe_machine(ct_doctor_report *r);
void ct_doctor_probe_driver(ct_doctor_report *r);
void ct_doctor_probe_frameworks(ct_doctor_report *r); /* before libs: adds search dirs */
void ct_doctor_probe_libs(ct_doctor_report *r);
void ct_doctor_probe_ctensor(ct_doctor_report *r);
void ct_doctor_verdicts(ct_doctor_report *r);
/* The machine-wide blockers (run by ct_doctor_verdicts; blockers.c). */
void ct_doctor_find_blockers(ct_doctor_report *r);
/* Applies them to every verdict: state, reason and fixes (blockers.c). */
void ct_doctor_apply_blockers(ct_doctor_report *r);
void ct_doctor_advise(ct_doctor_report *r, ct_doctor_advice *a, const char *framework, const char *version);
void ct_doctor_run_verify(ct_doctor_report *r);
void ct_doctor_print_text(const ct_doctor_report *r, FILE *out);
void ct_doctor_print_json(const ct_doctor_report *r, FILE *out);

/* Library lookups used by the verdicts: the first library of `kind` whose
 * soname version equals `soname` ("11.0", "8"; NULL: any) that a program
 * can load: site_or_neg -1: found by the dynamic loader; >= 0: also the
 * site's own nvidia wheels and conda env; -2: anywhere on the machine. */
const ct_doctor_lib *ct_doctor_find_lib(const ct_doctor_report *r, ct_doctor_lib_kind kind,
                                        const char *soname, int site_or_neg);
/* The driver release ("550.54.15") from the most direct source known:
 * NVML, the kernel module, then a non-stub libcuda; NULL if none. */
const char *ct_doctor_driver_release(const ct_doctor_report *r);
/* Lowest "sm_XY" of a kernel-target list ("sm_60,sm_70,compute_90"), as XY;
 * 0 if none or kernels is NULL. */
int ct_doctor_lowest_sm(const char *kernels);
/* True when `l` (a cuDNN) is known to be built for another CUDA major than
 * `cuda` ("12.5"); writes a sentence saying so into why. */
bool ct_doctor_lib_wrong_cuda(const ct_doctor_lib *l, const char *cuda, char *why, size_t size);
const ct_doctor_pkg *ct_doctor_find_pkg(const ct_doctor_report *r, int site, const char *name);

/* ---- readers of files found on the machine ------------------------------ */

/* Each takes the bytes as read (NUL-terminated where the probe reads text)
 * and never trusts them: tests/fuzz/ runs every one of these under libFuzzer
 * (docs/reliability.md). */

/* Calls fn(ctx, dir) for the directory of every cached library whose name
 * starts with one of ours, in the ld.so cache image buf[0..n). */
void ct_dr_parse_ld_cache(const unsigned char *buf, size_t n, void (*fn)(void *ctx, const char *dir), void *ctx);
/* "Name:", "Version:" and the nvidia runtime / cuDNN "Requires-Dist:" pins of
 * a METADATA or PKG-INFO file, up to the first blank line. */
void ct_dr_parse_metadata(FILE *f, char *name, size_t nsize, char *version, size_t vsize, char *cuda_dep,
                          char *cudnn_dep, size_t dsize);
/* "<name>-<version>-<build>.json" (a conda-meta file name) split in three;
 * false when it is not of that form. */
bool ct_dr_conda_meta_name(const char *file, char *name, size_t nsize, char *version, size_t vsize, char *build,
                           size_t bsize);
/* The release in /proc/driver/nvidia/version ("550.54.15"); "" if none. */
void ct_dr_parse_module_version(const char *text, char *out, size_t size);
/* The user-space driver release in a library's file name
 * ("/usr/lib/libcuda.so.550.54.15" -> "550.54.15"); "" if none. */
void ct_dr_release_from_name(const char *path, char *out, size_t size);
/* PRETTY_NAME of an os-release file; out untouched when absent. */
void ct_dr_parse_os_release(const char *text, char *out, size_t size);
/* The model name and the instruction-set flags of /proc/cpuinfo into m. */
void ct_dr_parse_cpuinfo(const char *text, ct_doctor_machine *m);

#endif /* CT_DOCTOR_H */
