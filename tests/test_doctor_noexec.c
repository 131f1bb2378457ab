/*
 * The doctor never runs a program it finds on disk (issue 14): not the
 * Python interpreters it inspects (their metadata is read, not imported),
 * not nvidia-smi, ldconfig, lsmod or mokutil. Checked twice: its sources
 * call nothing that starts a process, and a run with booby-trapped programs
 * first on PATH (and one given as --python) leaves none of them run. Also:
 * a relative CT_CUDA_DRIVER_PATH is not taken.
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

TEST(doctor_sources_start_no_process) {
  const char *src = getenv("CT_SOURCE_DIR");
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/src/doctor", src ? src : ".");
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  regex_t re;
  CHECK(regcomp(&re, "(^|[^_a-z])(popen|system|fork|vfork|posix_spawnp?|exec[lv]p?e?|execvpe|wordexp)[ ]*\\(",
                REG_EXTENDED) == 0);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0) continue;
    char path[1400], line[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    files++;
    for (int no = 1; fgets(line, sizeof line, f); no++) {
      const char *code = line + strspn(line, " \t");
      if (code[0] == '*' || (code[0] == '/' && (code[1] == '*' || code[1] == '/'))) continue; /* comments */
      if (regexec(&re, line, 0, NULL, 0) == 0) {
        fprintf(stderr, "%s:%d starts a process: %s", path, no, line);
        CHECK(!"the doctor must not start processes");
      }
    }
    fclose(f);
  }
  closedir(d);
  regfree(&re);
  CHECK(files >= 5);
}

static void trap(const char *bin, const char *marks, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", bin, name);
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "#!/bin/sh\ntouch '%s/%s'\nexit 0\n", marks, name);
  fclose(f);
  chmod(path, 0755);
}

TEST(doctor_runs_nothing_it_finds) {
  const char *cli = getenv("CT_CLI");
  if (!cli || access(cli, X_OK) != 0) {
    printf("  skipped: CT_CLI not set\n");
    return;
  }
  char base[] = "/tmp/ct-doctor-noexec-XXXXXX";
  CHECK(mkdtemp(base) != NULL);
  char bin[300], marks[300], venv[300];
  snprintf(bin, sizeof bin, "%s/bin", base);
  snprintf(marks, sizeof marks, "%s/marks", base);
  snprintf(venv, sizeof venv, "%s/venv/bin", base);
  mkdir(bin, 0755);
  mkdir(marks, 0755);
  char cmd[4000];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s/venv/lib/python3.11/site-packages'", venv, base);
  CHECK(system(cmd) == 0);
  static const char *const names[] = {"python3", "python3.11", "python", "pip", "pip3", "nvidia-smi", "ldconfig",
                                      "lsmod", "modinfo", "mokutil", "uname", "lspci", "nvcc", "conda", "sh", "env"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) trap(bin, marks, names[i]);
  trap(venv, marks, "python3.11");
  snprintf(cmd, sizeof cmd, "printf 'home = /usr/bin\\n' > '%s/venv/pyvenv.cfg'", base);
  CHECK(system(cmd) == 0);
  /* PATH only for the doctor: the shell that starts it is found first */
  snprintf(cmd, sizeof cmd,
           "cd '%s' && cp '%s' ./libcuda.so.1 2>/dev/null; "
           "PATH='%s:/usr/bin:/bin' '%s' doctor --json --python '%s/python3.11' --env CT_CUDA_DRIVER_PATH=libcuda.so.1 "
           "> '%s/out.json' 2>'%s/err.txt'",
           base, cli, bin, cli, venv, base, base);
  int rc = system(cmd);
  CHECK(rc != -1);
  DIR *d = opendir(marks);
  struct dirent *e;
  int ran = 0;
  while (d && (e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') {
      fprintf(stderr, "the doctor ran %s\n", e->d_name);
      ran++;
    }
  if (d) closedir(d);
  CHECK_EQ_INT(ran, 0);
  /* it did inspect the interpreter it was given: read, not run */
  char out[1300];
  snprintf(out, sizeof out, "%s/out.json", base);
  FILE *f = fopen(out, "r");
  static char json[1 << 20];
  size_t n = f ? fread(json, 1, sizeof json - 1, f) : 0;
  if (f) fclose(f);
  json[n] = '\0';
  CHECK(n > 100 && strstr(json, "venv/lib/python3.11/site-packages") != NULL);
  /* the relative driver override was not taken */
  CHECK(strstr(json, "\"libcuda_found_via\": \"CT_CUDA_DRIVER_PATH\"") == NULL);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  CHECK(system(cmd) == 0);
}

int main(void) {
  RUN(doctor_sources_start_no_process);
  RUN(doctor_runs_nothing_it_finds);
  TEST_MAIN_END();
}
