/*
 * The facts the doctor prints, as C tables, each row with its source: the
 * document and what it says for that row (the reports print both with
 * --sources and in the JSON). The rows were checked against an audit of
 * primary sources (TensorFlow's tested build configurations and install
 * guides, NVIDIA's CUDA release notes and compatibility guide, PyTorch's
 * RELEASE.md and previous-versions page, JAX's installation guide). A value
 * ending in '?' was not confirmed from a primary source; the reports print
 * it as is so that the uncertainty stays visible.
 *
 * The same rows are project data in data/compat (one TSV file per table);
 * tests/test_doctor_data.c fails when a field here and there differ.
 */
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

#define CT_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the documents --------------------------------------------------------
 * Each row's source is one of these names followed by what the document
 * says for that row, so that a reader can check the row without the code. */

#define TF_TESTED "tensorflow.org/install/source#gpu, 'Tested build configurations' (tensorflow/docs site/en/install/source.md)"
#define TF_GPU_MD "TensorFlow's GPU install guide (tensorflow/docs site/en/install/gpu.md)"
#define TF_PIP_MD "TensorFlow's pip install guide (tensorflow/docs site/en/install/pip.md)"
#define NV_TABLE3 "NVIDIA CUDA Toolkit Release Notes, Table 3 'CUDA Toolkit and Corresponding Driver Versions'"
#define NV_MINOR "NVIDIA CUDA Compatibility guide, 'Minor Version Compatibility' (docs.nvidia.com/deploy/cuda-compatibility/)"
#define TORCH_MATRIX "pytorch/pytorch RELEASE.md, 'Release Compatibility Matrix'"
#define TORCH_PREV "pytorch.org/get-started/previous-versions"
#define JAX_INSTALL "JAX installation guide (jax-ml/jax docs/installation.md)"

/* Python, cuDNN and CUDA of one tested build. */
#define TESTED(pkg, py, cudnn, cuda) TF_TESTED ": " pkg ", Python " py ", cuDNN " cudnn ", CUDA " cuda

/* Where each TensorFlow driver floor comes from. */
#define D410_ORIGIN "TensorFlow's GPU guide for CUDA 10.0"
#define D410 TF_GPU_MD " of 1.13-2.0: CUDA 10.0 needs driver 410.x or higher"
#define D418_ORIGIN "TensorFlow's GPU guide for CUDA 10.1"
#define D418 TF_GPU_MD " of 2.1-2.3: CUDA 10.1 needs driver 418.x or higher"
#define D450X_ORIGIN "TensorFlow's GPU guide for CUDA 11.0"
#define D450X TF_GPU_MD " of 2.4: CUDA 11.0 needs driver 450.x or higher"
#define D45080_ORIGIN "TensorFlow's GPU guide"
#define D45080 TF_GPU_MD " of 2.5-2.14: driver 450.80.02 or higher"
/* 2.15 and 2.16 are the first CUDA 12 builds, but their own pip.md still
 * said 450.80.02; the 525.60.13 that a CUDA 12 build needs is NVIDIA's. */
#define D52560_NV_ORIGIN "NVIDIA's CUDA 12.x minor-version-compatibility floor"
#define D52560_NV                                                                                                    \
  NV_MINOR ": CUDA 12.x applications run on drivers >= 525.60.13 (Linux). TensorFlow's own pip.md still said "   \
           "'450.80.02 or higher' when 2.15 and 2.16 were released; it asks >= 525.60.13 (Linux) / >= 528.33 (WSL) " \
           "only from July 2024 (tensorflow/docs history)"
#define D52560_TF_ORIGIN "TensorFlow's pip guide (since July 2024)"
#define D52560_TF                                                                                              \
  TF_PIP_MD " since July 2024: driver >= 525.60.13 on Linux, >= 528.33 on WSL, the CUDA 12.x floor of " NV_MINOR

#define K_23 "build_info of the TensorFlow 2.3 Windows wheel (a third-party dump): sm_35,sm_37,sm_52,sm_60,sm_61,compute_70"
#define K_24 "v2.4.0 .bazelrc as quoted by a third-party build script; compute_80 not confirmed (?)"
#define K_25 "build_info dumps of the 2.5-2.10 wheels (third-party): sm_35,sm_50,sm_60,sm_70,sm_75,compute_80"
#define K_212 "not confirmed for 2.12-2.14: assumed as 2.5-2.11 (?)"
#define K_215 "get_build_info of TensorFlow 2.16: sm_50,sm_60,sm_70,sm_80,compute_90 (2.15 assumed the same, ?)"
#define K_217 "TensorFlow .bazelrc HERMETIC_CUDA_COMPUTE_CAPABILITIES and get_build_info of 2.17+: sm_60,sm_70,sm_80,sm_89,compute_90"

/* version, python, cuda, cudnn, gpu in `tensorflow`, tensorflow-gpu, driver
 * floor, kernel targets, note, uncertain, source, driver origin, driver
 * source, kernels source */
static const ct_tf_compat tf_rows[] = {
    {"1.13", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; the only GPU package", ">=410.x", NULL,
     "tensorflow is CPU-only; min compute capability 3.5", false,
     TESTED("tensorflow_gpu-1.13.1", "2.7, 3.3-3.7", "7.4", "10.0"), D410_ORIGIN, D410, NULL},
    {"1.14", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; the only GPU package", ">=410.x", NULL,
     "tensorflow is CPU-only", false, TESTED("tensorflow_gpu-1.14.0", "2.7, 3.3-3.7", "7.4", "10.0"), D410_ORIGIN,
     D410, NULL},
    /* 1.15's notes give no driver line; its CUDA 10.0 is the one 1.13/1.14/2.0 document as >=410.x. */
    {"1.15", "2.7,3.3-3.7", "10.0", "7.4", -1, "real build; required for GPU from 1.15.2", ">=410.x", NULL,
     "1.15.0: tensorflow includes GPU; 1.15.2: no longer a single package; 1.15.3-1.15.5 no?", false,
     TESTED("tensorflow_gpu-1.15.0", "2.7, 3.3-3.7", "7.4", "10.0") "; v1.15.0 release notes: the tensorflow package "
                                                                   "includes GPU support; tensorflow#36347: 1.15.2 "
                                                                   "does not",
     D410_ORIGIN, "1.15 gives no driver line of its own; " D410, NULL},
    {"2.0", "2.7,3.3-3.7", "10.0", "7.4", 0, "real build; required for GPU", ">=410.x", NULL,
     "tensorflow 2.0 is CPU-only (tensorflow#34485)", false,
     TESTED("tensorflow_gpu-2.0.0", "2.7, 3.3-3.7", "7.4", "10.0") "; tensorflow#34485: the tensorflow 2.0 package is CPU-only",
     D410_ORIGIN, D410, NULL},
    {"2.1", "2.7,3.5-3.7", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x", NULL,
     "tensorflow includes GPU support from this release; tensorflow-cpu added", false,
     TESTED("tensorflow-2.1.0", "2.7, 3.5-3.7", "7.6", "10.1") "; v2.1.0 release notes: the tensorflow package now "
                                                              "includes GPU support",
     D418_ORIGIN, D418, NULL},
    {"2.2", "3.5-3.8", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x", NULL, "", false,
     TESTED("tensorflow-2.2.0", "3.5-3.8", "7.6", "10.1"), D418_ORIGIN, D418, NULL},
    {"2.3", "3.5-3.8", "10.1", "7.6", 1, "real build, same as tensorflow except name", ">=418.x",
     "sm_35,sm_37,sm_52,sm_60,sm_61,compute_70", "", false, TESTED("tensorflow-2.3.0", "3.5-3.8", "7.6", "10.1"),
     D418_ORIGIN, D418, K_23},
    {"2.4", "3.6-3.8", "11.0", "8.0", 1, "real build, same as tensorflow except name", ">=450.x",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80?", "cuDNN 8.0.4 per gpu.md; TF32 on Ampere on by default", false,
     TESTED("tensorflow-2.4.0", "3.6-3.8", "8.0", "11.0"), D450X_ORIGIN, D450X, K_24},
    {"2.5", "3.6-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false, TESTED("tensorflow-2.5.0", "3.6-3.9", "8.1", "11.2"),
     D45080_ORIGIN, D45080, K_25},
    {"2.6", "3.6-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false, TESTED("tensorflow-2.6.0", "3.6-3.9", "8.1", "11.2"),
     D45080_ORIGIN, D45080, K_25},
    {"2.7", "3.7-3.9", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false, TESTED("tensorflow-2.7.0", "3.7-3.9", "8.1", "11.2"),
     D45080_ORIGIN, D45080, K_25},
    {"2.8", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false, TESTED("tensorflow-2.8.0", "3.7-3.10", "8.1", "11.2"),
     D45080_ORIGIN, D45080, K_25},
    {"2.9", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "", false, TESTED("tensorflow-2.9.0", "3.7-3.10", "8.1", "11.2"),
     D45080_ORIGIN, D45080, K_25},
    {"2.10", "3.7-3.10", "11.2", "8.1", 1, "real build, same as tensorflow except name", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "last release with native-Windows GPU", false,
     TESTED("tensorflow-2.10.0", "3.7-3.10", "8.1", "11.2"), D45080_ORIGIN, D45080, K_25},
    {"2.11", "3.7-3.10", "11.2", "8.1", 1, "real build 2.11.0, probably the last real one (? Linux only?)", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80", "Windows native: CPU only", false,
     TESTED("tensorflow-2.11.0", "3.7-3.10", "8.1", "11.2") "; v2.11 release notes: 2.10 was the last native-Windows GPU release",
     D45080_ORIGIN, D45080, "assumed as 2.5-2.10: " K_25},
    {"2.12", "3.8-3.11", "11.8", "8.6", 1,
     "none of this version; tensorflow-gpu==2.12.0 is an empty stub that raises on install", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80?", "tensorflow-gpu and tf-nightly-gpu removed (Dec 2022)", false,
     TESTED("tensorflow-2.12.0", "3.8-3.11", "8.6", "11.8") "; tensorflow/tools/pip_package/redundant_tensorflow_gpu: "
                                                          "tensorflow-gpu 2.12.0 is a stub that raises on install",
     D45080_ORIGIN, D45080, K_212},
    {"2.13", "3.8-3.11", "11.8", "8.6", 1, "none (only the 2.12.0 stub)", ">=450.80.02",
     "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80 (as 2.12?)", "", false,
     TESTED("tensorflow-2.13.0", "3.8-3.11", "8.6", "11.8"), D45080_ORIGIN, D45080, K_212},
    {"2.14", "3.9-3.11", "11.8", "8.7", 1, "none", ">=450.80.02", "sm_35,sm_50,sm_60,sm_70,sm_75,compute_80 (as 2.12?)",
     "new pip extra tensorflow[and-cuda] installs the CUDA libraries as pip wheels", false,
     TESTED("tensorflow-2.14.0", "3.9-3.11", "8.7", "11.8") "; v2.14.0 release notes: new pip extra tensorflow[and-cuda]",
     D45080_ORIGIN, D45080, K_212},
    {"2.15", "3.9-3.11", "12.2", "8.9", 1, "none", ">=525.60.13", "sm_50,sm_60,sm_70,sm_80,compute_90?",
     "first CUDA 12 build; and-cuda pulls nvidia-*-cu12", false, TESTED("tensorflow-2.15.0", "3.9-3.11", "8.9", "12.2"),
     D52560_NV_ORIGIN, D52560_NV, K_215},
    {"2.16", "3.9-3.12", "12.3", "8.9", 1, "none", ">=525.60.13", "sm_50,sm_60,sm_70,sm_80,compute_90",
     "Keras 3 default", false, TESTED("tensorflow-2.16.1", "3.9-3.12", "8.9", "12.3"), D52560_NV_ORIGIN, D52560_NV,
     K_215},
    {"2.17", "3.9-3.12", "12.3", "8.9", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90",
     "CC 5.x (Maxwell) dropped", false,
     TESTED("tensorflow-2.17.0", "3.9-3.12", "8.9", "12.3") "; v2.17.0 release notes: CC 5.x dropped, CC 8.9 added",
     D52560_TF_ORIGIN, D52560_TF, K_217},
    {"2.18", "3.9-3.12", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90",
     "and-cuda pins cuDNN 9.3.0.75, CUDA 12.5.x wheels", false,
     TESTED("tensorflow-2.18.0", "3.9-3.12", "9.3", "12.5") "; tensorflow/tools/pip_package/setup.py: and-cuda pins "
                                                          "nvidia-cudnn-cu12==9.3.0.75",
     D52560_TF_ORIGIN, D52560_TF, K_217},
    {"2.19", "3.9-3.12", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false,
     TESTED("tensorflow-2.19.0", "3.9-3.12", "9.3", "12.5"), D52560_TF_ORIGIN, D52560_TF, K_217},
    {"2.20", "3.9-3.13", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false,
     TESTED("tensorflow-2.20.0", "3.9-3.13", "9.3", "12.5"), D52560_TF_ORIGIN, D52560_TF, K_217},
    {"2.21", "3.10-3.13", "12.5", "9.3", 1, "none", ">=525.60.13", "sm_60,sm_70,sm_80,sm_89,compute_90", "", false,
     TESTED("tensorflow-2.21.0", "3.10-3.13", "9.3", "12.5"), D52560_TF_ORIGIN, D52560_TF, K_217},
    {"2.22", "3.10-3.14?", "12.5?", "9.3?", 1, "none", ">=525.60.13?", NULL, "seen only as 2.22.0rc0", true,
     "not yet in " TF_TESTED "; seen only as 2.22.0rc0 in third-party pins; master RELEASE.md adds Python 3.14 (?)",
     "assumed as for 2.21 (?)", "assumed as for 2.21: " D52560_TF " (?)", NULL},
};

/* The and-cuda extras that pip cannot install. */
static const ct_tf_broken_pin broken_pins[] = {
    {"2.15", "2.15.0", NULL, "2.15.0.post1",
     "the and-cuda extra of 2.15.0 pins tensorrt 8.6.1, whose tensorrt-libs==8.6.1 pip cannot find; 2.15.0.post1 "
     "drops tensorrt from the extra",
     "tensorflow/tensorflow PR #62520 'Create 2.15.0.post1 with tensorrt removed from [and-cuda] install': "
     "tensorflow[and-cuda]==2.15.0 cannot be installed because of its tensorrt dependency"},
    {"2.14", NULL, "3.11", NULL,
     "the and-cuda extra of 2.14 pins tensorrt==8.5.3.1, which has no Python 3.11 wheel",
     "tensorflow/tensorflow issue #61986 'tensorrt==8.5.3.1 from [and-cuda] not available in Python 3.11'"},
};

/* First GA row per toolkit minor. */
#define PRE11_SRC(tk, lin) NV_TABLE3 ": " tk " needs " lin " on Linux; no minor-version compatibility before CUDA 11"
#define MC_SRC(tk, lin, mc, major) NV_TABLE3 ": " tk " needs " lin " on Linux; " NV_MINOR ": " major " runs on " mc
#define PRE11(cuda, tk, lin, sm, smsrc) \
  {cuda, {tk, lin, "none (pre-11: driver must be >= the toolkit's)", sm, PRE11_SRC(tk, lin), smsrc}}
#define CU11(cuda, tk, lin, sm, smsrc) {cuda, {tk, lin, ">=450.80.02", sm, MC_SRC(tk, lin, ">=450.80.02", "11.x"), smsrc}}
#define CU12(cuda, tk, lin, sm, smsrc) {cuda, {tk, lin, ">=525.60.13", sm, MC_SRC(tk, lin, ">=525.60.13", "12.x"), smsrc}}
#define CU13(cuda, tk, lin, src, smsrc) {cuda, {tk, lin, ">=580.65.06", "sm_75 and newer", src, smsrc}}
#define MC13 NV_MINOR ": 13.x runs on >=580 (580.65.06 is the 13.0 GA driver)"

#define SM_9X "CMake's CUDA architecture list and LLVM's minimum CUDA version per GPU architecture (not NVIDIA's, so '?')"
#define SM_91 "LLVM's minimum CUDA version per GPU architecture and CMake's CUDA architecture list: sm_72 from CUDA 9.1 (some sources say 9.0; '?')"
#define SM_10 "CMake's CUDA architecture list (sm_75 from CUDA 10.0; not NVIDIA's, so '?')"
#define SM_110 "NVIDIA cuFFT 'Deprecated Functionality': CUDA 11.0 drops sm_30 and sm_32; CMake MR 8031: sm_35-sm_80"
#define SM_111 "CMake MR 8031: sm_86 from CUDA 11.1 (not confirmed from NVIDIA, '?')"
#define SM_114 "CMake MR 8031 and NVIDIA CUDA 11.4 release notes: sm_87 (Orin) from 11.4"
#define SM_118 "NVIDIA CUDA 11.8 release notes: adds sm_89 (Ada) and sm_90 (Hopper)"
#define SM_120 "NVIDIA cuFFT 'Deprecated Functionality' and llvm commit 0f49116: CUDA 12.0 drops sm_35/sm_37, minimum sm_50"
#define SM_128 "NVIDIA CUDA 12.8 release notes and PyTorch issue #157517: first toolkit with Blackwell sm_100 and sm_120"
#define SM_129 "NVIDIA CUDA 12.9 features archive: adds sm_103 and sm_121 to 12.8's Blackwell targets"
#define SM_130 "NVIDIA CUDA 13.0 release notes, 'Deprecated Architectures': Maxwell, Pascal and Volta (sm_50-sm_72) removed; sm_75 kept"

static const struct {
  const char *cuda;
  ct_cuda_driver_row row;
} cuda_rows[] = {
    PRE11("9.0", "9.0 (9.0.76)", ">=384.81", "sm_30-sm_70?", SM_9X),
    PRE11("9.1", "9.1 (9.1.85)", ">=390.46", "sm_30-sm_72?", SM_91),
    PRE11("9.2", "9.2 (9.2.88)", ">=396.26", "sm_30-sm_72?", SM_9X),
    PRE11("10.0", "10.0.130", ">=410.48", "sm_30-sm_75?", SM_10),
    PRE11("10.1", "10.1 (10.1.105)", ">=418.39", "sm_30-sm_75?", SM_10),
    PRE11("10.2", "10.2.89", ">=440.33", "sm_30-sm_75?", SM_10),
    CU11("11.0", "11.0.2 GA", ">=450.51.05", "sm_35-sm_80", SM_110),
    CU11("11.1", "11.1 GA", ">=455.23", "sm_35-sm_86?", SM_111),
    CU11("11.2", "11.2.0 GA", ">=460.27.03", "sm_35-sm_86?", SM_111),
    CU11("11.3", "11.3.0 GA", ">=465.19.01", "sm_35-sm_86?", SM_111),
    CU11("11.4", "11.4.0 GA", ">=470.42.01", "sm_35-sm_87", SM_114),
    CU11("11.5", "11.5 GA", ">=495.29.05", "sm_35-sm_87", SM_114),
    CU11("11.6", "11.6 GA", ">=510.39.01", "sm_35-sm_87", SM_114),
    CU11("11.7", "11.7 GA", ">=515.43.04", "sm_35-sm_87", SM_114),
    CU11("11.8", "11.8 GA", ">=520.61.05", "sm_35-sm_90", SM_118),
    CU12("12.0", "12.0 GA", ">=525.60.13", "sm_50-sm_90", SM_120),
    CU12("12.1", "12.1 GA", ">=530.30.02", "sm_50-sm_90", SM_120),
    CU12("12.2", "12.2 GA", ">=535.54.03", "sm_50-sm_90", SM_120),
    CU12("12.3", "12.3 GA", ">=545.23.06", "sm_50-sm_90", SM_120),
    CU12("12.4", "12.4 GA", ">=550.54.14", "sm_50-sm_90", SM_120),
    CU12("12.5", "12.5 GA", ">=555.42.02", "sm_50-sm_90", SM_120),
    CU12("12.6", "12.6 GA", ">=560.28.03", "sm_50-sm_90", SM_120),
    CU12("12.8", "12.8 GA", ">=570.26", "sm_50-sm_90, sm_100, sm_120", SM_128),
    CU12("12.9", "12.9 GA", ">=575.51.03", "sm_50-sm_90, sm_100, sm_103, sm_120, sm_121", SM_129),
    CU13("13.0", "13.0 GA", ">=580.65.06", NV_TABLE3 ": 13.0 GA needs >=580.65.06 on Linux; " MC13, SM_130),
    CU13("13.1", "13.1 GA", ">=590.44.01", NV_TABLE3 ": 13.1 GA needs >=590.44.01 on Linux; " MC13, SM_130),
    CU13("13.2", "13.2 GA", ">=595.45.04?",
         "third-party copies of the 13.2 release notes: >=595.45.04 on Linux (not confirmed, '?'); " MC13, SM_130),
    CU13("13.3", "13.3 GA", ">=610.43.02?",
         "third-party copies of the 13.3 release notes: >=610.43.02 on Linux (not confirmed, '?'); " MC13, SM_130),
    CU13("13.4", "13.4", "? (R616 >=616.00?)",
         "the 13.4 release notes leave the Linux driver out of the toolkit; R616 not confirmed ('?'); " MC13, SM_130),
    CU13("13.5", "13.5", "?", "13.5 exists (release notes), no driver row confirmed ('?'); " MC13, SM_130),
};

/* pytorch/pytorch RELEASE.md, Release Compatibility Matrix. 1.12-2.3 checked
 * against the file itself (commit aa6104e) and pytorch.org's
 * previous-versions page; 2.4-2.10 against copies of the matrix quoting it
 * (all agree; conda package names pytorch-2.5.1..2.7.0 cudaX.Y_cudnnZ agree);
 * 2.11-2.13 only from a copy that also plans releases not yet made: marked. */
#define TM(v) TORCH_MATRIX ", " v
#define TM_COPY(v) "copies quoting " TORCH_MATRIX ", " v
#define TM_3P(v) "a third-party copy of " TORCH_MATRIX " that also plans unreleased versions ('?'), " v
static const ct_torch_compat torch_rows[] = {
    {"1.12", ">=3.7, <=3.10", "", "11.3", "11.6", "10.2", {{"11.3", "8.3.2.44"}, {"11.6", "8.3.2.44"}, {"10.2", "?"}},
     false, TM("1.12: Python >=3.7, <=3.10; CUDA 11.3 (cuDNN 8.3.2.44) stable, 11.6 (cuDNN 8.3.2.44) experimental"),
     TORCH_PREV ", v1.12.0 and v1.12.1: also +cu102 wheels and conda cudatoolkit=10.2 builds (CUDA 10.2: driver >=440.33)"},
    {"1.13", ">=3.7, <=3.10", "", "11.6", "11.7", "", {{"11.6", "8.3.2.44"}, {"11.7", "8.5.0.96"}}, false,
     TM("1.13: Python >=3.7, <=3.10; CUDA 11.6 (cuDNN 8.3.2.44) stable, 11.7 (cuDNN 8.5.0.96) experimental"), NULL},
    {"2.0", ">=3.8, <=3.11", "", "11.7", "11.8", "", {{"11.7", "8.5.0.96"}, {"11.8", "8.7.0.84"}}, false,
     TM("2.0: Python >=3.8, <=3.11; CUDA 11.7 (cuDNN 8.5.0.96) stable, 11.8 (cuDNN 8.7.0.84) experimental"), NULL},
    {"2.1", ">=3.8, <=3.11", "", "11.8", "12.1", "", {{"11.8", "8.7.0.84"}, {"12.1", "8.9.2.26"}}, false,
     TM("2.1: Python >=3.8, <=3.11; CUDA 11.8 (cuDNN 8.7.0.84) stable, 12.1 (cuDNN 8.9.2.26) experimental"), NULL},
    {"2.2", ">=3.8, <=3.11", "3.12", "11.8", "12.1", "", {{"11.8", "8.7.0.84"}, {"12.1", "8.9.2.26"}}, false,
     TM("2.2: Python >=3.8, <=3.11, (3.12 experimental); CUDA 11.8 (cuDNN 8.7.0.84) stable, 12.1 (cuDNN 8.9.2.26) "
        "experimental"),
     NULL},
    {"2.3", ">=3.8, <=3.11", "3.12", "11.8", "12.1", "", {{"11.8", "8.7.0.84"}, {"12.1", "8.9.2.26"}}, false,
     TM("2.3: Python >=3.8, <=3.11, (3.12 experimental); CUDA 11.8 (cuDNN 8.7.0.84) stable, 12.1 (cuDNN 8.9.2.26) "
        "experimental"),
     NULL},
    {"2.4", ">=3.8, <=3.12", "", "11.8, 12.1", "12.4", "", {{"11.8", "9.1.0.70"}, {"12.1", "9.1.0.70"}, {"12.4", "9.1.0.70"}},
     false, TM_COPY("2.4: Python >=3.8, <=3.12; CUDA 11.8, 12.1 stable, 12.4 experimental, all cuDNN 9.1.0.70"), NULL},
    {"2.5", ">=3.9, <=3.12", "3.13", "11.8, 12.1, 12.4", "", "",
     {{"11.8", "9.1.0.70"}, {"12.1", "9.1.0.70"}, {"12.4", "9.1.0.70"}}, false,
     TM_COPY("2.5: Python >=3.9, <=3.12, (3.13 experimental); CUDA 11.8, 12.1, 12.4 stable, cuDNN 9.1.0.70"), NULL},
    {"2.6", ">=3.9, <=3.13", "", "11.8, 12.4", "12.6", "", {{"11.8", "9.1.0.70"}, {"12.4", "9.1.0.70"}, {"12.6", "9.5.1.17"}},
     false,
     TM_COPY("2.6: Python >=3.9, <=3.13; CUDA 11.8, 12.4 (cuDNN 9.1.0.70) stable, 12.6 (cuDNN 9.5.1.17) experimental"),
     NULL},
    {"2.7", ">=3.9, <=3.13", "", "11.8, 12.6", "12.8", "", {{"11.8", "9.1.0.70"}, {"12.6", "9.5.1.17"}, {"12.8", "9.7.1.26"}},
     false,
     TM_COPY("2.7: Python >=3.9, <=3.13; CUDA 11.8 (cuDNN 9.1.0.70), 12.6 (cuDNN 9.5.1.17) stable, 12.8 (cuDNN "
             "9.7.1.26) experimental"),
     NULL},
    {"2.8", ">=3.9, <=3.13", "", "12.6, 12.8", "12.9", "", {{"12.6", "9.10.2.21"}, {"12.8", "9.10.2.21"}, {"12.9", "9.10.2.21"}},
     false, TM_COPY("2.8: Python >=3.9, <=3.13; CUDA 12.6, 12.8 stable, 12.9 experimental, all cuDNN 9.10.2.21"), NULL},
    {"2.9", ">=3.10, <=3.14", "", "12.6, 12.8", "13.0", "", {{"12.6", "9.10.2.21"}, {"12.8", "9.10.2.21"}, {"13.0", "9.13.0.50"}},
     false,
     TM_COPY("2.9: Python >=3.10, <=3.14; CUDA 12.6, 12.8 (cuDNN 9.10.2.21) stable, 13.0 (cuDNN 9.13.0.50) "
             "experimental"),
     NULL},
    {"2.10", ">=3.10, <=3.14", "", "12.6, 12.8", "13.0", "", {{"12.6", "9.10.2.21"}, {"12.8", "9.10.2.21"}, {"13.0", "9.15.1.9"}},
     false,
     TM_COPY("2.10: Python >=3.10, <=3.14; CUDA 12.6, 12.8 (cuDNN 9.10.2.21) stable, 13.0 (cuDNN 9.15.1.9) "
             "experimental"),
     NULL},
    {"2.11", ">=3.10, <=3.14", "", "12.6, 12.8, 13.0", "", "", {{"12.6", "9.10.2.21"}, {"12.8", "9.17.1.4"}, {"13.0", "9.17.1.4"}},
     true, TM_3P("2.11: Python >=3.10, <=3.14; CUDA 12.6 (cuDNN 9.10.2.21), 12.8, 13.0 (cuDNN 9.17.1.4)"), NULL},
    {"2.12", ">=3.10, <=3.14", "", "12.6, 13.0", "13.2", "", {{"12.6", "9.10.2.21"}, {"13.0", "9.20.0.48"}, {"13.2", "?"}},
     true, TM_3P("2.12: Python >=3.10, <=3.14; CUDA 12.6 (cuDNN 9.10.2.21), 13.0 (cuDNN 9.20.0.48) stable, 13.2 experimental"),
     NULL},
    {"2.13", ">=3.10, <=3.15", "", "12.6, 13.0", "13.2", "", {{"12.6", "9.10.2.21"}, {"13.0", "9.20.0.48"}, {"13.2", "?"}},
     true, TM_3P("2.13: Python >=3.10, <=3.15; CUDA 12.6 (cuDNN 9.10.2.21), 13.0 (cuDNN 9.20.0.48) stable, 13.2 experimental"),
     NULL},
};

/* JAX's own driver floors per CUDA major; CUDA 13 first, the recommended one. */
static const ct_jax_cuda jax_rows[] = {
    {13, ">=580", "jax[cuda13]",
     JAX_INSTALL " (2025-09 onwards): `pip install -U \"jax[cuda13]\"` is the recommended NVIDIA GPU install and needs "
                 "driver >= 580 on Linux; CUDA 12 support is to end"},
    {12, ">=525.60.13", "jax[cuda12]",
     JAX_INSTALL ": `pip install -U \"jax[cuda12]\"` for drivers older than 580; it needs driver >= 525.60.13 for "
                 "CUDA 12 on Linux (" NV_MINOR ": 12.x floor)"},
    {11, ">=450.80.02", NULL,
     JAX_INSTALL " (before the CUDA 11 builds were dropped): driver >= 450.80.02 for CUDA 11 on Linux; " NV_MINOR
                 ": the 11.x floor is 450.80.02"},
};

const char *const ct_doctor_table_sources[] = {
    "TensorFlow: " TF_TESTED " for Python, CUDA and cuDNN; " TF_GPU_MD " and " TF_PIP_MD
    " (their history) for drivers; TensorFlow release notes for packages",
    "CUDA drivers: " NV_TABLE3 "; " NV_MINOR,
    "PyTorch: " TORCH_MATRIX " and " TORCH_PREV " (rows 2.11+ from a third-party copy, marked (?))",
    "JAX: " JAX_INSTALL,
    "TensorFlow and-cuda pins known not to install: tensorflow/tensorflow PR #62520, issue #61986",
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

const char *ct_doctor_torch_cudnn(const ct_torch_compat *row, const char *cuda) {
  for (int i = 0; i < CT_LEN(row->cudnn) && row->cudnn[i].cuda; i++)
    if (strcmp(row->cudnn[i].cuda, cuda) == 0) return row->cudnn[i].cudnn;
  return "?";
}

/* The builds a user can install from pytorch.org's index, oldest first. */
static void torch_builds(const ct_torch_compat *row, char *out, size_t size) {
  snprintf(out, size, "%s%s%s", row->also_cuda, row->also_cuda[0] ? ", " : "", row->stable_cuda);
}

void ct_doctor_torch_pick_cuda(const ct_torch_compat *row, const char *rel, char *out, size_t size) {
  char list[96];
  torch_builds(row, list, sizeof list);
  out[0] = '\0';
  char first[16] = "";
  char *save = NULL;
  for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    if (!first[0]) ct_dr_strlcpy(first, tok, sizeof first);
    char need[32] = "";
    ct_doctor_driver_floor(tok, NULL, need, sizeof need);
    if (!rel || !need[0] || ct_dr_vercmp(rel, need) >= 0) ct_dr_strlcpy(out, tok, size);
  }
  if (!out[0]) ct_dr_strlcpy(out, first, size);
}

const ct_jax_cuda *ct_doctor_jax_lookup(int cuda_major) {
  for (int i = 0; i < CT_LEN(jax_rows); i++)
    if (jax_rows[i].major == cuda_major) return &jax_rows[i];
  return NULL;
}

const ct_jax_cuda *ct_doctor_jax_pick(const char *rel) {
  const ct_jax_cuda *oldest = NULL;
  for (int i = 0; i < CT_LEN(jax_rows); i++) {
    if (!jax_rows[i].extra) continue;
    oldest = &jax_rows[i];
    char need[32];
    ct_dr_bare_release(jax_rows[i].driver, need, sizeof need);
    if (rel && ct_dr_vercmp(rel, need) >= 0) return &jax_rows[i];
  }
  return oldest;
}

const ct_tf_broken_pin *ct_doctor_tf_broken_pin(const char *row, const char *python) {
  for (int i = 0; i < CT_LEN(broken_pins); i++) {
    const ct_tf_broken_pin *b = &broken_pins[i];
    if (strcmp(b->tf, row) != 0) continue;
    if (b->python && python && python[0] && strcmp(b->python, python) != 0) continue;
    return b;
  }
  return NULL;
}

void ct_doctor_tf_and_cuda_spec(const char *row, char *out, size_t size) {
  /* `==2.15.*` leaves pip free to settle on 2.15.0 (whenever nothing newer
   * of 2.15 fits the environment), whose extra does not install: name the
   * release known to install instead. */
  for (int i = 0; i < CT_LEN(broken_pins); i++)
    if (strcmp(broken_pins[i].tf, row) == 0 && broken_pins[i].release && broken_pins[i].instead) {
      snprintf(out, size, "tensorflow[and-cuda]==%s", broken_pins[i].instead);
      return;
    }
  snprintf(out, size, "tensorflow[and-cuda]==%s.*", row);
}

/* "sm_50-sm_90, sm_100, sm_120", "sm_75 and newer": does it include sm_<cc>?
 * 1 yes, 0 no, -1 the row is unknown. */
int ct_doctor_cuda_covers_sm(const char *cuda, int cc) {
  const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cuda);
  if (!row || !row->sm) return -1;
  for (const char *p = row->sm; (p = strstr(p, "sm_")) != NULL;) {
    int lo = atoi(p + 3), hi = lo;
    p += 3;
    p += strspn(p, "0123456789");
    if (strncmp(p, "-sm_", 4) == 0) {
      hi = atoi(p + 4);
      p += 4;
      p += strspn(p, "0123456789");
    } else if (strncmp(p, " and newer", 10) == 0) {
      hi = 1 << 20;
    }
    if (cc >= lo && cc <= hi) return 1;
  }
  return 0;
}

/* Whole tables, for the test that holds them to the TSV files in data/compat. */
const ct_cuda_driver_row *ct_doctor_cuda_driver_table(int i, const char **cuda) {
  if (i < 0 || i >= CT_LEN(cuda_rows)) return NULL;
  *cuda = cuda_rows[i].cuda;
  return &cuda_rows[i].row;
}

const ct_jax_cuda *ct_doctor_jax_table(int *n) {
  *n = CT_LEN(jax_rows);
  return jax_rows;
}

const ct_tf_broken_pin *ct_doctor_tf_broken_pin_table(int *n) {
  *n = CT_LEN(broken_pins);
  return broken_pins;
}
