# bench/: ct_bench measures ctensor next to cblas_sgemm and plain C loops
# (bench/run.sh drives it together with the Python peers). It is built with
# everything else so that both compilers check it, but it is no test.
# It links the shared library, as an application would, and refers to every
# ctensor symbol weakly, so a missing op shows as "missing" in the table
# rather than breaking the build.
add_executable(ct_bench ${CMAKE_SOURCE_DIR}/bench/ct_bench.c)
set_target_properties(ct_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
target_compile_options(ct_bench PRIVATE ${CT_WARN} ${CT_SAN_FLAGS})
target_link_options(ct_bench PRIVATE ${CT_SAN_FLAGS})
target_link_libraries(ct_bench PRIVATE ctensor PkgConfig::OPENBLAS OpenMP::OpenMP_C m)
