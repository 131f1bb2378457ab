# Host-memory fault injection (tests/test_fault.c, tests/fault_inject.c).
# The hook is the linker's --wrap on the allocation functions of this one
# test program: the library objects are the same ones every other target
# links, so the shipped libraries never contain it.
if(TARGET test_fault)
  target_sources(test_fault PRIVATE ${CMAKE_SOURCE_DIR}/tests/fault_inject.c)
  target_link_options(test_fault PRIVATE
    "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc"
    "LINKER:--wrap=posix_memalign,--wrap=strdup,--wrap=strndup")
  set_tests_properties(test_fault PROPERTIES LABELS "fault")
endif()

# tests/test_misuse.c runs its memory-limit and configuration cases on the
# fake GPU.
if(TARGET test_misuse)
  add_dependencies(test_misuse fake_cuda)
endif()
