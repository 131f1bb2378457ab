/* The kernel cache's entry reader (header, size, checksum, target). The
 * first byte picks the mode: odd, the rest is a whole entry file as found
 * on disk; even, the rest is "<header fields>\n<payload>" and the harness
 * writes the true size and checksum, so that the fuzzer also reaches the
 * checks after the checksum. Whatever the reader accepts must be exactly
 * the payload that was written. */
#include "cuda/kernel_cache.h"
#include "fuzz_util.h"

static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  ct_kernel_cache c;
  ct_kernel_cache_init(&c, "");
  ct_kernel_cache_set_target(&c, "sm_90", 12040, "13.0 /lib/libnvrtc.so.13.0.48 100 1");
  char why[256];
  size_t off = 0, len = 0;
  if (data[0] & 1) {
    unsigned char *file = malloc(size - 1 ? size - 1 : 1);
    if (!file) return 0;
    if (size > 1) memcpy(file, data + 1, size - 1);
    if (ct_kernel_cache_check(&c, key, file, size - 1, &off, &len, why, sizeof why)) {
      FUZZ_REQUIRE(off + len == size - 1 && len > 0, "payload %zu+%zu of %zu", off, len, size - 1);
      char sum[CT_KCACHE_KEY_HEX];
      ct_sha256_hex(file + off, len, sum);
      FUZZ_REQUIRE(memmem(file, off, sum, 64) != NULL,
                   "accepted a payload whose checksum is not in the header");
    } else {
      FUZZ_REQUIRE(memchr(why, '\0', sizeof why) && why[0], "rejected without a reason");
    }
    /* also with no expectations at all (NULL cache and key) */
    ct_kernel_cache_check(NULL, NULL, file, size - 1, &off, &len, why, sizeof why);
    free(file);
    return 0;
  }
  const uint8_t *nl = memchr(data + 1, '\n', size - 1);
  if (!nl) return 0;
  size_t fields_len = (size_t)(nl - (data + 1));
  const uint8_t *payload = nl + 1;
  size_t payload_len = size - 1 - fields_len - 1;
  char sum[CT_KCACHE_KEY_HEX];
  ct_sha256_hex(payload, payload_len, sum);
  /* "<format> <key> <size> <sum> " + the fuzzer's fields + "\n" + payload */
  char head[160];
  int h = snprintf(head, sizeof head, "ctensor-kernel-cache-3 %s %zu %s ", key, payload_len, sum);
  size_t total = (size_t)h + fields_len + 1 + payload_len;
  unsigned char *file = malloc(total);
  if (!file) return 0;
  memcpy(file, head, (size_t)h);
  memcpy(file + h, data + 1, fields_len);
  file[(size_t)h + fields_len] = '\n';
  if (payload_len) memcpy(file + h + fields_len + 1, payload, payload_len);
  if (ct_kernel_cache_check(&c, key, file, total, &off, &len, why, sizeof why)) {
    FUZZ_REQUIRE(len == payload_len && memcmp(file + off, payload, len) == 0, "accepted the wrong bytes");
    FUZZ_REQUIRE(payload_len > 0, "accepted an empty payload");
  }
  free(file);
  return 0;
}
