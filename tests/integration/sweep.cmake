# The bad-input sweep against the real authd binary: malformed requests of
# every kind, no 5xx, no crash, /_ping answering, JSON errors (SPEC §2).
# The long run is bench/'s bench_sweep, built from the same source.
add_executable(test_integration_sweep sweep.c harness.c)
target_compile_definitions(test_integration_sweep PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_sweep PRIVATE PkgConfig::OPENSSL PkgConfig::CURL
  PkgConfig::JANSSON Threads::Threads)
# the sweep execs the server binary, so it must be built first
add_dependencies(test_integration_sweep authd)
add_test(NAME integration_sweep COMMAND test_integration_sweep)
set_tests_properties(integration_sweep PROPERTIES TIMEOUT 300 LABELS integration)
