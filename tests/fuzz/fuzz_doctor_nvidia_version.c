/* /proc/driver/nvidia/version: the release found is one token that starts
 * with a digit and holds a dot. The probe reads at most 1023 bytes. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text) return 0;
  char out[64];
  ct_dr_parse_module_version(text, out, sizeof out);
  if (out[0]) {
    FUZZ_REQUIRE(out[0] >= '0' && out[0] <= '9', "'%s'", out);
    FUZZ_REQUIRE(strpbrk(out, " \t\n") == NULL, "'%s'", out);
  }
  char tiny[4];
  ct_dr_parse_module_version(text, tiny, sizeof tiny);
  fuzz_check_terminated("tiny", tiny, sizeof tiny);
  free(text);
  return 0;
}
