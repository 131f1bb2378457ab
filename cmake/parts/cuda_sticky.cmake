# tests/test_cuda_sticky.c: errors that destroy a GPU's CUDA context (issue
# 16 item 8); matmul through the fake cuBLAS shows where ops go afterwards.
if(TARGET test_cuda_sticky)
  add_dependencies(test_cuda_sticky fake_cuda fake_cublas fake_cublaslt)
  # exits 77 when the fakes were not built
  set_tests_properties(test_cuda_sticky PROPERTIES SKIP_RETURN_CODE 77)
endif()
