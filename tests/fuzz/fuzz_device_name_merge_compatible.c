/* ct_device_name_merge_compatible(a, b, soft): the first byte's low bit
 * is allow_soft_placement, the rest "a\nb". A merge that succeeds without
 * soft placement also succeeds with it. */
#include "ctensor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool soft = data[0] & 1;
  char *s = fuzz_cstr(data + 1, size - 1);
  if (!s) return 0;
  char *a, *b, out[CT_DEVICE_NAME_MAX], out_soft[CT_DEVICE_NAME_MAX];
  fuzz_split(s, &a, &b);
  ct_status st = ct_device_name_merge_compatible(a, b, soft, out, sizeof out);
  if (st == CT_OK && !soft)
    FUZZ_REQUIRE(ct_device_name_merge_compatible(a, b, true, out_soft, sizeof out_soft) == CT_OK &&
                     strcmp(out, out_soft) == 0,
                 "'%s' + '%s'", a, b);
  free(s);
  return 0;
}
