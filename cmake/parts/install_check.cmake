# Installs the library into a scratch prefix and builds the README example and
# every examples/*.c against it through pkg-config, as a user would. Skipped in
# the sanitizer tree: an instrumented libctensor.so cannot be linked into an
# uninstrumented program.
if(NOT CT_SANITIZE)
  add_test(NAME install_and_examples
           COMMAND ${CMAKE_SOURCE_DIR}/tests/install/check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  # CT_EMU_AVAILABLE: rerun the seed examples on the emulated GPU too
  if(CT_EMU_CXX)
    set(_emu 1)
  else()
    set(_emu 0)
  endif()
  set_tests_properties(install_and_examples PROPERTIES TIMEOUT 300 ENVIRONMENT "CT_EMU_AVAILABLE=${_emu}")
endif()
