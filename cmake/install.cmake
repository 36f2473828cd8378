# What `cmake --install <build> --prefix P` puts in P: the SDK a module or
# a client outside the tree builds against.
#
#   bin/shoal                        the node and the command line
#   include/shoal/shoal.h, shoal_base.h
#                                    the module API (pkg-config shoal)
#   include/shoal/client.h, client_window.h, json.h, envelope.h
#   lib/libshoal_client.a, libshoal_transport.a, libshoal_common.a
#                                    the C client library (pkg-config
#                                    shoal-client)
#   include/shoal/shoal_testkit.h, lib/libshoal_testkit.a
#                                    the test kit for modules (pkg-config
#                                    shoal-testkit)
#   lib/pkgconfig/shoal.pc, shoal-client.pc, shoal-testkit.pc
#   lib/cmake/shoal/shoalConfig.cmake
#                                    find_package(shoal): shoal::api,
#                                    shoal::client, shoal::testkit
#   share/doc/shoal/README.md, PROTOCOL.md, MODULES.md (the module guide),
#   DESIGN-NOTES.md (which the others and the tools' messages point to)
#                                    the user's guide (the systemd unit's
#                                    Documentation=) and the wire protocol
#   share/shoal/shoal-node@.service, shoal-alerts.yml
#                                    the systemd unit and the Prometheus
#                                    alerting rules (deploy/)
#
# The .pc files and the CMake package locate the prefix from where they
# are installed, so a prefix may be moved after installing.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The ABI of shoal.h, for shoal.pc (shoal_abi) and the package (SHOAL_ABI_VERSION).
file(STRINGS ${CMAKE_SOURCE_DIR}/runtime/include/shoal.h SHOAL_ABI_LINE
     REGEX "^#define SHOAL_ABI_VERSION [0-9]+$")
string(REGEX REPLACE "^#define SHOAL_ABI_VERSION " "" SHOAL_ABI_VERSION "${SHOAL_ABI_LINE}")
if(NOT SHOAL_ABI_VERSION MATCHES "^[0-9]+$")
  message(FATAL_ERROR "cannot read SHOAL_ABI_VERSION in runtime/include/shoal.h")
endif()

set(SHOAL_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/shoal)
set(SHOAL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)

install(TARGETS shoal RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/PROTOCOL.md
              ${CMAKE_SOURCE_DIR}/docs/MODULES.md ${CMAKE_SOURCE_DIR}/docs/DESIGN-NOTES.md
              ${CMAKE_SOURCE_DIR}/docs/PERFORMANCE.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# What a deployment takes from the tree: the systemd unit, the alerting
# rules (README, "Alerts").
install(FILES ${CMAKE_SOURCE_DIR}/deploy/shoal-node@.service ${CMAKE_SOURCE_DIR}/deploy/shoal-alerts.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/shoal)
install(FILES ${CMAKE_SOURCE_DIR}/runtime/include/shoal.h ${CMAKE_SOURCE_DIR}/common/shoal_base.h
              ${CMAKE_SOURCE_DIR}/runtime/include/shoal_testkit.h
        DESTINATION ${SHOAL_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/transport/client.h ${CMAKE_SOURCE_DIR}/transport/client_window.h
              ${CMAKE_SOURCE_DIR}/transport/json.h ${CMAKE_SOURCE_DIR}/transport/envelope.h
        DESTINATION ${SHOAL_INSTALL_INCLUDEDIR})
install(TARGETS shoal_client shoal_transport shoal_common shoal_testkit
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# A client library (or the test kit) built with sanitizers needs their
# runtime where it is linked: say so in its link flags.
set(SHOAL_CLIENT_LINK_OPTIONS "")
if(SHOAL_SANITIZE)
  set(SHOAL_CLIENT_LINK_OPTIONS "-fsanitize=address,undefined")
endif()

# The prefix, seen from lib/pkgconfig (pkg-config's ${pcfiledir}).
file(RELATIVE_PATH SHOAL_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" SHOAL_PC_TO_PREFIX "${SHOAL_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/shoal.pc.in ${CMAKE_BINARY_DIR}/shoal.pc @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/shoal-client.pc.in ${CMAKE_BINARY_DIR}/shoal-client.pc @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/shoal-testkit.pc.in ${CMAKE_BINARY_DIR}/shoal-testkit.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/shoal.pc ${CMAKE_BINARY_DIR}/shoal-client.pc
              ${CMAKE_BINARY_DIR}/shoal-testkit.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/shoalConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/shoalConfig.cmake
                              INSTALL_DESTINATION ${SHOAL_INSTALL_CMAKEDIR}
                              PATH_VARS SHOAL_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR
                                        CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/shoalConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/shoalConfig.cmake ${CMAKE_BINARY_DIR}/shoalConfigVersion.cmake
        DESTINATION ${SHOAL_INSTALL_CMAKEDIR})
