/* On-disk cache of compiled kernels (see kernel_cache.h). */
#include "cuda/kernel_cache.h"
#include "cuda/nvrtc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------- */

typedef struct sha256 {
  uint32_t h[8];
  uint64_t total;
  unsigned char buf[64];
  size_t used;
} sha256;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(sha256 *s, const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
  s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha_init(sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->total = 0;
  s->used = 0;
}

static void sha_update(sha256 *s, const void *data, size_t n) {
  const unsigned char *p = data;
  s->total += n;
  while (n > 0) {
    size_t take = 64 - s->used < n ? 64 - s->used : n;
    memcpy(s->buf + s->used, p, take);
    s->used += take;
    p += take;
    n -= take;
    if (s->used == 64) {
      sha_block(s, s->buf);
      s->used = 0;
    }
  }
}

static void sha_final_hex(sha256 *s, char out[CT_KCACHE_KEY_HEX]) {
  uint64_t bits = s->total * 8;
  unsigned char pad = 0x80, zero = 0, len[8];
  sha_update(s, &pad, 1);
  while (s->used != 56) sha_update(s, &zero, 1);
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
  sha_update(s, len, 8);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) {
      unsigned char byte = (unsigned char)(s->h[i] >> (24 - 8 * j));
      out[8 * i + 2 * j] = hex[byte >> 4];
      out[8 * i + 2 * j + 1] = hex[byte & 15];
    }
  out[64] = '\0';
}

void ct_sha256_hex(const void *data, size_t size, char out[CT_KCACHE_KEY_HEX]) {
  sha256 s;
  sha_init(&s);
  sha_update(&s, data, size);
  sha_final_hex(&s, out);
}

/* ---- cache ------------------------------------------------------------------ */

/* Bump when the file layout or the meaning of a key changes. 3: the header
 * names the architecture, driver and NVRTC build the entry was made for. */
#define CACHE_FORMAT "ctensor-kernel-cache-3"
/* Compiled images are a few MiB at most; a larger file is not ours. */
#define CACHE_MAX_PAYLOAD (1u << 30)

/* The header's last field runs to the end of the line, so a build id with a
 * line break in it (a library path can hold one) is written flattened. */
static void flatten(const char *in, char *out, size_t size) {
  size_t j = 0;
  for (size_t i = 0; in && in[i] && j + 1 < size; i++) out[j++] = (in[i] == '\n' || in[i] == '\r') ? '?' : in[i];
  out[j] = '\0';
}

void ct_kernel_cache_set_target(ct_kernel_cache *c, const char *arch, int driver_version, const char *nvrtc) {
  flatten(arch && arch[0] ? arch : "-", c->arch, sizeof c->arch);
  /* the arch is one space-separated token of the header */
  for (char *p = c->arch; *p; p++)
    if (*p == ' ' || *p == '\t') *p = '_';
  c->driver_version = driver_version;
  flatten(nvrtc && nvrtc[0] ? nvrtc : "-", c->nvrtc, sizeof c->nvrtc);
}

void ct_kernel_cache_init(ct_kernel_cache *c, const char *dir_override) {
  memset(c, 0, sizeof *c);
  ct_kernel_cache_set_target(c, NULL, 0, NULL);
  if (dir_override) {
    snprintf(c->dir, sizeof c->dir, "%s", dir_override);
    c->enabled = c->dir[0] != '\0';
    return;
  }
  const char *off = getenv("CT_KERNEL_CACHE");
  if (off && strcmp(off, "0") == 0) return;
  const char *d = getenv("CT_KERNEL_CACHE_DIR");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  if (d && d[0])
    snprintf(c->dir, sizeof c->dir, "%s", d);
  else if (xdg && xdg[0] == '/') /* the XDG spec ignores relative paths */
    snprintf(c->dir, sizeof c->dir, "%s/ctensor", xdg);
  else if (home && home[0])
    snprintf(c->dir, sizeof c->dir, "%s/.cache/ctensor", home);
  c->enabled = c->dir[0] != '\0';
}

/* "<length>:<bytes>\n", so that field boundaries are part of the hash. */
static void sha_field(sha256 *s, const char *what, const char *text) {
  char head[64];
  size_t n = text ? strlen(text) : 0;
  int w = snprintf(head, sizeof head, "%s %zu:", what, n);
  sha_update(s, head, (size_t)w < sizeof head ? (size_t)w : sizeof head - 1);
  if (n) sha_update(s, text, n);
  sha_update(s, "\n", 1);
}

void ct_kernel_cache_key_of(const ct_kernel_cache_inputs *in, char key[CT_KCACHE_KEY_HEX]) {
  sha256 s;
  sha_init(&s);
  sha_field(&s, "format", CACHE_FORMAT);
  sha_field(&s, "arch", in->arch);
  for (int i = 0; i < in->n_options; i++) sha_field(&s, "option", in->options[i]);
  sha_field(&s, "nvrtc", in->nvrtc_version);
  for (int i = 0; i < in->n_headers; i++) {
    sha_field(&s, "header", in->header_names[i]);
    sha_field(&s, "bytes", in->header_texts[i]);
  }
  sha_field(&s, "source", in->source);
  sha_final_hex(&s, key);
}

void ct_kernel_cache_key(const char *arch, const char *options, int nvrtc_major, int nvrtc_minor,
                         const char *source, char key[CT_KCACHE_KEY_HEX]) {
  const char *texts[32], *names[32];
  char version[32];
  snprintf(version, sizeof version, "%d.%d", nvrtc_major, nvrtc_minor);
  ct_kernel_cache_inputs in = {.arch = arch,
                               .options = &options,
                               .n_options = options ? 1 : 0,
                               .nvrtc_version = version,
                               .source = source,
                               .header_names = names,
                               .header_texts = texts,
                               .n_headers = ct_nvrtc_headers(texts, names, 32)};
  ct_kernel_cache_key_of(&in, key);
}

void ct_kernel_cache_evict(ct_kernel_cache *c, const char *key) {
  if (!c->enabled) return;
  char path[600];
  ct_kernel_cache_path(c, key, path, sizeof path);
  if (unlink(path) == 0) c->evicted++;
}

void ct_kernel_cache_path(const ct_kernel_cache *c, const char *key, char *out, size_t size) {
  snprintf(out, size, "%s/%s.bin", c->dir, key);
}

/* Why a directory or file may not be trusted: someone else could have put
 * code there. NULL when it is ours alone. */
static const char *unsafe_owner(const struct stat *sb, char *buf, size_t size) {
  if (sb->st_uid != geteuid()) {
    snprintf(buf, size, "owned by uid %u, not by this user (uid %u)", (unsigned)sb->st_uid, (unsigned)geteuid());
    return buf;
  }
  if (sb->st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(buf, size, "writable by %s (mode %03o)", (sb->st_mode & S_IWOTH) ? "other users" : "its group",
             (unsigned)(sb->st_mode & 0777));
    return buf;
  }
  return NULL;
}

/* The cache directory is usable: ours, a directory, not writable by others.
 * false with c->why set otherwise (a missing directory is not an error:
 * `missing` tells). */
static bool dir_trusted(ct_kernel_cache *c, bool *missing) {
  struct stat sb;
  char detail[128];
  *missing = false;
  if (stat(c->dir, &sb) != 0) {
    *missing = errno == ENOENT;
    if (!*missing)
      snprintf(c->why, sizeof c->why, "kernel cache: cannot use %s: %s; compiling in memory", c->dir, strerror(errno));
    return false;
  }
  const char *bad = !S_ISDIR(sb.st_mode) ? "not a directory" : unsafe_owner(&sb, detail, sizeof detail);
  if (bad) {
    c->dir_refused++;
    snprintf(c->why, sizeof c->why, "kernel cache: refusing directory %s: %s; compiling in memory", c->dir, bad);
    return false;
  }
  return true;
}

/* Fixed-width hex token of exactly 64 digits. */
static bool is_hex64(const char *s, size_t n) {
  if (n != 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* Splits the next space-delimited token off [*p, end). */
static bool next_token(const char **p, const char *end, const char **tok, size_t *len) {
  const char *q = *p;
  const char *sp = memchr(q, ' ', (size_t)(end - q));
  if (sp == NULL || sp == q) return false;
  *tok = q;
  *len = (size_t)(sp - q);
  *p = sp + 1;
  return true;
}

static bool token_is(const char *tok, size_t len, const char *want) {
  return strlen(want) == len && memcmp(tok, want, len) == 0;
}

/* File: "<format> <key> <size> <sha256 of payload> <arch> <driver> <nvrtc build>\n"
 * then exactly <size> payload bytes. */
bool ct_kernel_cache_check(const ct_kernel_cache *c, const char *key, const unsigned char *file, size_t n,
                           size_t *payload_off, size_t *payload_size, char *why, size_t why_size) {
  const char *text = (const char *)file;
  const char *nl = n ? memchr(text, '\n', n < 1024 ? n : 1024) : NULL;
  const char *tok, *p = text;
  size_t len;
  if (nl == NULL) {
    snprintf(why, why_size, "no header line (truncated or not a cache entry, %zu bytes)", n);
    return false;
  }
  if (!next_token(&p, nl, &tok, &len) || !token_is(tok, len, CACHE_FORMAT)) {
    snprintf(why, why_size, "not a %s entry (header starts '%.*s')", CACHE_FORMAT,
             (int)((size_t)(nl - text) < 40 ? (size_t)(nl - text) : 40), text);
    return false;
  }
  if (!next_token(&p, nl, &tok, &len) || !is_hex64(tok, len) || (key && !token_is(tok, len, key))) {
    snprintf(why, why_size, "the header names another key");
    return false;
  }
  unsigned long long size = 0;
  if (!next_token(&p, nl, &tok, &len) || len > 10) {
    snprintf(why, why_size, "the header has no payload size");
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (tok[i] < '0' || tok[i] > '9') {
      snprintf(why, why_size, "bad payload size '%.*s'", (int)len, tok);
      return false;
    }
    size = size * 10 + (unsigned)(tok[i] - '0');
  }
  if (size == 0 || size > CACHE_MAX_PAYLOAD) {
    snprintf(why, why_size, "payload size %llu out of range", size);
    return false;
  }
  const char *sum;
  if (!next_token(&p, nl, &sum, &len) || !is_hex64(sum, len)) {
    snprintf(why, why_size, "the header has no payload checksum");
    return false;
  }
  if (!next_token(&p, nl, &tok, &len)) {
    snprintf(why, why_size, "the header has no architecture");
    return false;
  }
  if (c && !token_is(tok, len, c->arch)) {
    snprintf(why, why_size, "built for %.*s, this GPU needs %s", (int)(len < 32 ? len : 32), tok, c->arch);
    return false;
  }
  char drv[16];
  if (!next_token(&p, nl, &tok, &len) || len >= sizeof drv) {
    snprintf(why, why_size, "the header has no driver version");
    return false;
  }
  memcpy(drv, tok, len);
  drv[len] = '\0';
  char mine[16];
  snprintf(mine, sizeof mine, "%d", c ? c->driver_version : 0);
  if (c && strcmp(drv, mine) != 0) {
    snprintf(why, why_size, "built under driver %s, this driver is %s", drv, mine);
    return false;
  }
  size_t nv_len = (size_t)(nl - p);
  if (c && !token_is(p, nv_len, c->nvrtc)) {
    snprintf(why, why_size, "built by NVRTC '%.*s', this one is '%s'", (int)(nv_len < 120 ? nv_len : 120), p,
             c->nvrtc);
    return false;
  }
  size_t off = (size_t)(nl - text) + 1;
  if (n - off != size) {
    snprintf(why, why_size, "%s: the header promises %llu payload bytes, the file holds %zu",
             n - off < size ? "truncated" : "trailing bytes", size, n - off);
    return false;
  }
  char actual[CT_KCACHE_KEY_HEX];
  ct_sha256_hex(file + off, (size_t)size, actual);
  if (memcmp(actual, sum, 64) != 0) {
    snprintf(why, why_size, "payload checksum mismatch (corrupt)");
    return false;
  }
  *payload_off = off;
  *payload_size = (size_t)size;
  return true;
}

bool ct_kernel_cache_load(ct_kernel_cache *c, const char *key, void **data, size_t *size) {
  if (!c->enabled) return false;
  c->why[0] = '\0';
  bool missing;
  if (!dir_trusted(c, &missing)) {
    c->misses++;
    return false;
  }
  char path[600], detail[128];
  ct_kernel_cache_path(c, key, path, sizeof path);
  /* O_NOFOLLOW: a link planted in place of an entry is not followed;
   * O_NONBLOCK: a FIFO planted there does not hang the open. */
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    c->misses++;
    if (errno != ENOENT) {
      c->rejected++;
      snprintf(c->why, sizeof c->why, "kernel cache: cannot read %s: %s; compiling it again", path, strerror(errno));
    }
    return false;
  }
  struct stat sb;
  unsigned char *buf = NULL;
  const char *bad = NULL;
  size_t n = 0;
  if (fstat(fd, &sb) != 0) bad = strerror(errno);
  else if (!S_ISREG(sb.st_mode)) bad = "not a regular file";
  else if ((bad = unsafe_owner(&sb, detail, sizeof detail)) != NULL) c->file_refused++;
  else if (sb.st_size <= 0 || (unsigned long long)sb.st_size > CACHE_MAX_PAYLOAD + 1024ull) bad = "size out of range";
  else if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) bad = "out of memory";
  else {
    ssize_t got;
    while (n < (size_t)sb.st_size && (got = read(fd, buf + n, (size_t)sb.st_size - n)) > 0) n += (size_t)got;
  }
  close(fd);
  size_t off = 0, len = 0;
  char why[256];
  if (bad == NULL && !ct_kernel_cache_check(c, key, buf, n, &off, &len, why, sizeof why)) bad = why;
  if (bad) {
    free(buf);
    c->rejected++;
    c->misses++;
    snprintf(c->why, sizeof c->why, "kernel cache: not loading %s: %s; compiling it again", path, bad);
    return false;
  }
  memmove(buf, buf + off, len);
  buf[len] = '\0'; /* PTX images are text */
  *data = buf;
  *size = len;
  c->hits++;
  return true;
}

/* Creates missing directories 0700: the cache holds code this user runs. */
static int mkdir_p(const char *dir) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

ct_status ct_kernel_cache_store(ct_kernel_cache *c, const char *key, const void *data, size_t size) {
  if (!c->enabled) return CT_OK;
  char path[600], tmp[640], sum[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_path(c, key, path, sizeof path);
  bool missing;
  if (!dir_trusted(c, &missing)) {
    if (!missing || mkdir_p(c->dir) != 0) {
      c->store_failures++;
      if (missing) return ct_error(CT_UNAVAILABLE, "kernel cache: cannot create %s: %s", c->dir, strerror(errno));
      return ct_error(CT_UNAVAILABLE, "%s", c->why);
    }
    if (!dir_trusted(c, &missing)) { /* made by someone else meanwhile, or under a umask we cannot trust */
      c->store_failures++;
      return ct_error(CT_UNAVAILABLE, "%s", c->why);
    }
  }
  if (size == 0 || size > CACHE_MAX_PAYLOAD) {
    c->store_failures++;
    return ct_error(CT_INVALID_ARGUMENT, "kernel cache: not storing a %zu-byte image", size);
  }
  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    c->store_failures++;
    return ct_error(CT_UNAVAILABLE, "kernel cache: cannot create a file in %s: %s", c->dir, strerror(errno));
  }
  ct_sha256_hex(data, size, sum);
  FILE *f = fdopen(fd, "wb");
  bool ok = f != NULL;
  if (ok) {
    ok = fprintf(f, "%s %s %zu %s %s %d %s\n", CACHE_FORMAT, key, size, sum, c->arch[0] ? c->arch : "-",
                 c->driver_version, c->nvrtc[0] ? c->nvrtc : "-") > 0 &&
         fwrite(data, 1, size, f) == size;
    /* a full disk shows up at the flush at the latest */
    ok = (fclose(f) == 0) && ok;
  } else {
    close(fd);
  }
  /* rename() is atomic within a file system: readers never see a partial
   * file, and it replaces a rejected entry in one step */
  if (!ok || chmod(tmp, 0600) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    c->store_failures++;
    return ct_error(CT_UNAVAILABLE, "kernel cache: cannot write %s: %s", path, strerror(e));
  }
  c->stores++;
  return CT_OK;
}
