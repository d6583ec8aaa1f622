# Fault injection against the real authd binary: SIGKILL during a burst of
# writes, a full disk under the data dir (a small tmpfs it mounts) and a wall
# clock that jumps under the running server (libfaketime).
add_executable(test_integration_faults test_faults.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_faults PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>")
target_link_libraries(test_integration_faults PRIVATE PkgConfig::CHECK PkgConfig::CURL
  PkgConfig::JANSSON)
# the tests exec the server binary, so it must be built first
add_dependencies(test_integration_faults authd)
add_test(NAME integration_faults COMMAND test_integration_faults)
# it mounts a disk, fills it and kills servers: never beside other tests
set_tests_properties(integration_faults PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  LABELS integration)
