/* /proc/cpuinfo: model name and instruction-set flags. */
#include "doctor/doctor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text) return 0;
  ct_doctor_machine m;
  memset(&m, 0, sizeof m);
  ct_dr_parse_cpuinfo(text, &m);
  fuzz_check_terminated("cpu_model", m.cpu_model, sizeof m.cpu_model);
  FUZZ_REQUIRE(!m.has_avx2 || strstr(text, "avx2"), "avx2 without the flag");
  free(text);
  return 0;
}
