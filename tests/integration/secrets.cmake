# The secrets audit: one authd driven through everything that handles a
# secret, with real slapd instances; then its data dir, its log and every
# answer are searched for each secret (included by CMakeLists.txt).
add_executable(test_integration_secrets test_secrets.c slapd.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_secrets PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_secrets PRIVATE bundles PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the test execs the server binary, so it must be built first
add_dependencies(test_integration_secrets authd)
add_test(NAME integration_secrets COMMAND test_integration_secrets)
set_tests_properties(integration_secrets PROPERTIES TIMEOUT 300 LABELS integration)
