/* ct_device_name_merge(outer, inner): the input is "outer\ninner"; a
 * successful merge is canonical text. */
#include "ctensor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  if (!s) return 0;
  char *outer, *inner, out[CT_DEVICE_NAME_MAX];
  fuzz_split(s, &outer, &inner);
  if (ct_device_name_merge(outer, inner, out, sizeof out) == CT_OK) {
    char again[CT_DEVICE_NAME_MAX];
    FUZZ_REQUIRE(ct_device_name_canonicalize(out, again, sizeof again) == CT_OK, "'%s': %s", out, ct_last_error());
    FUZZ_REQUIRE(strcmp(out, again) == 0, "merge gave '%s', canonical '%s'", out, again);
  }
  free(s);
  return 0;
}
