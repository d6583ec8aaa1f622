# Integration tests of client bundles, keys and certificates with the real
# dockerd, docker CLI, curl, openssl and unzip (included by CMakeLists.txt).
# The target is not "test_bundles": tests/unit has a target of that name.
add_executable(test_integration_bundles test_bundles.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_bundles PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_bundles PRIVATE PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the tests exec the server binary, so it must be built first
add_dependencies(test_integration_bundles authd)
add_test(NAME integration_bundles COMMAND test_integration_bundles)
# dockerd instances are heavy: never run them beside other tests
set_tests_properties(integration_bundles PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE
  LABELS integration)
