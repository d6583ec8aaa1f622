# Integration test of who may call what: every route that `authd routes`
# lists, asked by six kinds of caller, against the statuses SPEC.md gives.
add_executable(test_integration_matrix test_matrix.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_matrix PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_matrix PRIVATE PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the test execs the server binary, so it must be built first
add_dependencies(test_integration_matrix authd)
add_test(NAME integration_matrix COMMAND test_integration_matrix)
set_tests_properties(integration_matrix PROPERTIES TIMEOUT 300 LABELS integration)
