# One version for everything: the VERSION file at the repository root. project() takes it (so
# libntm's file names, ntm.pc, the CMake package, ntm-server --version and ntm --version follow
# it); the public header states it too, for C callers, and must agree; the Python package and
# the Ruby gem read VERSION themselves; the Java POM is checked against it
# (tests/abi/check_versions.py). tools/set-version.sh changes all of them at once.
function(ntm_read_version_file out)
  file(STRINGS "${CMAKE_CURRENT_SOURCE_DIR}/VERSION" _version LIMIT_COUNT 1)
  string(STRIP "${_version}" _version)
  if(NOT _version MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+$")
    message(FATAL_ERROR "VERSION must hold MAJOR.MINOR.PATCH, found '${_version}'")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/VERSION")
  set(${out} "${_version}" PARENT_SCOPE)
endfunction()

# Fails the configuration when ntm.h's NTM_VERSION_MAJOR/MINOR/PATCH differ from VERSION.
function(ntm_check_header_version header)
  file(STRINGS "${header}" _lines REGEX "^#define NTM_VERSION_(MAJOR|MINOR|PATCH) [0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    set(_found "")
    foreach(_line IN LISTS _lines)
      if(_line MATCHES "^#define NTM_VERSION_${_part} ([0-9]+)")
        set(_found "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(NOT _found STREQUAL PROJECT_VERSION_${_part})
      message(FATAL_ERROR "${header}: NTM_VERSION_${_part} is '${_found}' but VERSION says "
        "${PROJECT_VERSION}; change both (tools/set-version.sh)")
    endif()
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${header}")
endfunction()

# The SONAME's version (docs/api-stability.md): before 1.0 a minor release may change the ABI, so
# it carries MAJOR.MINOR (libntm.so.0.3); from 1.0 on only MAJOR (libntm.so.1).
macro(ntm_set_soversion)
  if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(NTM_SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
  else()
    set(NTM_SOVERSION "${PROJECT_VERSION_MAJOR}")
  endif()
endmacro()
