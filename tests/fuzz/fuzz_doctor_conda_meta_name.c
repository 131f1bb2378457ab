/* conda-meta file names: "<name>-<version>-<build>.json" split in three;
 * the pieces never hold the separators they were split at. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *file = fuzz_cstr(data, size);
  if (!file) return 0;
  char name[256], version[64], build[64];
  if (ct_dr_conda_meta_name(file, name, sizeof name, version, sizeof version, build, sizeof build)) {
    FUZZ_REQUIRE(strchr(build, '-') == NULL, "'%s': build '%s'", file, build);
    FUZZ_REQUIRE(strchr(version, '-') == NULL, "'%s': version '%s'", file, version);
    FUZZ_REQUIRE(strlen(file) >= 7, "'%s' is too short to split", file);
  }
  free(file);
  return 0;
}
