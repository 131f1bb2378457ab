/* The doctor's METADATA / PKG-INFO reader, through a FILE over the input
 * (fmemopen), with the sizes the probe uses. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  void *copy = malloc(size);
  if (!copy) return 0;
  memcpy(copy, data, size);
  FILE *f = fmemopen(copy, size, "r");
  if (f) {
    char name[128] = "", version[64] = "", cuda_dep[64] = "", cudnn_dep[64] = "";
    ct_dr_parse_metadata(f, name, sizeof name, version, sizeof version, cuda_dep, cudnn_dep, sizeof cuda_dep);
    fclose(f);
    fuzz_check_terminated("name", name, sizeof name);
    fuzz_check_terminated("version", version, sizeof version);
    fuzz_check_terminated("cuda_dep", cuda_dep, sizeof cuda_dep);
    fuzz_check_terminated("cudnn_dep", cudnn_dep, sizeof cudnn_dep);
  }
  free(copy);
  return 0;
}
