# Installs the library into a scratch prefix and builds the README example and
# every examples/*.c against it through pkg-config, as a user would. Skipped in
# the sanitizer tree: an instrumented libctensor.so cannot be linked into an
# uninstrumented program.
if(NOT CT_SANITIZE)
  add_test(NAME install_and_examples
           COMMAND ${CMAKE_SOURCE_DIR}/tests/install/check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(install_and_examples PROPERTIES TIMEOUT 300)
endif()
