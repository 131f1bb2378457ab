/*
 * The on-disk cache of compiled kernels, shared by every process of the
 * user: $CT_KERNEL_CACHE_DIR, else $XDG_CACHE_HOME/ctensor, else
 * ~/.cache/ctensor. CT_KERNEL_CACHE=0 turns it off.
 *
 * An entry is keyed by the SHA-256 of everything that decides its bytes:
 * the full kernel source, every header NVRTC may include (common.cuh,
 * philox.h, ...), the target architecture, every option and the NVRTC
 * library (version, file, size, mtime). An entry the driver refuses to
 * load is evicted and compiled again. The file repeats the key, names the
 * architecture, driver and NVRTC build it was made for and carries the
 * SHA-256 of its payload; a file whose header, size or checksum does not
 * match is never loaded (and is replaced by the next store). Loading an
 * entry runs code from disk, so the directory is created 0700 and a
 * directory or file owned by another user or writable by group or others
 * is refused: the kernel is then compiled in memory. Stores write a temporary file in the
 * same directory and rename() it into place, so readers in other
 * processes see the old entry, the new entry or none — never half of one.
 */
#ifndef CT_CUDA_KERNEL_CACHE_H
#define CT_CUDA_KERNEL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

#define CT_KCACHE_KEY_HEX 65 /* 64 hex digits + NUL */

typedef struct ct_kernel_cache {
  bool enabled;
  char dir[512];
  /* counters, for tests and `doctor` */
  uint64_t hits, misses, rejected, stores, store_failures, evicted;
  /* What entries must have been built for (ct_kernel_cache_set_target). */
  char arch[32];
  int driver_version;
  char nvrtc[400];
  /* Refusals: a directory or an entry file someone else could have written
   * (another owner, group- or world-writable). */
  uint64_t dir_refused, file_refused;
  /* Why the last load found nothing usable ("" for a plain miss): for the
   * caller to log. */
  char why[700];
} ct_kernel_cache;

/* Reads the environment (once, when the cache is set up). dir_override
 * non-NULL: use that directory and ignore the environment (tests). */
void ct_kernel_cache_init(ct_kernel_cache *c, const char *dir_override);

/* Everything that decides a compiled kernel's bytes. */
typedef struct ct_kernel_cache_inputs {
  const char *arch;                /* NVRTC target, "sm_90" */
  const char *const *options;      /* every option NVRTC is given, in order */
  int n_options;
  const char *nvrtc_version;       /* ct_nvrtc.build_id: version, library file, size, mtime */
  const char *source;              /* the program */
  const char *const *header_names; /* every header NVRTC may include, with its bytes */
  const char *const *header_texts;
  int n_headers;
} ct_kernel_cache_inputs;

/* key = SHA-256 over the format version and every input, each
 * length-prefixed (so no two different inputs hash the same text). */
void ct_kernel_cache_key_of(const ct_kernel_cache_inputs *in, char key[CT_KCACHE_KEY_HEX]);

/* The same for one option and a bare NVRTC version, with the embedded
 * headers (ct_nvrtc_headers) -- for tests and tools. */
void ct_kernel_cache_key(const char *arch, const char *options, int nvrtc_major, int nvrtc_minor,
                         const char *source, char key[CT_KCACHE_KEY_HEX]);

/* Sets what every entry must have been built for: loads refuse an entry
 * made for another architecture, driver version or NVRTC build, and
 * stores record them in the header. */
void ct_kernel_cache_set_target(ct_kernel_cache *c, const char *arch, int driver_version, const char *nvrtc);

/* Checks an entry file's bytes against `key` (NULL: any) and c's target
 * (c NULL: any): header, size, checksum. true with the payload's place;
 * false with the reason in why. Exposed for tests and the fuzz harness. */
bool ct_kernel_cache_check(const ct_kernel_cache *c, const char *key, const unsigned char *file, size_t n,
                           size_t *payload_off, size_t *payload_size, char *why, size_t why_size);

/* Removes an entry (one the driver refused to load); counted in evicted. */
void ct_kernel_cache_evict(ct_kernel_cache *c, const char *key);

/* The entry's path ("<dir>/<key>.bin"). */
void ct_kernel_cache_path(const ct_kernel_cache *c, const char *key, char *out, size_t size);

/* true and a malloc'ed copy on a valid hit; false on a miss or a rejected
 * (corrupt, truncated, foreign, unreadable) file, or when the directory or
 * the file could have been written by another user (c->why says which). */
bool ct_kernel_cache_load(ct_kernel_cache *c, const char *key, void **data, size_t *size);

/* Stores atomically (creates the directory). Failure is reported but
 * harmless: the caller keeps its compiled image. */
ct_status ct_kernel_cache_store(ct_kernel_cache *c, const char *key, const void *data, size_t size);

/* SHA-256 of a buffer as 64 hex digits (exposed for tests). */
void ct_sha256_hex(const void *data, size_t size, char out[CT_KCACHE_KEY_HEX]);

#endif
