# tests/test_placement_gpu.c runs placement against the fake CUDA driver
# (cmake/parts/cuda.cmake); it exits 77, counted as skipped, without it.
if(TARGET test_placement_gpu)
  set_tests_properties(test_placement_gpu PROPERTIES SKIP_RETURN_CODE 77)
  if(TARGET fake_cuda)
    add_dependencies(test_placement_gpu fake_cuda)
  endif()
  # the NO_NVRTC / NO_CUBLAS cases use the fake cuBLAS and NVRTC when built
  foreach(fake fake_cublas fake_cublaslt fake_nvrtc)
    if(TARGET ${fake})
      add_dependencies(test_placement_gpu ${fake})
    endif()
  endforeach()
endif()
