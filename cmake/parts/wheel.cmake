# The wheel (pyproject.toml, scikit-build-core; docs/packaging.md).
#
# Under scikit-build-core (SKBUILD) the extension and the command line are
# installed, as component `python`, into the package folder `ctensor/` of the
# wheel; the .py files come from python/ctensor through the backend. The
# command line goes in as ctensor/ctensor-cli, next to _ctensor*.so, so that
# the CUDA loader's "pip" stage (<libdir>/../nvidia/*/lib) finds NVIDIA's
# wheels from either binary; the `ctensor` console script execs it.
#
# Outside SKBUILD this part only adds the test that builds the wheel and
# installs it into a fresh virtual environment (tests/wheel/check.sh).

if(SKBUILD)
  if(NOT TARGET _ctensor)
    message(FATAL_ERROR "wheel: the Python extension is not configured (see the python: message above)")
  endif()
  install(TARGETS _ctensor LIBRARY DESTINATION ctensor COMPONENT python)
  install(PROGRAMS $<TARGET_FILE:ctensor_cli> DESTINATION ctensor RENAME ctensor-cli COMPONENT python)
  return()
endif()

if(CT_SANITIZE OR NOT TARGET _ctensor)
  return()
endif()

# Builds the wheel with pip (no build isolation, against scikit-build-core
# installed once into ${CMAKE_BINARY_DIR}/wheel/tools), installs it into a
# fresh venv under $TMPDIR and runs the seed examples, `ctensor doctor --json`,
# `ctensor devices` and `python -m ctensor version` there with no PYTHONPATH.
# The wheel's CMake tree is kept in ${CMAKE_BINARY_DIR}/wheel/build, so a
# rerun only rebuilds what changed. Exit 77 (skipped) when PyPI cannot be
# reached to install the build tools the first time.
add_test(NAME python_wheel
         COMMAND ${CMAKE_SOURCE_DIR}/tests/wheel/check.sh ${CMAKE_BINARY_DIR}/wheel ${CMAKE_SOURCE_DIR} ${Python3_EXECUTABLE})
set_tests_properties(python_wheel PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
