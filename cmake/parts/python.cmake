# The Python module: python/ctensor_module.c becomes the C extension
# `_ctensor`, placed with the package's .py files in
# ${CMAKE_BINARY_DIR}/python/ctensor, so that
#   PYTHONPATH=${CMAKE_BINARY_DIR}/python python3 -c 'import ctensor as tf'
# works straight from the build tree. The C build never depends on Python:
# without an interpreter and its headers this part only says so.

if(CT_SANITIZE)
  # An ASan-instrumented extension cannot be loaded into an uninstrumented
  # interpreter (the runtime must come first in the process).
  message(STATUS "python: skipped in the sanitizer tree")
  return()
endif()

find_package(Python3 COMPONENTS Interpreter Development.Module)
if(NOT Python3_Interpreter_FOUND OR NOT Python3_Development.Module_FOUND)
  message(STATUS "python: Python 3 interpreter or headers not found (Debian: python3-dev); the module is not built")
  return()
endif()

set(CT_PY_DIR ${CMAKE_BINARY_DIR}/python/ctensor)

Python3_add_library(_ctensor MODULE WITH_SOABI ${CMAKE_SOURCE_DIR}/python/ctensor_module.c)
target_compile_options(_ctensor PRIVATE ${CT_WARN})
target_link_libraries(_ctensor PRIVATE ctensor_static)
set_target_properties(_ctensor PROPERTIES
  LIBRARY_OUTPUT_DIRECTORY ${CT_PY_DIR}
  C_VISIBILITY_PRESET hidden)

# configure_file makes each .py a dependency of the build system, so an edit
# is copied again by the next build.
# Subpackages (ctensor/keras/) keep their folder.
file(GLOB_RECURSE CT_PY_SOURCES CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/python/ctensor
     ${CMAKE_SOURCE_DIR}/python/ctensor/*.py)
foreach(py ${CT_PY_SOURCES})
  configure_file(${CMAKE_SOURCE_DIR}/python/ctensor/${py} ${CT_PY_DIR}/${py} COPYONLY)
endforeach()

# The unit tests, plus python/tests/test_examples.py, which runs the seed
# article's three examples and checks what they print.
add_test(NAME python_module
         COMMAND ${Python3_EXECUTABLE} -m unittest discover -s ${CMAKE_SOURCE_DIR}/python/tests -t ${CMAKE_SOURCE_DIR}/python/tests)
# CT_EMU_AVAILABLE: the fake NVRTC has a C++ compiler (fake_nvrtc.cmake), so
# python/tests/test_emulated_gpu.py can run ops on the emulated GPU.
if(CT_EMU_CXX)
  set(_emu_available 1)
else()
  set(_emu_available 0)
endif()
set_tests_properties(python_module PROPERTIES
  ENVIRONMENT "CT_EMU_AVAILABLE=${_emu_available};CT_KERNEL_CACHE_DIR=${CMAKE_BINARY_DIR}/test-kernel-cache;PYTHONPATH=${CMAKE_BINARY_DIR}/python;CT_SOURCE_DIR=${CMAKE_SOURCE_DIR};CT_BINARY_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1"
  TIMEOUT 300)
