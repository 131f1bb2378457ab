# tests/test_gpu_fault.c: every driver, cuBLAS and NVRTC call of a set of
# scenarios failed in turn on the emulated GPU (docs/reliability.md, "GPU
# driver"). Kernels come from the build tree's kernel cache after the first
# run; one scenario compiles a small kernel cold.
if(TARGET test_gpu_fault)
  add_dependencies(test_gpu_fault fake_cuda fake_cublas fake_cublaslt fake_nvrtc)
  # exits 77 when the fake NVRTC was not built
  set_tests_properties(test_gpu_fault PROPERTIES SKIP_RETURN_CODE 77 LABELS "fault")
endif()
