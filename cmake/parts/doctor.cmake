# The doctor's driver-reason tests load the fake libcuda.so.1 built by
# cmake/parts/cuda.cmake (included before this file: parts are sorted).
if(TARGET test_doctor_driver AND TARGET fake_cuda)
  add_dependencies(test_doctor_driver fake_cuda)
endif()
