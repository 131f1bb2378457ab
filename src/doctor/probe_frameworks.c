/*
 * Frameworks installed for each Python found: interpreters on PATH (pyenv
 * shims and virtual environments resolved), --python, conda environments
 * and, under --root, the standard site-packages directories of the tree.
 * Read from package metadata only (*.dist-info/METADATA, *.egg-info,
 * conda-meta/<name>-<version>-<build>.json file names): importing a
 * framework takes seconds and can crash, which is what is being diagnosed.
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"

/* pip names are case-insensitive and treat '_', '.', '-' alike (PEP 503). */
static void normalise(const char *in, char *out, size_t size) {
  size_t j = 0;
  for (size_t i = 0; in[i] && j + 1 < size; i++) {
    char c = in[i];
    out[j++] = (c == '_' || c == '.') ? '-' : (char)tolower((unsigned char)c);
  }
  out[j] = '\0';
}

static bool interesting(const char *name) {
  static const char *const exact[] = {"tensorflow", "tensorflow-gpu", "tensorflow-cpu", "tensorflow-intel",
                                      "tf-nightly", "tf-nightly-gpu", "tf-nightly-cpu", "torch",
                                      "jax",        "jaxlib",         "pytorch",        "pytorch-cuda",
                                      "tensorflow-base", "cudatoolkit", "cuda-cudart", "cuda-version",
                                      "cudnn",      "nccl",           "cuda-nvrtc",     "libcublas"};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (strcmp(name, exact[i]) == 0) return true;
  return strncmp(name, "nvidia-", 7) == 0 || strncmp(name, "jax-cuda", 8) == 0;
}

/* "3.11" from a path component "python3.11"; "" if none. */
static void version_from_path(const char *path, char *out, size_t size) {
  out[0] = '\0';
  const char *p = path;
  while ((p = strstr(p, "python3.")) != NULL) {
    p += 6;
    size_t n = 2;
    while (isdigit((unsigned char)p[n])) n++;
    if (n > 2 && n < size) {
      memcpy(out, p, n);
      out[n] = '\0';
    }
  }
}

static int add_site(ct_doctor_report *r, const char *python, const char *version, const char *dir, bool conda,
                    const char *conda_prefix) {
  char real[PATH_MAX];
  if (!ct_dr_is_dir(dir) || !realpath(dir, real)) return -1;
  for (int i = 0; i < r->n_sites; i++) {
    char other[PATH_MAX];
    if (realpath(r->sites[i].dir, other) && strcmp(other, real) == 0) return i;
  }
  if (r->n_sites >= CT_DR_MAX_SITES) return -1;
  ct_doctor_site *s = &r->sites[r->n_sites];
  memset(s, 0, sizeof *s);
  ct_dr_strlcpy(s->python, python, sizeof s->python);
  ct_dr_strlcpy(s->python_version, version, sizeof s->python_version);
  if (!s->python_version[0]) version_from_path(dir, s->python_version, sizeof s->python_version);
  ct_dr_strlcpy(s->dir, dir, sizeof s->dir);
  s->conda = conda;
  if (conda_prefix) ct_dr_strlcpy(s->conda_prefix, conda_prefix, sizeof s->conda_prefix);
  return r->n_sites++;
}

static ct_doctor_pkg *add_pkg(ct_doctor_report *r, int site, const char *name, const char *version,
                              const char *source) {
  if (r->n_pkgs >= CT_DR_MAX_PKGS) return NULL;
  ct_doctor_pkg *p = &r->pkgs[r->n_pkgs++];
  memset(p, 0, sizeof *p);
  p->site = site;
  p->torch_cuda_lib = -1;
  ct_dr_strlcpy(p->name, name, sizeof p->name);
  ct_dr_strlcpy(p->version, version, sizeof p->version);
  ct_dr_strlcpy(p->source, source, sizeof p->source);
  return p;
}

/* Reads "Name:", "Version:" and the nvidia runtime/cuDNN "Requires-Dist:"
 * lines of a METADATA / PKG-INFO file (headers end at the first blank line). */
void ct_dr_parse_metadata(FILE *f, char *name, size_t nsize, char *version, size_t vsize, char *cuda_dep,
                          char *cudnn_dep, size_t dsize) {
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '\n' || line[0] == '\r') break;
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "Name: ", 6) == 0) ct_dr_strlcpy(name, line + 6, nsize);
    else if (strncmp(line, "Version: ", 9) == 0) ct_dr_strlcpy(version, line + 9, vsize);
    else if (strncmp(line, "Requires-Dist: ", 15) == 0) {
      const char *dep = line + 15;
      /* Lower case and '_' -> '-' only: the pin's dots must survive. */
      char norm[128];
      size_t k = 0;
      for (; dep[k] && k + 1 < sizeof norm; k++) norm[k] = dep[k] == '_' ? '-' : (char)tolower((unsigned char)dep[k]);
      norm[k] = '\0';
      /* Drop environment markers (";") but keep the pin. */
      char *semi = strchr(norm, ';');
      if (semi) *semi = '\0';
      size_t n = strlen(norm);
      while (n && norm[n - 1] == ' ') norm[--n] = '\0';
      if (strncmp(norm, "nvidia-cuda-runtime-cu", 22) == 0 && !cuda_dep[0]) ct_dr_strlcpy(cuda_dep, norm, dsize);
      if (strncmp(norm, "nvidia-cudnn-cu", 15) == 0 && !cudnn_dep[0]) ct_dr_strlcpy(cudnn_dep, norm, dsize);
    }
  }
}

static void read_metadata(const char *file, char *name, size_t nsize, char *version, size_t vsize, char *cuda_dep,
                          char *cudnn_dep, size_t dsize) {
  FILE *f = fopen(file, "r");
  if (!f) return;
  ct_dr_parse_metadata(f, name, nsize, version, vsize, cuda_dep, cudnn_dep, dsize);
  fclose(f);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void scan_site(ct_doctor_report *r, int site) {
  if (r->sites[site].scanned) return;
  r->sites[site].scanned = true;
  const char *dir = r->sites[site].dir;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *ext = strrchr(e->d_name, '.');
    if (!ext || (strcmp(ext, ".dist-info") != 0 && strcmp(ext, ".egg-info") != 0)) continue;
    /* "{name}-{version}.dist-info": the name never holds '-' in wheels. */
    char stem[256];
    size_t n = (size_t)(ext - e->d_name);
    if (n >= sizeof stem) continue;
    memcpy(stem, e->d_name, n);
    stem[n] = '\0';
    char *dash = strchr(stem, '-');
    char raw_name[128], version[64] = "", norm[64];
    if (dash) {
      *dash = '\0';
      ct_dr_strlcpy(version, dash + 1, sizeof version);
      /* egg-info may add "-py3.8": keep the version only. */
      char *py = strstr(version, "-py");
      if (py) *py = '\0';
    }
    ct_dr_strlcpy(raw_name, stem, sizeof raw_name);
    normalise(raw_name, norm, sizeof norm);
    if (!interesting(norm)) continue;
    char meta[CT_DR_PATH + 300], mname[128] = "", mversion[64] = "", cuda_dep[64] = "", cudnn_dep[64] = "";
    bool dist = strcmp(ext, ".dist-info") == 0;
    snprintf(meta, sizeof meta, "%s/%s/%s", dir, e->d_name, dist ? "METADATA" : "PKG-INFO");
    if (!dist && !ct_dr_exists(meta)) snprintf(meta, sizeof meta, "%s/%s", dir, e->d_name); /* egg-info file */
    read_metadata(meta, mname, sizeof mname, mversion, sizeof mversion, cuda_dep, cudnn_dep, sizeof cuda_dep);
    if (mname[0]) normalise(mname, norm, sizeof norm);
    ct_doctor_pkg *p = add_pkg(r, site, norm, mversion[0] ? mversion : version, dist ? "dist-info" : "egg-info");
    if (!p) break;
    ct_dr_strlcpy(p->cuda_dep, cuda_dep, sizeof p->cuda_dep);
    ct_dr_strlcpy(p->cudnn_dep, cudnn_dep, sizeof p->cudnn_dep);
    p->distro = ends_with(dir, "/usr/lib/python3/dist-packages");
    if (strcmp(norm, "torch") == 0) {
      /* Builds without a version tag (distro packages, source builds) say
       * what they are by the libraries they ship. */
      char lib[CT_DR_PATH + 64];
      snprintf(lib, sizeof lib, "%s/torch/lib", dir);
      if (ct_dr_is_dir(lib)) {
        char f1[CT_DR_PATH + 96], f2[CT_DR_PATH + 96];
        snprintf(f1, sizeof f1, "%s/libtorch_cuda.so", lib);
        snprintf(f2, sizeof f2, "%s/libc10_cuda.so", lib);
        p->torch_cuda_lib = ct_dr_exists(f1) || ct_dr_exists(f2);
      }
    }
  }
  closedir(d);
  char nv[CT_DR_PATH + 16];
  snprintf(nv, sizeof nv, "%s/nvidia", dir);
  bool wheels = ct_dr_is_dir(nv);
  for (int i = 0; i < r->n_pkgs; i++)
    if (r->pkgs[i].site == site) r->pkgs[i].has_nvidia_wheels = wheels;
}

/* Adds the site-packages directories of the Python whose prefix is `prefix`
 * and whose version is `ver` ("3.11"). */
static void add_prefix_sites(ct_doctor_report *r, const char *python, const char *prefix, const char *ver) {
  char dir[CT_DR_PATH + 64];
  snprintf(dir, sizeof dir, "%s/lib/python%s/site-packages", prefix, ver);
  add_site(r, python, ver, dir, false, NULL);
  if (strcmp(prefix, "/usr") == 0) { /* Debian and Ubuntu */
    snprintf(dir, sizeof dir, "/usr/local/lib/python%s/dist-packages", ver);
    add_site(r, python, ver, dir, false, NULL);
    add_site(r, python, ver, "/usr/lib/python3/dist-packages", false, NULL);
  }
  const char *home = ct_dr_getenv(r, "HOME");
  if (home && *home) {
    snprintf(dir, sizeof dir, "%s/.local/lib/python%s/site-packages", home, ver);
    add_site(r, python, ver, dir, false, NULL);
  }
}

/* First "python3.N" directory under prefix/lib. */
static void version_from_prefix(const char *prefix, char *out, size_t size) {
  char lib[CT_DR_PATH + 8];
  snprintf(lib, sizeof lib, "%s/lib", prefix);
  out[0] = '\0';
  DIR *d = opendir(lib);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "python3.", 8) == 0 && isdigit((unsigned char)e->d_name[8])) {
      ct_dr_strlcpy(out, e->d_name + 6, size);
      break;
    }
  closedir(d);
}

static void add_python(ct_doctor_report *r, const char *given) {
  char path[CT_DR_PATH];
  ct_dr_strlcpy(path, given, sizeof path);
  /* pyenv shims are shell scripts: resolve to the selected version. */
  char head[256] = "";
  ct_dr_read_file(path, head, sizeof head);
  if (strncmp(head, "#!", 2) == 0 && strstr(head, "pyenv")) {
    char root[CT_DR_PATH];
    ct_dr_strlcpy(root, path, sizeof root);
    char *slash = strrchr(root, '/');
    if (slash) *slash = '\0';
    slash = strrchr(root, '/');
    if (slash) *slash = '\0';
    char version[64] = "";
    const char *v = ct_dr_getenv(r, "PYENV_VERSION");
    if (v && *v) ct_dr_strlcpy(version, v, sizeof version);
    else {
      char vf[CT_DR_PATH + 16];
      snprintf(vf, sizeof vf, "%s/version", root);
      ct_dr_read_file(vf, version, sizeof version);
      version[strcspn(version, "\n: ")] = '\0';
    }
    if (!version[0] || strcmp(version, "system") == 0) return; /* found on PATH anyway */
    const char *base = strrchr(given, '/');
    snprintf(path, sizeof path, "%s/versions/%s/bin/%s", root, version, base ? base + 1 : "python3");
    if (!ct_dr_exists(path)) snprintf(path, sizeof path, "%s/versions/%s/bin/python3", root, version);
    if (!ct_dr_exists(path)) return;
  }
  char real[PATH_MAX];
  if (!realpath(path, real)) return;
  char ver[16] = "";
  const char *base = strrchr(real, '/');
  if (base && strncmp(base + 1, "python3.", 8) == 0) ct_dr_strlcpy(ver, base + 7, sizeof ver);
  char prefix[CT_DR_PATH];
  ct_dr_strlcpy(prefix, real, sizeof prefix);
  for (int k = 0; k < 2; k++) {
    char *s = strrchr(prefix, '/');
    if (s) *s = '\0';
  }
  if (!ver[0]) version_from_prefix(prefix, ver, sizeof ver);
  /* A virtual environment: <venv>/bin/python -> base interpreter. */
  char venv[CT_DR_PATH];
  ct_dr_strlcpy(venv, path, sizeof venv);
  for (int k = 0; k < 2; k++) {
    char *s = strrchr(venv, '/');
    if (s) *s = '\0';
  }
  char cfg[CT_DR_PATH + 16], text[1024] = "";
  snprintf(cfg, sizeof cfg, "%s/pyvenv.cfg", venv);
  if (ver[0] && ct_dr_read_file(cfg, text, sizeof text)) {
    char dir[CT_DR_PATH + 64];
    snprintf(dir, sizeof dir, "%s/lib/python%s/site-packages", venv, ver);
    add_site(r, path, ver, dir, false, NULL);
    if (!strstr(text, "include-system-site-packages = true")) return;
  }
  if (ver[0]) add_prefix_sites(r, path, prefix, ver);
}

static void scan_path_pythons(ct_doctor_report *r) {
  const char *env = ct_dr_getenv(r, "PATH");
  if (!env) return;
  char copy[4096];
  ct_dr_strlcpy(copy, env, sizeof copy);
  char *save = NULL;
  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    DIR *d = opendir(dir);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      const char *n = e->d_name;
      if (strncmp(n, "python3", 7) != 0) continue;
      bool ok = n[7] == '\0';
      if (n[7] == '.' && isdigit((unsigned char)n[8])) {
        ok = true;
        for (const char *c = n + 8; *c; c++)
          if (!isdigit((unsigned char)*c)) ok = false;
      }
      if (!ok) continue;
      char full[CT_DR_PATH];
      snprintf(full, sizeof full, "%s/%s", dir, n);
      add_python(r, full);
    }
    closedir(d);
  }
}

/* conda-meta/<name>-<version>-<build>.json: the name may hold '-', the
 * version and build never do. */
bool ct_dr_conda_meta_name(const char *file, char *name, size_t nsize, char *version, size_t vsize, char *build,
                           size_t bsize) {
  size_t n = strlen(file);
  if (n < 6 || strcmp(file + n - 5, ".json") != 0) return false;
  char stem[256];
  if (n - 5 >= sizeof stem) return false;
  memcpy(stem, file, n - 5);
  stem[n - 5] = '\0';
  char *b = strrchr(stem, '-');
  if (!b) return false;
  *b = '\0';
  char *v = strrchr(stem, '-');
  if (!v) return false;
  *v = '\0';
  ct_dr_strlcpy(name, stem, nsize);
  ct_dr_strlcpy(version, v + 1, vsize);
  ct_dr_strlcpy(build, b + 1, bsize);
  return true;
}

static void scan_conda_env(ct_doctor_report *r, const char *prefix) {
  char meta[CT_DR_PATH + 16];
  snprintf(meta, sizeof meta, "%s/conda-meta", prefix);
  DIR *d = opendir(meta);
  if (!d) return;
  char ver[16] = "";
  version_from_prefix(prefix, ver, sizeof ver);
  char site_dir[CT_DR_PATH + 64];
  snprintf(site_dir, sizeof site_dir, "%s/lib/python%s/site-packages", prefix, ver);
  char label[CT_DR_PATH + 16];
  snprintf(label, sizeof label, "conda env %s", prefix);
  int site = add_site(r, label, ver, site_dir, true, prefix);
  if (site < 0) {
    /* No Python in it: still record its packages under the env itself. */
    site = add_site(r, label, "", prefix, true, prefix);
  }
  struct dirent *e;
  while (site >= 0 && (e = readdir(d)) != NULL) {
    char name[256], version[64], build[64];
    if (!ct_dr_conda_meta_name(e->d_name, name, sizeof name, version, sizeof version, build, sizeof build)) continue;
    char norm[64];
    normalise(name, norm, sizeof norm);
    if (!interesting(norm)) continue;
    ct_doctor_pkg *p = add_pkg(r, site, norm, version, "conda-meta");
    if (p) ct_dr_strlcpy(p->build, build, sizeof p->build);
  }
  closedir(d);
  if (site >= 0) scan_site(r, site);
}

static void scan_conda_base(ct_doctor_report *r, const char *base) {
  char meta[CT_DR_PATH + 16];
  snprintf(meta, sizeof meta, "%s/conda-meta", base);
  if (!ct_dr_is_dir(meta)) return;
  scan_conda_env(r, base);
  char envs[CT_DR_PATH + 16];
  snprintf(envs, sizeof envs, "%s/envs", base);
  DIR *d = opendir(envs);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char env[CT_DR_PATH + 300];
    snprintf(env, sizeof env, "%s/%s", envs, e->d_name);
    scan_conda_env(r, env);
  }
  closedir(d);
}

/* Under --root: every python3.N site-packages/dist-packages of the tree. */
static void scan_root_sites(ct_doctor_report *r) {
  static const char *const libs[] = {"/usr/lib", "/usr/local/lib"};
  for (size_t i = 0; i < 2; i++) {
    char lib[CT_DR_PATH];
    ct_dr_rooted(r, libs[i], lib, sizeof lib);
    DIR *d = opendir(lib);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strncmp(e->d_name, "python3", 7) != 0) continue;
      for (int k = 0; k < 2; k++) {
        char dir[CT_DR_PATH + 300], python[CT_DR_PATH + 300];
        snprintf(dir, sizeof dir, "%s/%s/%s", lib, e->d_name, k ? "dist-packages" : "site-packages");
        snprintf(python, sizeof python, "%s/bin/%s", strcmp(libs[i], "/usr/lib") == 0 ? "/usr" : "/usr/local",
                 strcmp(e->d_name, "python3") == 0 ? "python3" : e->d_name);
        char ver[16] = "";
        if (e->d_name[7] == '.') ct_dr_strlcpy(ver, e->d_name + 6, sizeof ver);
        add_site(r, python, ver, dir, false, NULL);
      }
    }
    closedir(d);
  }
}

void ct_doctor_probe_frameworks(ct_doctor_report *r) {
  for (int i = 0; i < r->opt.n_sites; i++) add_site(r, "--site-packages", "", r->opt.sites[i], false, NULL);
  for (int i = 0; i < r->opt.n_pythons; i++) add_python(r, r->opt.pythons[i]);
  if (r->opt.root[0]) scan_root_sites(r);
  else if (!r->opt.no_pythons) scan_path_pythons(r);

  int before = r->n_sites;
  char base[CT_DR_PATH];
  const char *cp = ct_dr_getenv(r, "CONDA_PREFIX");
  if (cp && *cp) {
    ct_dr_rooted(r, cp, base, sizeof base);
    scan_conda_env(r, base);
  }
  ct_dr_rooted(r, "/opt/conda", base, sizeof base);
  scan_conda_base(r, base);
  const char *home = ct_dr_getenv(r, "HOME");
  if (!r->opt.root[0] && home && *home) {
    static const char *const names[] = {"miniconda3", "anaconda3", "miniforge3", "mambaforge"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      snprintf(base, sizeof base, "%s/%s", home, names[i]);
      scan_conda_base(r, base);
    }
  }
  for (int i = 0; i < before; i++) scan_site(r, i);
}

const ct_doctor_pkg *ct_doctor_find_pkg(const ct_doctor_report *r, int site, const char *name) {
  for (int i = 0; i < r->n_pkgs; i++)
    if (r->pkgs[i].site == site && strcmp(r->pkgs[i].name, name) == 0) return &r->pkgs[i];
  return NULL;
}
