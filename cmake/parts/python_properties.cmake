# Property tests against NumPy (issue 14): python/tests/properties/
# test_properties.py draws shapes, dtypes, axes and values with Hypothesis
# and compares every op of the Python module with a NumPy reference.
#
# A test of its own, not part of python_module: it has its own timeout, and
# `ctest -j2` runs it beside the other Python tests. (The folder has no
# __init__.py, so python_module's `unittest discover` does not descend
# into it.) 200 examples per op; CT_HYPOTHESIS_EXAMPLES in the environment
# raises that for long runs. Failing examples are kept in
# ${CMAKE_BINARY_DIR}/hypothesis-db and replayed first by the next run.
# Without NumPy or Hypothesis for either interpreter (Debian python3-numpy,
# python3-hypothesis) the test is reported as skipped, saying which.

if(NOT TARGET _ctensor)
  return()  # python.cmake found no interpreter or headers
endif()

# run.sh picks Debian's python3 of the same version when the interpreter
# CMake found (a pyenv or venv Python, say) lacks NumPy or Hypothesis.
add_test(NAME python_properties
         COMMAND sh ${CMAKE_SOURCE_DIR}/python/tests/properties/run.sh ${Python3_EXECUTABLE}
                 -m unittest discover -s ${CMAKE_SOURCE_DIR}/python/tests/properties
                 -t ${CMAKE_SOURCE_DIR}/python/tests/properties)
set_tests_properties(python_properties PROPERTIES
  ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;CT_BINARY_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1"
  SKIP_REGULAR_EXPRESSION "property tests against NumPy skipped"
  TIMEOUT 600)
