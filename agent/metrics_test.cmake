# Unit test for agent/metrics.c; include()d from the build. The test reads the
# recorded trees under tests/unit/fixtures and exits 77 when it cannot run.
add_executable(test_metrics ${CMAKE_SOURCE_DIR}/tests/unit/test_metrics.c
                            ${CMAKE_SOURCE_DIR}/agent/metrics.c)
target_include_directories(test_metrics PRIVATE ${CMAKE_SOURCE_DIR}/agent
                                                ${CMAKE_SOURCE_DIR}/tests/unit)
add_test(NAME metrics COMMAND test_metrics ${CMAKE_SOURCE_DIR}/tests/unit/fixtures)
set_tests_properties(metrics PROPERTIES SKIP_RETURN_CODE 77)
