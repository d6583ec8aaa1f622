# Integration tests of LDAP sync jobs: real slapd instances and the real authd
# binary (users, teams, admins, outages, the guard, dry runs, restarts, the jobs API).
add_executable(test_integration_sync test_sync.c slapd.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_sync PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_sync PRIVATE bundles PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the tests exec the server binary, so it must be built first
add_dependencies(test_integration_sync authd)
add_test(NAME integration_sync COMMAND test_integration_sync)
set_tests_properties(integration_sync PROPERTIES TIMEOUT 600 LABELS integration)
