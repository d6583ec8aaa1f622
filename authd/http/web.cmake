# The admin page (authd/http/web/) compiled into authd: web_embed.cmake writes
# each file as a C array into web_files.c, which web.c serves. Included by
# authd/CMakeLists.txt after authd_core is declared.
file(GLOB AUTHD_WEB_FILES RELATIVE ${CMAKE_CURRENT_LIST_DIR}/web CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/web/*)
list(SORT AUTHD_WEB_FILES)
list(TRANSFORM AUTHD_WEB_FILES PREPEND ${CMAKE_CURRENT_LIST_DIR}/web/ OUTPUT_VARIABLE
  AUTHD_WEB_PATHS)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/web_files.c
  COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${CMAKE_CURRENT_LIST_DIR}/web
    "-DFILES=${AUTHD_WEB_FILES}" -DOUT=${CMAKE_CURRENT_BINARY_DIR}/web_files.c
    -P ${CMAKE_CURRENT_LIST_DIR}/web_embed.cmake
  DEPENDS ${AUTHD_WEB_PATHS} ${CMAKE_CURRENT_LIST_DIR}/web_embed.cmake
  COMMENT "Embedding the admin web page"
  VERBATIM)
target_sources(authd_core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/web_files.c)
