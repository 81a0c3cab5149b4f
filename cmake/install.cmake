# `cmake --install BUILD [--prefix PREFIX]`: what a C or C++ program needs to use libntm, the
# programs, and their documentation (docs/install.md):
#   include/ntm.h
#   lib/libntm.so.X.Y.Z, libntm.so.<SOVERSION> and libntm.so (libntm.a with NTM_BUILD_STATIC)
#   lib/cmake/ntm/       find_package(ntm CONFIG) -> ntm::ntm (and ntm::ntm_static)
#   lib/pkgconfig/ntm.pc pkg-config --cflags --libs ntm (--static for libntm.a)
#   bin/ntm-server, bin/ntm, share/man/man1/*.1, share/doc/ntmobile/
include(CMakePackageConfigHelpers)
set(NTM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ntm")

set(_ntm_install_targets ntm)
if(NTM_BUILD_STATIC)
  list(APPEND _ntm_install_targets ntm_static)
endif()
install(TARGETS ${_ntm_install_targets} EXPORT ntmTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/c-api/include/ntm.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The CMake package. Before 1.0 only the same minor version is ABI-compatible
# (docs/api-stability.md), so find_package(ntm 0.3) accepts 0.3.x and nothing else.
install(EXPORT ntmTargets NAMESPACE ntm:: FILE ntmTargets.cmake
  DESTINATION "${NTM_INSTALL_CMAKEDIR}")
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_ntm_compatibility SameMinorVersion)
else()
  set(_ntm_compatibility SameMajorVersion)
endif()
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/ntmConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/ntmConfig.cmake" INSTALL_DESTINATION "${NTM_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/ntmConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY ${_ntm_compatibility})
install(FILES "${PROJECT_BINARY_DIR}/ntmConfig.cmake" "${PROJECT_BINARY_DIR}/ntmConfigVersion.cmake"
  DESTINATION "${NTM_INSTALL_CMAKEDIR}")

# pkg-config. Relative to the prefix the .pc file sits in, so a moved prefix still works.
file(RELATIVE_PATH _ntm_pc_to_prefix "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" _ntm_pc_to_prefix "${_ntm_pc_to_prefix}")
set(NTM_PC_PREFIX "\${pcfiledir}/${_ntm_pc_to_prefix}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(NTM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/ntm.pc.in" "${PROJECT_BINARY_DIR}/ntm.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/ntm.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# Programs, each with its manual page.
set(_ntm_man "${PROJECT_SOURCE_DIR}/packaging/man")
if(NTM_BUILD_SERVERS)
  install(TARGETS ntm-server RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  install(FILES "${_ntm_man}/ntm-server.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
endif()
if(NTM_BUILD_CLI)
  # ntm uses libntm.so: find it next door (bin/../lib) without LD_LIBRARY_PATH.
  file(RELATIVE_PATH _ntm_bin_to_lib "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}"
    "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(ntm_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${_ntm_bin_to_lib}")
  install(TARGETS ntm_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  install(FILES "${_ntm_man}/ntm.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
endif()

# Documentation, licence and the sample service files.
install(FILES README.md LICENSE NOTICE CHANGELOG.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
file(GLOB _ntm_docs "${PROJECT_SOURCE_DIR}/docs/*.md")
install(FILES ${_ntm_docs} DESTINATION "${CMAKE_INSTALL_DOCDIR}/docs")
file(GLOB _ntm_samples "${PROJECT_SOURCE_DIR}/packaging/*.service" "${PROJECT_SOURCE_DIR}/packaging/*.conf")
install(FILES ${_ntm_samples} DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples")
