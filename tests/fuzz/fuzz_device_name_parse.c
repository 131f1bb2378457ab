/* ct_device_name_parse: any text either fails with a status or yields a
 * struct that formats to a name which parses back to the same struct. */
#include "ctensor.h"
#include "fuzz_util.h"

static int same(const ct_device_name *a, const ct_device_name *b) {
  return a->has_job == b->has_job && (!a->has_job || strcmp(a->job, b->job) == 0) &&
         a->has_replica == b->has_replica && (!a->has_replica || a->replica == b->replica) &&
         a->has_task == b->has_task && (!a->has_task || a->task == b->task) && a->has_type == b->has_type &&
         (!a->has_type || strcmp(a->type, b->type) == 0) && a->has_id == b->has_id && (!a->has_id || a->id == b->id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *spec = fuzz_cstr(data, size);
  if (!spec) return 0;
  ct_device_name n, back;
  if (ct_device_name_parse(spec, &n) == CT_OK) {
    char text[CT_DEVICE_NAME_MAX];
    FUZZ_REQUIRE(ct_device_name_format(&n, text, sizeof text) == CT_OK, "'%s': %s", spec, ct_last_error());
    FUZZ_REQUIRE(ct_device_name_parse(text, &back) == CT_OK, "'%s' -> '%s': %s", spec, text, ct_last_error());
    FUZZ_REQUIRE(same(&n, &back), "'%s' -> '%s' parses differently", spec, text);
    FUZZ_REQUIRE(ct_device_name_matches(&n, &n), "'%s' does not match itself", spec);
  } else {
    FUZZ_REQUIRE(ct_last_error()[0] != '\0', "'%s' failed without a message", spec);
  }
  free(spec);
  return 0;
}
