# The fake NVRTC (tests/fake_cuda/fake_libnvrtc.c): <build>/fake_nvrtc/libnvrtc.so.13
# compiles kernel sources with the host's C++ compiler, so that the fake
# driver runs ctensor's own kernels and `gpu_check suite` checks every GPU op
# against the CPU in CI (test gpu_emulated). The library build itself still
# needs only a C compiler: without a C++ compiler the test is skipped.
#
# The C++ compiler must match the C compiler (an ASan build's kernels call
# into the sanitizer runtime of the test executable).
get_filename_component(_cc_dir ${CMAKE_C_COMPILER} DIRECTORY)
get_filename_component(_cc_name ${CMAKE_C_COMPILER} NAME)
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  string(REPLACE "clang" "clang++" _cxx_name ${_cc_name})
elseif(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  string(REPLACE "gcc" "g++" _cxx_name ${_cc_name})
  if(_cxx_name STREQUAL "cc")
    set(_cxx_name "c++")
  endif()
else()
  set(_cxx_name "c++")
endif()
find_program(CT_EMU_CXX NAMES ${_cxx_name} HINTS ${_cc_dir} NO_CACHE)

# g++ marks template statics STB_GNU_UNIQUE, which makes a library
# impossible to unload; the fake driver unloads a module's library.
set(_emu_flags "")
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(_emu_flags "-fno-gnu-unique")
endif()
if(CT_SANITIZE)
  # the C test programs carry the sanitizer runtimes without their C++
  # parts, which the function and vptr checks need
  string(APPEND _emu_flags " -fsanitize=address,undefined -fno-sanitize=function,vptr -fno-omit-frame-pointer -fno-sanitize-recover=undefined")
endif()

add_library(fake_nvrtc MODULE ${CMAKE_SOURCE_DIR}/tests/fake_cuda/fake_libnvrtc.c)
set_target_properties(fake_nvrtc PROPERTIES
  PREFIX "" OUTPUT_NAME "libnvrtc" SUFFIX ".so.13"
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_nvrtc
  C_VISIBILITY_PRESET hidden)
target_compile_options(fake_nvrtc PRIVATE ${CT_WARN})
# pthread and dlopen: the failure counts (fake_fail.h) and the fake driver's epoch
target_link_libraries(fake_nvrtc PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
target_compile_definitions(fake_nvrtc PRIVATE
  CT_EMU_CXX="${CT_EMU_CXX}"
  CT_EMU_HEADER="${CMAKE_SOURCE_DIR}/tests/fake_cuda/emu/ct_emu.h"
  CT_EMU_FLAGS="${_emu_flags}")
target_link_options(fake_nvrtc PRIVATE -Wl,-soname,libnvrtc.so.13)

if(CT_EMU_CXX)
  # Every GPU op against the CPU oracle, with the GPU emulated: the fake
  # driver, cuBLAS and NVRTC together. A fixed seed keeps CI reproducible;
  # its own kernel cache keeps host images apart from real NVRTC output.
  add_test(NAME gpu_emulated COMMAND $<TARGET_FILE:gpu_check> suite)
  # the longest test: start it first so that the others run beside it
  set_tests_properties(gpu_emulated PROPERTIES COST 10000)
  # Host-kernel libraries are written and loaded under TMPDIR: the build
  # tree's own, since /tmp may be mounted noexec.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/emu-tmp)
  set(_emu_env "TMPDIR=${CMAKE_BINARY_DIR}/emu-tmp;CT_CUDA_DRIVER_PATH=${CMAKE_BINARY_DIR}/fake_cuda/libcuda.so.1;CT_CUBLAS_PATH=${CMAKE_BINARY_DIR}/fake_cublas/libcublas.so.13;CT_CUBLASLT_PATH=${CMAKE_BINARY_DIR}/fake_cublas/libcublasLt.so.13;CT_NVRTC_PATH=${CMAKE_BINARY_DIR}/fake_nvrtc/libnvrtc.so.13;CT_KERNEL_CACHE_DIR=${CMAKE_BINARY_DIR}/emu-kernel-cache;CT_FAKE_CUDA_MEMORY_MB=4096;CT_FAKE_CUDA_SMS=2;GPU_CHECK_SEED=20261126;GPU_CHECK_SMALL=1")
  set_tests_properties(gpu_emulated PROPERTIES ENVIRONMENT "${_emu_env}")
  # the GPU check's time-to-first-result program, as bench/gpu/run.sh runs it
  add_test(NAME gpu_emulated_first COMMAND $<TARGET_FILE:gpu_check> first)
  set_tests_properties(gpu_emulated_first PROPERTIES ENVIRONMENT "${_emu_env}")
  # bench/gpu/run.sh itself, end to end in its smoke mode, so that the one
  # short run a lent GPU machine allows is not spent on a script bug (the
  # main tree only: the sanitizer tree's programs need their runtime's
  # options, which the script does not pass on)
  find_program(CT_BASH bash)
  if(CT_BASH AND NOT CT_SANITIZE)
    add_test(NAME gpu_run_script
             COMMAND ${CT_BASH} -c "bench/gpu/run.sh > \"$0/gpu-run-script.log\" 2>&1; rc=$?; cat \"$0/gpu-run-script.log\"; [ $rc -eq 0 ] && grep -q 'op suite against the CPU: passed' \"$0/gpu-run-script.log\"" ${CMAKE_BINARY_DIR}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(gpu_run_script PROPERTIES
      ENVIRONMENT "${_emu_env};CT_BUILD=${CMAKE_BINARY_DIR};CT_GPU_RESULTS=;CT_GPU_SMOKE=1"
      TIMEOUT 600)
  endif()
else()
  message(STATUS "ctensor: no C++ compiler matching ${CMAKE_C_COMPILER}: test gpu_emulated is not registered")
endif()
