/* The ctensor command line: devices, version, help, usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "testutil.h"

/* Runs `$CT_CLI args`, captures stdout+stderr into out, returns the exit code. */
static int run_cli(const char *args, char *out, size_t size) {
  const char *cli = getenv("CT_CLI");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", cli ? cli : "ctensor", args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, size - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char buf[1 << 16];

TEST(devices_text) {
  CHECK_EQ_INT(run_cli("devices", buf, sizeof buf), 0);
  CHECK(strstr(buf, "/physical_device:CPU:0") != NULL);
  CHECK(strstr(buf, "/job:localhost/replica:0/task:0/device:CPU:0") != NULL);
  CHECK(strstr(buf, "GPU:") != NULL); /* always a GPU line: usable, or why not */
  CHECK(strstr(buf, "GPU libraries:") != NULL);
  CHECK(strstr(buf, "  driver ") != NULL);
  CHECK(strstr(buf, "  nvrtc ") != NULL);
  CHECK(strstr(buf, "Load attempts:") == NULL);
  CHECK_EQ_INT(run_cli("devices --verbose", buf, sizeof buf), 0);
  CHECK(strstr(buf, "Load attempts:") != NULL);
  CHECK(strstr(buf, "libcuda.so.1") != NULL); /* the driver is always tried by its versioned name */
}

TEST(devices_json) {
  CHECK_EQ_INT(run_cli("devices --json", buf, sizeof buf), 0);
  CHECK(strstr(buf, "\"physical_devices\"") != NULL);
  CHECK(strstr(buf, "\"name\": \"/physical_device:CPU:0\"") != NULL);
  CHECK(strstr(buf, "\"name\": \"/job:localhost/replica:0/task:0/device:CPU:0\"") != NULL);
  CHECK(strstr(buf, "\"unusable_devices\"") != NULL);
  CHECK(strstr(buf, "\"cores\": ") != NULL);
  CHECK(strstr(buf, "\"memory_bytes\": ") != NULL);
  CHECK(strstr(buf, "\"features\": [") != NULL);
  CHECK(strstr(buf, "\"gpu\": {\"usable\": ") != NULL);
  CHECK(strstr(buf, "\"gpu_libraries\": [") != NULL);
  CHECK(strstr(buf, "{\"name\": \"driver\", \"found\": ") != NULL);
  CHECK(strstr(buf, "\"load_attempts\": [") != NULL);
}

TEST(version_and_help) {
  CHECK_EQ_INT(run_cli("version", buf, sizeof buf), 0);
  CHECK(strstr(buf, "ctensor " CT_VERSION_STRING) != NULL);
  CHECK(strstr(buf, "Features: ") != NULL);
  CHECK(strstr(buf, "Build: compiler: ") != NULL);
  CHECK(strstr(buf, "blas: OpenBLAS") != NULL);
  CHECK_EQ_INT(run_cli("--help", buf, sizeof buf), 0);
  CHECK(strstr(buf, "usage: ctensor") != NULL);
  CHECK_EQ_INT(run_cli("devices --help", buf, sizeof buf), 0);
  CHECK(strstr(buf, "usage: ctensor devices") != NULL);
  CHECK_EQ_INT(run_cli("version --help", buf, sizeof buf), 0);
  CHECK_EQ_INT(run_cli("doctor --help", buf, sizeof buf), 0);
}

TEST(usage_errors_exit_2) {
  CHECK_EQ_INT(run_cli("", buf, sizeof buf), 2);
  CHECK(strstr(buf, "missing command") != NULL);
  CHECK_EQ_INT(run_cli("frobnicate", buf, sizeof buf), 2);
  CHECK(strstr(buf, "unknown command 'frobnicate'") != NULL);
  CHECK_EQ_INT(run_cli("devices --yaml", buf, sizeof buf), 2);
  CHECK(strstr(buf, "unknown argument '--yaml'") != NULL);
  CHECK_EQ_INT(run_cli("version extra", buf, sizeof buf), 2);
  CHECK_EQ_INT(run_cli("doctor --no-such-option", buf, sizeof buf), 2);
}

int main(void) {
  RUN(devices_text);
  RUN(devices_json);
  RUN(version_and_help);
  RUN(usage_errors_exit_2);
  TEST_MAIN_END();
}
