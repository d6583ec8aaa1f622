# Integration tests of LDAP against real slapd instances: libldapsync in this
# process, the ldapsync command, and authd's settings, test login and login.
add_executable(test_integration_ldap test_ldap.c slapd.c checks.c harness.c engine.c)
target_compile_definitions(test_integration_ldap PRIVATE AUTHD_BIN="$<TARGET_FILE:authd>"
  LDAPSYNC_BIN="$<TARGET_FILE:ldapsync_cli>")
target_link_libraries(test_integration_ldap PRIVATE ldapsync bundles PkgConfig::CHECK
  PkgConfig::CURL PkgConfig::JANSSON)
# the tests exec both binaries, so they must be built first
add_dependencies(test_integration_ldap authd ldapsync_cli)
add_test(NAME integration_ldap COMMAND test_integration_ldap)
set_tests_properties(integration_ldap PROPERTIES TIMEOUT 600 LABELS integration)
