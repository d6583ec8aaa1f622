# Integration tests of the authorization point: the engine plugin with the
# real dockerd and docker CLI, the plugin socket under bad input, /api/authz.
add_executable(test_integration_authz test_authz.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_authz PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_authz PRIVATE PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the tests exec the server binary, so it must be built first
add_dependencies(test_integration_authz authd)
add_test(NAME integration_authz COMMAND test_integration_authz)
# dockerd is heavy and the plugin socket's directory is shared: never beside other tests
set_tests_properties(integration_authz PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE
  LABELS integration)
