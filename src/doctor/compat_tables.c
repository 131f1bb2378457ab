/*
 * The facts the doctor prints, as C tables. Every row is transcribed from
 * ../shared/reference/compat.tsv and cuda-driver.tsv (sources listed in
 * ct_doctor_table_sources) or, for PyTorch, from the "Release Compatibility
 * Matrix" of pytorch/pytorch RELEASE.md. A value ending in '?' was not
 * confirmed from a primary source; the reports print it as is so that the
 * uncertainty stays visible.
 */
#include <string.h>

#include "doctor/doctor.h"

#define CT_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* version, python, cuda, cudnn, gpu in `tensorflow`, tensorflow-gpu, driver
 * (as the TF docs of that release say), kernel targets, note */
static const ct_tf_compat tf_rows[] = {
    {"1.13", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; the only GPU package", ">=410.x", NULL,
     "tensorflow is CPU-only; min compute capability 3.5", false},
    {"1.14", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; the only GPU package", ">=410.x", NULL,
     "tensorflow is CPU-only", false},
    /* 1.15's notes give no driver line; its CUDA 10.0 is the one 1.13/1.14/2.0 document as >=410.x. */
    {"1.15", "2.7,3.3-3.7", "10.0", "7.4", -1, "real build; required for GPU from 1.15.2", ">=410.x", NULL,
     "1.15.0: tensorflow includes GPU; 1.15.2: no longer a single package; 1.15.3-1.15.5 no?", false},
    {"2.0", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; required for GPU", ">=410.x", NULL,
     "tensorflow 2.0 is CPU-only (tensorflow#34485)", false},
    {"2.1", "2.7,3.5-3.7", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x", NULL,
     "tensorflow includes GPU support from this release; tensorflow-cpu added", false},
    {"2.2", "3.5-3.8", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x", NULL, "", false},
    {"2.3", "3.5-3.8", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x",
     "sm_35,sm_37,sm_52,sm_60,sm_61,compute_70", "", false},
    {"2.4", "3.6-3.8", "11.0", "8.0", 1, "real build, same as tensorflow except name", ">=450.x",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80?", "cuDNN 8.0.4 per gpu.md; TF32 on Ampere on by default", false},
    {"2.5", "3.6-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false},
    {"2.6", "3.6-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false},
    {"2.7", "3.7-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false},
    {"2.8", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false},
    {"2.9", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false},
    {"2.10", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "last release with native-Windows GPU", false},
    {"2.11", "3.7-3.10", "11.2", "8.1", 1, "real build 2.11.0, probably the last real one (? Linux only?)", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "Windows native: CPU only", false},
    {"2.12", "3.8-3.11", "11.8", "8.6", 1,
     "none of this version; tensorflow-gpu==2.12.0 is an empty stub that raises on install", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80?", "tensorflow-gpu and tf-nightly-gpu removed (Dec 2022)", false},
    {"2.13", "3.8-3.11", "11.8", "8.6", 1, "none (only the 2.12.0 stub)", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80 (as 2.12?)", "", false},
    {"2.14", "3.9-3.11", "11.8", "8.7", 1, "none", ">=450.80.02", "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80 (as 2.12?)",
     "new pip extra tensorflow[and-cuda] installs the CUDA libraries as pip wheels", false},
    {"2.15", "3.9-3.11", "12.2", "8.9", 1, "none", ">=525.60.13", "sm_50,sm_60,sm_70,sm_80,compute_90?",
     "first CUDA 12 build; and-cuda pulls nvidia-*-cu12", false},
    {"2.16", "3.9-3.12", "12.3", "8.9", 1, "none", ">=525.60.13", "sm_50,sm_60,sm_70,sm_80,compute_90",
     "Keras 3 default", false},
    {"2.17", "3.9-3.12", "12.3", "8.9", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90",
     "CC 5.x (Maxwell) dropped", false},
    {"2.18", "3.9-3.12", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90",
     "and-cuda pins cuDNN 9.3.0.75, CUDA 12.5.x wheels", false},
    {"2.19", "3.9-3.12", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false},
    {"2.20", "3.9-3.13", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false},
    {"2.21", "3.10-3.13", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false},
    {"2.22", "3.10-3.14?", "12.5?", "9.3?", 1, "none", ">=525.60.13?", NULL, "seen only as 2.22.0rc0", true},
};

/* First GA row per toolkit minor (cuda-driver.tsv). */
static const struct {
  const char *cuda;
  ct_cuda_driver_row row;
} cuda_rows[] = {
    {"9.0", {"9.0 (9.0.76)", ">=384.81", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_70?"}},
    {"9.1", {"9.1 (9.1.85)", ">=390.46", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_70?"}},
    {"9.2", {"9.2 (9.2.88)", ">=396.26", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_72?"}},
    {"10.0", {"10.0.130", ">=410.48", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_75?"}},
    {"10.1", {"10.1 (10.1.105)", ">=418.39", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_75?"}},
    {"10.2", {"10.2.89", ">=440.33", "none (pre-11: driver must be >= the toolkit's)", "sm_30-sm_75?"}},
    {"11.0", {"11.0.2 GA", ">=450.51.05", ">=450.80.02", "sm_35-sm_80"}},
    {"11.1", {"11.1 GA", ">=455.23", ">=450.80.02", "sm_35-sm_86?"}},
    {"11.2", {"11.2.0 GA", ">=460.27.03", ">=450.80.02", "sm_35-sm_86?"}},
    {"11.3", {"11.3.0 GA", ">=465.19.01", ">=450.80.02", "sm_35-sm_86?"}},
    {"11.4", {"11.4.0 GA", ">=470.42.01", ">=450.80.02", "sm_35-sm_87"}},
    {"11.5", {"11.5 GA", ">=495.29.05", ">=450.80.02", "sm_35-sm_87"}},
    {"11.6", {"11.6 GA", ">=510.39.01", ">=450.80.02", "sm_35-sm_87"}},
    {"11.7", {"11.7 GA", ">=515.43.04", ">=450.80.02", "sm_35-sm_87"}},
    {"11.8", {"11.8 GA", ">=520.61.05", ">=450.80.02", "sm_35-sm_90"}},
    {"12.0", {"12.0 GA", ">=525.60.13", ">=525.60.13", "sm_50-sm_90"}},
    {"12.1", {"12.1 GA", ">=530.30.02", ">=525.60.13", "sm_50-sm_90"}},
    {"12.2", {"12.2 GA", ">=535.54.03", ">=525.60.13", "sm_50-sm_90"}},
    {"12.3", {"12.3 GA", ">=545.23.06", ">=525.60.13", "sm_50-sm_90"}},
    {"12.4", {"12.4 GA", ">=550.54.14", ">=525.60.13", "sm_50-sm_90"}},
    {"12.5", {"12.5 GA", ">=555.42.02", ">=525.60.13", "sm_50-sm_90"}},
    {"12.6", {"12.6 GA", ">=560.28.03", ">=525.60.13", "sm_50-sm_90"}},
    {"12.8", {"12.8 GA", ">=570.26", ">=525.60.13", "sm_50-sm_120"}},
    {"12.9", {"12.9 GA", ">=575.51.03", ">=525.60.13", "sm_50-sm_120"}},
    {"13.0", {"13.0 GA", ">=580.65.06", ">=580.65.06", "sm_75 and newer"}},
    {"13.1", {"13.1 GA", ">=590.44.01", ">=580.65.06", "sm_75 and newer"}},
    {"13.2", {"13.2 GA", ">=595.45.04?", ">=580.65.06", "sm_75 and newer"}},
    {"13.3", {"13.3 GA", ">=610.43.02?", ">=580.65.06", "sm_75 and newer"}},
    {"13.4", {"13.4", "? (R616 >=616.00?)", ">=580.65.06", "sm_75 and newer"}},
    {"13.5", {"13.5", "?", ">=580.65.06", "sm_75 and newer"}},
};

/* pytorch/pytorch RELEASE.md, Release Compatibility Matrix. 1.12-2.3 checked
 * against the file itself (commit aa6104e) and pytorch.github.io's
 * previous-versions page; 2.4-2.10 against copies of the matrix quoting it
 * (all agree; conda package names pytorch-2.5.1..2.7.0 cudaX.Y_cudnnZ agree);
 * 2.11-2.13 only from a copy that also plans releases not yet made: marked. */
static const ct_torch_compat torch_rows[] = {
    {"1.12", ">=3.7, <=3.10", "11.3", "11.6", "8.3.2.44", false},
    {"1.13", ">=3.7, <=3.10", "11.6", "11.7", "8.3.2.44", false},
    {"2.0", ">=3.8, <=3.11", "11.7", "11.8", "8.5.0.96", false},
    {"2.1", ">=3.8, <=3.11", "11.8", "12.1", "8.7.0.84", false},
    {"2.2", ">=3.8, <=3.11", "11.8", "12.1", "8.7.0.84", false},
    {"2.3", ">=3.8, <=3.11", "11.8", "12.1", "8.7.0.84", false},
    {"2.4", ">=3.8, <=3.12", "11.8, 12.1", "12.4", "9.1.0.70", false},
    {"2.5", ">=3.9, <=3.12", "11.8, 12.1, 12.4", "", "9.1.0.70", false},
    {"2.6", ">=3.9, <=3.13", "11.8, 12.4", "12.6", "9.1.0.70", false},
    {"2.7", ">=3.9, <=3.13", "11.8, 12.6", "12.8", "9.1.0.70 (11.8), 9.5.1.17 (12.6)", false},
    {"2.8", ">=3.9, <=3.13", "12.6, 12.8", "12.9", "9.10.2.21", false},
    {"2.9", ">=3.10, <=3.14", "12.6, 12.8", "13.0", "9.10.2.21", false},
    {"2.10", ">=3.10, <=3.14", "12.6, 12.8", "13.0", "9.10.2.21", false},
    {"2.11", ">=3.10, <=3.14", "12.6, 12.8, 13.0", "", "9.10.2.21 (12.6), 9.17.1.4", true},
    {"2.12", ">=3.10, <=3.14", "12.6, 13.0", "13.2", "9.10.2.21 (12.6), 9.20.0.48", true},
    {"2.13", ">=3.10, <=3.15", "12.6, 13.0", "13.2", "9.10.2.21 (12.6), 9.20.0.48", true},
};

const char *const ct_doctor_table_sources[] = {
    "TensorFlow: tensorflow/docs site/en/install/source.md 'Tested build configurations', pip.md and gpu.md "
    "history, release notes (via ../shared/reference/compat.tsv)",
    "CUDA drivers: NVIDIA CUDA Toolkit Release Notes, Table 3 and minor-version compatibility "
    "(via ../shared/reference/cuda-driver.tsv)",
    "PyTorch: pytorch/pytorch RELEASE.md 'Release Compatibility Matrix' and pytorch.org previous-versions (rows 2.11+ "
    "from a third-party copy, marked (?))",
    NULL,
};

const ct_tf_compat *ct_doctor_tf_table(int *n) {
  *n = CT_LEN(tf_rows);
  return tf_rows;
}

/* "2.4", "2.4.1", "2.15.0.post1", "2.4.0rc1" all match row "2.4". */
const ct_tf_compat *ct_doctor_tf_lookup(const char *version) {
  int maj, min;
  if (!version || !ct_dr_parse_mm(version, &maj, &min)) return NULL;
  for (int i = 0; i < CT_LEN(tf_rows); i++) {
    int rm, rn;
    if (ct_dr_parse_mm(tf_rows[i].version, &rm, &rn) && rm == maj && rn == min) return &tf_rows[i];
  }
  return NULL;
}

const ct_cuda_driver_row *ct_doctor_cuda_driver_lookup(const char *cuda) {
  int maj, min;
  if (!cuda || !ct_dr_parse_mm(cuda, &maj, &min)) return NULL;
  for (int i = 0; i < CT_LEN(cuda_rows); i++) {
    int rm, rn;
    if (ct_dr_parse_mm(cuda_rows[i].cuda, &rm, &rn) && rm == maj && rn == min) return &cuda_rows[i].row;
  }
  return NULL;
}

/* The oldest driver that runs CUDA `cuda`: the toolkit's own minimum, or the
 * minor-version-compatibility minimum of its major when that is lower (11+).
 * With `docs` (a TF docs line such as ">=450.x"), the stricter of the two, so
 * that "450.x" cannot pass a 450.36 driver that CUDA 11.0 itself rejects. */
void ct_doctor_driver_floor(const char *cuda, const char *docs, char *out, size_t size) {
  char tab[32] = "", doc[32] = "";
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  if (row) {
    char lin[32] = "", mc[32] = "";
    ct_dr_bare_release(row->linux_min, lin, sizeof lin);
    if (strncmp(row->minor_compat, ">=", 2) == 0) ct_dr_bare_release(row->minor_compat, mc, sizeof mc);
    if (mc[0] && (!lin[0] || ct_dr_vercmp(mc, lin) < 0)) ct_dr_strlcpy(tab, mc, sizeof tab);
    else ct_dr_strlcpy(tab, lin, sizeof tab);
  }
  if (docs) ct_dr_bare_release(docs, doc, sizeof doc);
  if (doc[0] && (!tab[0] || ct_dr_vercmp(doc, tab) > 0)) ct_dr_strlcpy(out, doc, size);
  else ct_dr_strlcpy(out, tab, size);
}

/* "; CUDA 11.2: >=460.27.03 for every feature, minor-version compatibility
 * >=450.80.02" -- the second half only where it lowers the floor. */
void ct_doctor_driver_table_text(const char *cuda, char *out, size_t size) {
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  out[0] = '\0';
  if (!row) return;
  char lin[32] = "", mc[32] = "";
  ct_dr_bare_release(row->linux_min, lin, sizeof lin);
  if (strncmp(row->minor_compat, ">=", 2) == 0) ct_dr_bare_release(row->minor_compat, mc, sizeof mc);
  if (mc[0] && (!lin[0] || ct_dr_vercmp(mc, lin) < 0))
    snprintf(out, size, "CUDA %s: %s for every feature, minor-version compatibility %s", cuda, row->linux_min,
             row->minor_compat);
  else if (mc[0])
    snprintf(out, size, "CUDA %s: %s", cuda, row->linux_min);
  else /* before CUDA 11: no minor-version compatibility */
    snprintf(out, size, "CUDA %s: %s (no minor-version compatibility before CUDA 11)", cuda, row->linux_min);
}

const ct_torch_compat *ct_doctor_torch_table(int *n) {
  *n = CT_LEN(torch_rows);
  return torch_rows;
}

const ct_torch_compat *ct_doctor_torch_lookup(const char *version) {
  int maj, min;
  if (!version || !ct_dr_parse_mm(version, &maj, &min)) return NULL;
  for (int i = 0; i < CT_LEN(torch_rows); i++) {
    int rm, rn;
    if (ct_dr_parse_mm(torch_rows[i].version, &rm, &rn) && rm == maj && rn == min) return &torch_rows[i];
  }
  return NULL;
}
