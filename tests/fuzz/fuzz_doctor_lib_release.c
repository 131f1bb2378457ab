/* The user-space driver release from a library's file name
 * ("libcuda.so.550.54.15"). */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_cstr(data, size);
  if (!path) return 0;
  char out[64];
  ct_dr_release_from_name(path, out, sizeof out);
  fuzz_check_terminated("release", out, sizeof out);
  FUZZ_REQUIRE(strchr(out, '/') == NULL, "'%s' from '%s'", out, path);
  free(path);
  return 0;
}
