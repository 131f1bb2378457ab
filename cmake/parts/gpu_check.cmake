# bench/gpu/gpu_check: the GPU check of bench/gpu/run.sh (every GPU op
# against the CPU oracle, matmul and bandwidth timings). Built with the
# rest so that a carried build directory holds it ready to run on a GPU
# machine without a compiler; `gpu_check dry-run` checks it on any machine.
add_executable(gpu_check ${CMAKE_SOURCE_DIR}/bench/gpu/gpu_check.c)
set_target_properties(gpu_check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
target_compile_options(gpu_check PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(gpu_check PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(gpu_check PRIVATE ctensor_static m)
# test gpu_emulated (fake_nvrtc.cmake) runs it against the fake GPU stack
if(TARGET fake_nvrtc)
  add_dependencies(gpu_check fake_cuda fake_cublas fake_cublaslt fake_nvrtc)
endif()

# bench/gpu/gpu_robust: the GPU backend's robustness checks of issue 16
# (one bad GPU, the allocator under a limit, kernel-cache eviction),
# run by bench/gpu/run.sh after the suite.
add_executable(gpu_robust ${CMAKE_SOURCE_DIR}/bench/gpu/gpu_robust.c)
set_target_properties(gpu_robust PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
target_compile_options(gpu_robust PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(gpu_robust PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(gpu_robust PRIVATE ctensor_static m)
if(TARGET fake_nvrtc)
  add_dependencies(gpu_robust fake_cuda fake_cublas fake_cublaslt fake_nvrtc)
endif()
