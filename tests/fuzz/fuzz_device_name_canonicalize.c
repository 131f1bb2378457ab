/* ct_device_name_canonicalize: the canonical text is a fixed point, and a
 * too-small buffer is an error, never a cut-off name. The first byte picks
 * the output size. */
#include "ctensor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t out_size = data[0] == 0xff ? CT_DEVICE_NAME_MAX : data[0];
  char *spec = fuzz_cstr(data + 1, size - 1);
  char *out = malloc(out_size ? out_size : 1);
  if (spec && out) {
    ct_status st = ct_device_name_canonicalize(spec, out, out_size);
    if (st == CT_OK) {
      fuzz_check_terminated("canonicalize", out, out_size);
      char again[CT_DEVICE_NAME_MAX];
      FUZZ_REQUIRE(ct_device_name_canonicalize(out, again, sizeof again) == CT_OK, "'%s': %s", out, ct_last_error());
      FUZZ_REQUIRE(strcmp(out, again) == 0, "'%s' -> '%s' -> '%s'", spec, out, again);
    }
  }
  free(spec);
  free(out);
  return 0;
}
