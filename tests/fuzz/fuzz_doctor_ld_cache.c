/* The doctor's /etc/ld.so.cache parser over an image of exactly the input's
 * size: every directory it reports is a NUL-terminated path without its
 * file name. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

static void on_dir(void *ctx, const char *dir) {
  size_t *count = ctx;
  FUZZ_REQUIRE(strlen(dir) < CT_DR_PATH, "directory of %zu bytes", strlen(dir));
  (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  size_t count = 0;
  ct_dr_parse_ld_cache(copy, size, on_dir, &count);
  free(copy);
  return 0;
}
