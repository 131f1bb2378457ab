# libFuzzer harnesses (tests/fuzz/fuzz_*.c, docs/reliability.md "Fuzzing").
#
# Built only by clang with libFuzzer's runtime (Debian: clang plus
# libclang-rt-14-dev); elsewhere this part says so and adds nothing. In the
# sanitizer tree every harness is a CTest test that replays its seed corpus
# (tests/fuzz/corpus/<target>/, the crashes found so far among them) and
# then runs a short fixed-seed mutation pass: a regression check of a few
# seconds. `make fuzz` builds a tree with CT_FUZZ=ON, where the library
# itself carries coverage instrumentation, and fuzzes each target for
# FUZZ_SECONDS (tools/fuzz.sh).
option(CT_FUZZ "Instrument the library for coverage-guided fuzzing (clang, libFuzzer)" OFF)

if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  if(CT_FUZZ)
    message(FATAL_ERROR "CT_FUZZ needs clang (CC=clang)")
  endif()
  return()
endif()

include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
check_c_source_compiles("
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }" CT_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT CT_HAVE_LIBFUZZER)
  if(CT_FUZZ)
    message(FATAL_ERROR "CT_FUZZ: clang cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)")
  endif()
  message(STATUS "fuzz: no libFuzzer runtime (Debian: libclang-rt-14-dev): the fuzz targets are skipped")
  return()
endif()

set(_fuzz_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
if(CT_FUZZ)
  # coverage of the library itself, not only of the harnesses
  target_compile_options(ctensor_objects PRIVATE -fsanitize=fuzzer-no-link ${_fuzz_san})
endif()

# The Python harness embeds an interpreter; without its headers and library
# it is left out.
find_package(Python3 COMPONENTS Development.Embed)

set(CT_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
# Mutations per target in the CI test, after the replay (tests/fuzz/replay.sh).
set(CT_FUZZ_CI_RUNS 20000 CACHE STRING "libFuzzer runs per target in the CTest regression check")
file(GLOB CT_FUZZ_SOURCES CONFIGURE_DEPENDS ${CT_FUZZ_DIR}/fuzz_*.c)
set(CT_FUZZ_TARGETS)
foreach(src ${CT_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  set(_extra_env "")
  if(name STREQUAL "fuzz_python_convert")
    if(NOT Python3_Development.Embed_FOUND)
      message(STATUS "fuzz: no Python 3 embedding library (Debian: python3-dev): fuzz_python_convert is skipped")
      continue()
    endif()
  endif()
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include ${CT_FUZZ_DIR})
  target_compile_options(${name} PRIVATE ${CT_WARN} -fsanitize=fuzzer ${_fuzz_san} -g)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer ${_fuzz_san})
  target_link_libraries(${name} PRIVATE ctensor_static)
  if(name STREQUAL "fuzz_python_convert")
    target_compile_definitions(${name} PRIVATE CT_PY_SOURCE_DIR="${CMAKE_SOURCE_DIR}/python")
    target_link_libraries(${name} PRIVATE Python3::Python)
    # the interpreter keeps its start-up allocations for the process
    set(_extra_env "ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1;PYTHONDONTWRITEBYTECODE=1")
  endif()
  list(APPEND CT_FUZZ_TARGETS ${name})
  string(REGEX REPLACE "^fuzz_" "" target ${name})
  set(_corpus ${CT_FUZZ_DIR}/corpus/${target})
  if(CT_SANITIZE AND NOT CT_FUZZ AND IS_DIRECTORY ${_corpus})
    set(_dict "")
    if(EXISTS ${CT_FUZZ_DIR}/dict/${target}.dict)
      set(_dict ${CT_FUZZ_DIR}/dict/${target}.dict)
    endif()
    add_test(NAME fuzz_${target}
             COMMAND sh ${CT_FUZZ_DIR}/replay.sh $<TARGET_FILE:${name}> ${_corpus}
                     ${CMAKE_BINARY_DIR}/fuzz-ci/${target} ${CT_FUZZ_CI_RUNS} ${_dict})
    set_tests_properties(fuzz_${target} PROPERTIES TIMEOUT 120 LABELS fuzz)
    if(_extra_env)
      set_tests_properties(fuzz_${target} PROPERTIES ENVIRONMENT "${_extra_env}")
    endif()
  endif()
endforeach()
add_custom_target(fuzz_all DEPENDS ${CT_FUZZ_TARGETS})
