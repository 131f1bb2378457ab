# Process groups and collectives (src/dist, docs/distributed.md).
#
# The core never links an MPI: MPI implementations differ in ABI, so the one
# file that includes <mpi.h> becomes a plugin, libctensor_mpi.so, built here
# against the MPI CMake finds and loaded by the core at run time from next
# to the library (or $CT_MPI_PLUGIN). Without an MPI the plugin and its tests
# are left out and say so; everything else builds and passes as before.

find_package(MPI COMPONENTS C QUIET)
if(NOT MPI_C_FOUND)
  message(STATUS "dist: no MPI found (Debian: libopenmpi-dev openmpi-bin); libctensor_mpi.so and the collective tests are skipped")
  add_test(NAME dist_collectives
           COMMAND sh -c "echo 'dist: skipped: this tree was configured without an MPI (apt-get install libopenmpi-dev openmpi-bin, then reconfigure)'; exit 77")
  set_tests_properties(dist_collectives PROPERTIES SKIP_RETURN_CODE 77)
  return()
endif()
message(STATUS "dist: MPI ${MPI_C_VERSION} (${MPIEXEC_EXECUTABLE}): building libctensor_mpi.so")

add_library(ctensor_mpi MODULE ${CMAKE_SOURCE_DIR}/src/dist/mpi_plugin.c)
target_include_directories(ctensor_mpi PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
target_compile_options(ctensor_mpi PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(ctensor_mpi PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(ctensor_mpi PRIVATE MPI::MPI_C)
set_target_properties(ctensor_mpi PROPERTIES
  OUTPUT_NAME ctensor_mpi
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
  C_VISIBILITY_PRESET hidden)
# The Python extension looks next to itself, like libctensor.so does.
add_custom_command(TARGET ctensor_mpi POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/python/ctensor
  COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:ctensor_mpi> ${CMAKE_BINARY_DIR}/python/ctensor/)
install(TARGETS ctensor_mpi LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Launcher settings as environment variables rather than flags, so that the
# same command runs under MPICH's mpiexec, which ignores them: Open MPI's
# --oversubscribe (3 ranks on a 2-core CI machine) and --allow-run-as-root
# (CI containers run as root).
set(CT_MPI_ENV
  "OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_btl_vader_single_copy_mechanism=none;CT_KERNEL_CACHE_DIR=${CMAKE_BINARY_DIR}/test-kernel-cache")
if(CT_SANITIZE)
  # Open MPI's own allocations are never freed (it keeps them to the end
  # by design); LeakSanitizer would report them as ours.
  list(APPEND CT_MPI_ENV "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1")
endif()

add_executable(dist_collectives ${CMAKE_SOURCE_DIR}/tests/dist/collectives.c)
target_include_directories(dist_collectives PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_compile_options(dist_collectives PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(dist_collectives PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(dist_collectives PRIVATE ctensor_static)
add_dependencies(dist_collectives ctensor_mpi)
add_test(NAME dist_collectives
         COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 ${MPIEXEC_PREFLAGS}
                 $<TARGET_FILE:dist_collectives> ${MPIEXEC_POSTFLAGS})
# The suite's own timeouts (2 s per stuck collective) end it long before
# this; CTest's is the backstop against a launcher that hangs.
set_tests_properties(dist_collectives PROPERTIES ENVIRONMENT "${CT_MPI_ENV}" TIMEOUT 90)

# The same suite with each of the all-reduce's point-to-point algorithms
# forced (src/dist/allreduce.c), so that both run whatever the cost model
# picks for the sizes above.
foreach(_algo recursive_doubling rabenseifner)
  add_test(NAME dist_collectives_${_algo}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:dist_collectives> ${MPIEXEC_POSTFLAGS})
  set_tests_properties(dist_collectives_${_algo} PROPERTIES
    ENVIRONMENT "${CT_MPI_ENV};CT_COLLECTIVE_ALGORITHM=${_algo}" TIMEOUT 90)
endforeach()

# MPI finalised by the program (or mpi4py's exit handler) before the group
# is freed: the group's posted receive must not be cancelled through a
# finalised MPI.
add_executable(dist_finalize_first ${CMAKE_SOURCE_DIR}/tests/dist/finalize_first.c)
target_include_directories(dist_finalize_first PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_options(dist_finalize_first PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(dist_finalize_first PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(dist_finalize_first PRIVATE ctensor_static MPI::MPI_C)
add_dependencies(dist_finalize_first ctensor_mpi)
add_test(NAME dist_finalize_first
         COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
                 $<TARGET_FILE:dist_finalize_first> ${MPIEXEC_POSTFLAGS})
set_tests_properties(dist_finalize_first PROPERTIES ENVIRONMENT "${CT_MPI_ENV}" TIMEOUT 60)

# A process that dies mid-job (rank 2 exits without MPI_Finalize): the others
# must fail with UNAVAILABLE within a fraction of the timeout.
add_test(NAME dist_rank_death
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/dist/rank_death.sh ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG}
                 $<TARGET_FILE:dist_collectives>)
set_tests_properties(dist_rank_death PROPERTIES ENVIRONMENT "${CT_MPI_ENV}" TIMEOUT 60)

# GPU tensors on the fake GPU: through the fake NCCL (tests/fake_cuda/
# fake_libnccl.c, which moves the bytes with MPI) on 3 processes, and staged
# through the host without NCCL on 2 (counted, logged, refused when strict).
if(TARGET fake_cuda)
  add_library(fake_nccl MODULE ${CMAKE_SOURCE_DIR}/tests/fake_cuda/fake_libnccl.c)
  set_target_properties(fake_nccl PROPERTIES
    PREFIX "" OUTPUT_NAME "libnccl" SUFFIX ".so.2"
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fake_nccl
    C_VISIBILITY_PRESET hidden)
  target_compile_options(fake_nccl PRIVATE ${CT_WARN})
  target_link_options(fake_nccl PRIVATE -Wl,-soname,libnccl.so.2)
  target_link_libraries(fake_nccl PRIVATE MPI::MPI_C ${CMAKE_DL_LIBS})

  add_executable(dist_nccl ${CMAKE_SOURCE_DIR}/tests/dist/nccl.c)
  target_include_directories(dist_nccl PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_compile_options(dist_nccl PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
  target_link_options(dist_nccl PRIVATE ${CT_SAN_FLAGS})
  target_link_libraries(dist_nccl PRIVATE ctensor_static ${CMAKE_DL_LIBS} m)
  add_dependencies(dist_nccl ctensor_mpi fake_cuda fake_nccl)
  # CT_NVRTC_PATH and CT_CUBLAS_PATH name no file: a toolkit's real NVRTC
  # must not compile kernels for the fake GPU (the test uses copies only).
  set(_nccl_env "${CT_MPI_ENV};CT_CUDA_DRIVER_PATH=${CMAKE_BINARY_DIR}/fake_cuda/libcuda.so.1;CT_NVRTC_PATH=/nonexistent/libnvrtc.so.13;CT_CUBLAS_PATH=/nonexistent/libcublas.so.13")
  add_test(NAME dist_nccl
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:dist_nccl> nccl ${MPIEXEC_POSTFLAGS})
  set_tests_properties(dist_nccl PROPERTIES TIMEOUT 90
    ENVIRONMENT "${_nccl_env};CT_NCCL_PATH=${CMAKE_BINARY_DIR}/fake_nccl/libnccl.so.2")
  add_test(NAME dist_nccl_staged
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:dist_nccl> staged ${MPIEXEC_POSTFLAGS})
  set_tests_properties(dist_nccl_staged PROPERTIES TIMEOUT 90
    ENVIRONMENT "${_nccl_env};CT_NCCL_PATH=/nonexistent/libnccl.so.2")
endif()

# bench/gpu/gpu_dist: the collectives step of bench/gpu/run.sh (one process
# on one GPU: NCCL, then the host-staging fallback), built with the rest so
# that a carried build holds it; checked here on the emulated GPU.
add_executable(gpu_dist ${CMAKE_SOURCE_DIR}/bench/gpu/gpu_dist.c)
set_target_properties(gpu_dist PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
target_compile_options(gpu_dist PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(gpu_dist PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(gpu_dist PRIVATE ctensor_static m)
add_dependencies(gpu_dist ctensor_mpi)
if(TARGET fake_nccl)
  add_dependencies(gpu_dist fake_cuda fake_nccl)
  foreach(mode nccl staged)
    add_test(NAME gpu_dist_emulated_${mode}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 1 ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:gpu_dist> ${mode} ${MPIEXEC_POSTFLAGS})
  endforeach()
  # bench/ is not where the plugin is: say where, as run.sh does
  set(_gpu_dist_env "${_nccl_env};CT_MPI_PLUGIN=$<TARGET_FILE:ctensor_mpi>")
  set_tests_properties(gpu_dist_emulated_nccl PROPERTIES TIMEOUT 60 ENVIRONMENT
    "${_gpu_dist_env};GPU_CHECK_SMALL=1;CT_NCCL_PATH=${CMAKE_BINARY_DIR}/fake_nccl/libnccl.so.2")
  set_tests_properties(gpu_dist_emulated_staged PROPERTIES TIMEOUT 60 ENVIRONMENT
    "${_gpu_dist_env};CT_NCCL_PATH=/nonexistent/libnccl.so.2")
endif()

# ctensor.distribute: data-parallel training on 2 processes must end with the
# weights of one process on the whole batches (python/tests/dist/).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND AND NOT CT_SANITIZE)
  add_test(NAME dist_python
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS} ${Python3_EXECUTABLE}
                   ${CMAKE_SOURCE_DIR}/python/tests/dist/train_data_parallel.py ${MPIEXEC_POSTFLAGS})
  set_tests_properties(dist_python PROPERTIES
    ENVIRONMENT "${CT_MPI_ENV};PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1" TIMEOUT 120)
endif()

# bench/dist_allreduce.c: ctensor's all_reduce against raw MPI_Allreduce
# (docs/PERFORMANCE.md); run by hand: mpirun -np 2 <build>/bench_dist_allreduce
add_executable(bench_dist_allreduce EXCLUDE_FROM_ALL ${CMAKE_SOURCE_DIR}/bench/dist_allreduce.c)
target_compile_options(bench_dist_allreduce PRIVATE ${CT_WARN})
target_link_libraries(bench_dist_allreduce PRIVATE ctensor_static MPI::MPI_C)
add_dependencies(bench_dist_allreduce ctensor_mpi)
