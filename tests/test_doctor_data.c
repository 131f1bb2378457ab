/*
 * The doctor's compatibility tables are project data: the TSV files in data/compat,
 * one row per fact with its source. The C tables in
 * src/doctor/compat_tables.c must say exactly the same, field by field and
 * row by row, so that the files stay the one source a reader checks (and a
 * change to either without the other fails here). "\N" in a file is a NULL
 * in C.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"
#include "testutil.h"

#define MAX_ROWS 64
#define MAX_COLS 16

typedef struct {
  char *buf;
  int n_rows, n_cols;
  char *cell[MAX_ROWS][MAX_COLS];
  char *head[MAX_COLS];
} tsv;

static char data_dir[1024];

/* Reads data/compat/<name>: a header line, then rows of tab-separated cells. */
static bool tsv_read(const char *name, tsv *t) {
  memset(t, 0, sizeof *t);
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", data_dir, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return false;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  t->buf = malloc((size_t)n + 1);
  size_t got = fread(t->buf, 1, (size_t)n, f);
  t->buf[got] = '\0';
  fclose(f);
  char *line = t->buf;
  int row = -1;
  while (line && *line && row < MAX_ROWS) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char **dst = row < 0 ? t->head : t->cell[row];
    int c = 0;
    for (char *p = line; c < MAX_COLS;) {
      dst[c++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = '\0';
      p = tab + 1;
    }
    if (row < 0) t->n_cols = c;
    else if (c != t->n_cols) fprintf(stderr, "%s row %d: %d cells, header has %d\n", name, row + 1, c, t->n_cols);
    row++;
    line = nl ? nl + 1 : NULL;
  }
  t->n_rows = row < 0 ? 0 : row;
  return true;
}

static int col(const tsv *t, const char *name) {
  for (int c = 0; c < t->n_cols; c++)
    if (strcmp(t->head[c], name) == 0) return c;
  fprintf(stderr, "no column %s\n", name);
  return 0;
}

/* One field: the file's cell against the C value. */
#define FIELD(t, row, name, cval)                                                                            \
  do {                                                                                                       \
    const char *file_ = (t)->cell[row][col((t), name)];                                                      \
    const char *c_ = (cval);                                                                                 \
    tu_checks++;                                                                                             \
    bool same_ = c_ ? strcmp(file_, c_) == 0 : strcmp(file_, "\\N") == 0;                                    \
    if (!same_) {                                                                                            \
      tu_failures++;                                                                                         \
      fprintf(stderr, "%s:%d: row %d column %s: file \"%s\", C \"%s\"\n", __FILE__, __LINE__, (row) + 1, name, \
              file_, c_ ? c_ : "NULL");                                                                      \
    }                                                                                                        \
  } while (0)

static const char *itoa_(int v) {
  static char b[8][16];
  static int k;
  char *s = b[k++ % 8];
  snprintf(s, 16, "%d", v);
  return s;
}

TEST(tensorflow_table) {
  tsv t;
  CHECK(tsv_read("tensorflow.tsv", &t));
  int n;
  const ct_tf_compat *c = ct_doctor_tf_table(&n);
  CHECK_EQ_INT(t.n_rows, n);
  for (int i = 0; i < n && i < t.n_rows; i++) {
    FIELD(&t, i, "version", c[i].version);
    FIELD(&t, i, "python", c[i].python);
    FIELD(&t, i, "cuda", c[i].cuda);
    FIELD(&t, i, "cudnn", c[i].cudnn);
    FIELD(&t, i, "gpu_in_main_pkg", itoa_(c[i].gpu_in_main_pkg));
    FIELD(&t, i, "gpu_pkg", c[i].gpu_pkg);
    FIELD(&t, i, "driver", c[i].driver);
    FIELD(&t, i, "kernels", c[i].kernels);
    FIELD(&t, i, "note", c[i].note);
    FIELD(&t, i, "uncertain", itoa_(c[i].gpu_uncertain));
    FIELD(&t, i, "source", c[i].source);
    FIELD(&t, i, "driver_origin", c[i].driver_origin);
    FIELD(&t, i, "driver_source", c[i].driver_source);
    FIELD(&t, i, "kernels_source", c[i].kernels_source);
    CHECK(t.cell[i][col(&t, "source")][0] != '\0');
  }
  free(t.buf);
}

TEST(cuda_driver_table) {
  tsv t;
  CHECK(tsv_read("cuda_driver.tsv", &t));
  const char *cuda;
  const ct_cuda_driver_row *d;
  int i = 0;
  for (; (d = ct_doctor_cuda_driver_table(i, &cuda)) != NULL && i < t.n_rows; i++) {
    FIELD(&t, i, "cuda", cuda);
    FIELD(&t, i, "toolkit", d->toolkit);
    FIELD(&t, i, "linux_min", d->linux_min);
    FIELD(&t, i, "minor_compat", d->minor_compat);
    FIELD(&t, i, "sm", d->sm);
    FIELD(&t, i, "source", d->source);
    FIELD(&t, i, "sm_source", d->sm_source);
  }
  while (ct_doctor_cuda_driver_table(i, &cuda)) i++;
  CHECK_EQ_INT(t.n_rows, i);
  free(t.buf);
}

TEST(pytorch_table) {
  tsv t;
  CHECK(tsv_read("pytorch.tsv", &t));
  int n;
  const ct_torch_compat *p = ct_doctor_torch_table(&n);
  CHECK_EQ_INT(t.n_rows, n);
  for (int i = 0; i < n && i < t.n_rows; i++) {
    FIELD(&t, i, "version", p[i].version);
    FIELD(&t, i, "python", p[i].python);
    FIELD(&t, i, "python_experimental", p[i].python_experimental);
    FIELD(&t, i, "stable_cuda", p[i].stable_cuda);
    FIELD(&t, i, "experimental_cuda", p[i].experimental_cuda);
    FIELD(&t, i, "also_cuda", p[i].also_cuda);
    char cd[256] = "";
    for (int k = 0; k < 4 && p[i].cudnn[k].cuda; k++)
      snprintf(cd + strlen(cd), sizeof cd - strlen(cd), "%s%s=%s", k ? ";" : "", p[i].cudnn[k].cuda,
               p[i].cudnn[k].cudnn);
    FIELD(&t, i, "cudnn_per_cuda", cd);
    FIELD(&t, i, "uncertain", itoa_(p[i].uncertain));
    FIELD(&t, i, "source", p[i].source);
    FIELD(&t, i, "also_source", p[i].also_source);
  }
  free(t.buf);
}

TEST(jax_and_pin_tables) {
  tsv t;
  CHECK(tsv_read("jax.tsv", &t));
  int n;
  const ct_jax_cuda *j = ct_doctor_jax_table(&n);
  CHECK_EQ_INT(t.n_rows, n);
  for (int i = 0; i < n && i < t.n_rows; i++) {
    FIELD(&t, i, "cuda_major", itoa_(j[i].major));
    FIELD(&t, i, "driver", j[i].driver);
    FIELD(&t, i, "extra", j[i].extra);
    FIELD(&t, i, "source", j[i].source);
  }
  free(t.buf);
  CHECK(tsv_read("tensorflow_broken_pins.tsv", &t));
  const ct_tf_broken_pin *b = ct_doctor_tf_broken_pin_table(&n);
  CHECK_EQ_INT(t.n_rows, n);
  for (int i = 0; i < n && i < t.n_rows; i++) {
    FIELD(&t, i, "tensorflow", b[i].tf);
    FIELD(&t, i, "release", b[i].release);
    FIELD(&t, i, "python", b[i].python);
    FIELD(&t, i, "instead", b[i].instead);
    FIELD(&t, i, "why", b[i].why);
    FIELD(&t, i, "source", b[i].source);
  }
  free(t.buf);
}

int main(void) {
  const char *src = getenv("CT_SOURCE_DIR");
  snprintf(data_dir, sizeof data_dir, "%s/data/compat", src ? src : ".");
  RUN(tensorflow_table);
  RUN(cuda_driver_table);
  RUN(pytorch_table);
  RUN(jax_and_pin_tables);
  TEST_MAIN_END();
}
