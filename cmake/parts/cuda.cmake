# The fake CUDA driver used by tests/test_cuda_*.c (see tests/fake_cuda/README.md).
# Two builds of one source: a complete driver, and one that lacks some entry
# points. Neither needs CUDA headers or libraries.
foreach(variant fake_cuda fake_cuda_nosym)
  add_library(${variant} MODULE ${CMAKE_SOURCE_DIR}/tests/fake_cuda/fake_libcuda.c)
  set_target_properties(${variant} PROPERTIES
    PREFIX "" OUTPUT_NAME "libcuda" SUFFIX ".so.1"
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/${variant}
    C_VISIBILITY_PRESET hidden)
  target_compile_options(${variant} PRIVATE ${CT_WARN})
  target_link_libraries(${variant} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
endforeach()
target_compile_definitions(fake_cuda_nosym PRIVATE CT_FAKE_OMIT_SYMBOLS)

file(GLOB CT_CUDA_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_cuda_*.c)
foreach(src ${CT_CUDA_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(TARGET ${name})
    add_dependencies(${name} fake_cuda fake_cuda_nosym)
  endif()
endforeach()

# tests/test_cuda_launch.c needs NVRTC to produce the PTX it inspects.
if(TARGET test_cuda_launch)
  set_tests_properties(test_cuda_launch PROPERTIES SKIP_RETURN_CODE 77)
endif()
