# The fake cuBLAS used by tests/test_cuda_matmul.c (see tests/fake_cuda/README.md):
# <build>/fake_cublas/libcublas.so.13 and libcublasLt.so.13, the names the
# loader (src/cuda/loader.c) looks for, from one source without CUDA headers.
foreach(variant fake_cublas fake_cublaslt)
  add_library(${variant} MODULE ${CMAKE_SOURCE_DIR}/tests/fake_cuda/fake_libcublas.c)
  target_compile_options(${variant} PRIVATE ${CT_WARN})
  target_link_libraries(${variant} PRIVATE Threads::Threads ${CMAKE_DL_LIBS} m)
endforeach()
set_target_properties(fake_cublas PROPERTIES
  PREFIX "" OUTPUT_NAME "libcublas" SUFFIX ".so.13"
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_cublas
  C_VISIBILITY_PRESET hidden)
target_link_options(fake_cublas PRIVATE -Wl,-soname,libcublas.so.13)
set_target_properties(fake_cublaslt PROPERTIES
  PREFIX "" OUTPUT_NAME "libcublasLt" SUFFIX ".so.13"
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_cublas
  C_VISIBILITY_PRESET hidden)
target_link_options(fake_cublaslt PRIVATE -Wl,-soname,libcublasLt.so.13)
target_compile_definitions(fake_cublaslt PRIVATE CT_FAKE_CUBLASLT)

if(TARGET test_cuda_matmul)
  add_dependencies(test_cuda_matmul fake_cuda fake_cublas fake_cublaslt)
  # exits 77 when the fakes were not built
  set_tests_properties(test_cuda_matmul PROPERTIES SKIP_RETURN_CODE 77)
endif()
