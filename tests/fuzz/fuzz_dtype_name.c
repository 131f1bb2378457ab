/* ct_dtype_from_name: a name that parses names a dtype whose own name
 * parses to the same dtype. */
#include "ctensor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  if (!s) return 0;
  ct_dtype dt, back;
  if (ct_dtype_from_name(s, &dt) == CT_OK) {
    FUZZ_REQUIRE(ct_dtype_size(dt) > 0, "'%s'", s);
    FUZZ_REQUIRE(ct_dtype_from_name(ct_dtype_name(dt), &back) == CT_OK && back == dt, "'%s'", s);
  }
  free(s);
  return 0;
}
