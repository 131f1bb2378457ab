# tests/test_autodiff_gpu.c differentiates through the fake CUDA driver and
# the fake cuBLAS (defined by cmake/parts/cuda.cmake, which sorts before
# this file); it exits 77, counted as skipped, without them.
if(TARGET test_autodiff_gpu)
  set_tests_properties(test_autodiff_gpu PROPERTIES SKIP_RETURN_CODE 77)
  foreach(fake fake_cuda fake_cublas fake_cublaslt)
    if(TARGET ${fake})
      add_dependencies(test_autodiff_gpu ${fake})
    endif()
  endforeach()
endif()
