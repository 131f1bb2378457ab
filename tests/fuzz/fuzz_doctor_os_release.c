/* os-release: PRETTY_NAME, quoted or not, into a fixed buffer. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text) return 0;
  char out[CT_DR_TEXT] = "";
  ct_dr_parse_os_release(text, out, sizeof out);
  fuzz_check_terminated("os", out, sizeof out);
  FUZZ_REQUIRE(strpbrk(out, "\"\n") == NULL, "'%s'", out);
  char tiny[1] = "";
  ct_dr_parse_os_release(text, tiny, 0); /* no room at all: must not write */
  FUZZ_REQUIRE(tiny[0] == '\0', "wrote into a zero-sized buffer");
  free(text);
  return 0;
}
