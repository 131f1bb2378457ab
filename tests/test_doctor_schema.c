/*
 * `ctensor doctor --json` against docs/doctor-schema.json, for every fixture
 * machine in tests/fixtures/doctor (with the arguments in its doctor-args
 * file, one per line, when it has one; "@" lines are left to the corpus test)
 * and for this machine. The reports
 * are written to the build tree and validated in one run of Python's
 * jsonschema (Debian: python3-jsonschema); without it the test says so and
 * is skipped.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doctor/doctor.h"
#include "testutil.h"

static char src_dir[1024], out_dir[1024];

/* Runs the doctor with argv (argv[0] "doctor" added) into file `path`. */
static int run_to_file(int n, char **args, const char *path) {
  char *argv[40];
  argv[0] = (char *)"doctor";
  for (int i = 0; i < n && i < 38; i++) argv[i + 1] = args[i];
  FILE *out = fopen(path, "w");
  FILE *err = fopen("/dev/null", "w");
  if (!out || !err) return -1;
  int rc = ct_doctor_main(n + 1, argv, out, err);
  fclose(out);
  fclose(err);
  return rc;
}

/* Appends the lines of <fixture>/doctor-args to args. */
static int fixture_args(const char *fixture, char **args, int n, char store[][512], int max) {
  char path[1200];
  snprintf(path, sizeof path, "%s/doctor-args", fixture);
  FILE *f = fopen(path, "r");
  if (!f) return n;
  char line[512];
  int k = 0;
  while (fgets(line, sizeof line, f) && n < 36 && k < max) {
    line[strcspn(line, "\n")] = '\0';
    /* "@setenv" lines are for the corpus test; "%ROOT%" is the fixture. */
    if (!line[0] || line[0] == '#' || line[0] == '@') continue;
    const char *r = strstr(line, "%ROOT%");
    if (r) snprintf(store[k], 512, "%.*s%s%s", (int)(r - line), line, fixture, r + 6);
    else snprintf(store[k], 512, "%s", line);
    args[n++] = store[k++];
  }
  fclose(f);
  return n;
}

TEST(every_fixture_matches_the_schema) {
  if (system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0) {
    printf("     (skipped: python3 with jsonschema is not installed; Debian: apt-get install python3-jsonschema)\n");
    return;
  }
  char fixtures[1100];
  snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/doctor", src_dir);
  DIR *dir = opendir(fixtures);
  CHECK(dir != NULL);
  if (!dir) return;
  mkdir(out_dir, 0755);
  int n_reports = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char root[1400], out[1400];
    snprintf(root, sizeof root, "%s/%s", fixtures, e->d_name);
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    char store[24][512];
    char *args[40] = {(char *)"--json", (char *)"--no-ctensor", (char *)"--root", root};
    int n = fixture_args(root, args, 4, store, 24);
    snprintf(out, sizeof out, "%s/%s.json", out_dir, e->d_name);
    int rc = run_to_file(n, args, out);
    CHECK(rc == 0 || rc == 1);
    n_reports++;
  }
  closedir(dir);
  /* This machine, with the advisor and ctensor's own devices. */
  char out[1400];
  snprintf(out, sizeof out, "%s/this-machine.json", out_dir);
  char *args[] = {(char *)"--json", (char *)"--tf", (char *)"2.15", (char *)"--torch", (char *)"2.4"};
  run_to_file(5, args, out);
  n_reports++;
  CHECK(n_reports >= 6);
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "python3 - '%s/docs/doctor-schema.json' '%s' <<'EOF'\n"
           "import glob, json, sys, jsonschema\n"
           "schema = json.load(open(sys.argv[1]))\n"
           "jsonschema.Draft202012Validator.check_schema(schema)\n"
           "v = jsonschema.Draft202012Validator(schema)\n"
           "bad = 0\n"
           "for f in sorted(glob.glob(sys.argv[2] + '/*.json')):\n"
           "    for e in v.iter_errors(json.load(open(f))):\n"
           "        bad += 1\n"
           "        print('%%s: %%s at %%s' %% (f, e.message[:200], '/'.join(map(str, e.absolute_path))))\n"
           "sys.exit(1 if bad else 0)\n"
           "EOF\n",
           src_dir, out_dir);
  int rc = system(cmd);
  CHECK_EQ_INT(rc, 0);
  printf("     %d reports validated against docs/doctor-schema.json\n", n_reports);
}

int main(void) {
  const char *src = getenv("CT_SOURCE_DIR"), *bin = getenv("CT_BINARY_DIR");
  snprintf(src_dir, sizeof src_dir, "%s", src ? src : ".");
  snprintf(out_dir, sizeof out_dir, "%s/doctor-schema-reports", bin ? bin : ".");
  RUN(every_fixture_matches_the_schema);
  TEST_MAIN_END();
}
