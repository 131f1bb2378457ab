# The optimizer kernels' Adam loop calls sqrtf/sqrt; without errno to set,
# GCC and clang turn it into vector square roots (values are unchanged).
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/cpu/kernels_optim.c
  PROPERTIES COMPILE_OPTIONS "-fno-math-errno")
