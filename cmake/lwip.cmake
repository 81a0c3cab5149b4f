# Builds lwIP 2.1.3 from an unpacked upstream source tree with ntmobile's own lwipopts.h and
# sys_arch (core/stack). The source is never committed: ci/deps.sh fetches Debian's orig
# tarball into .deps/, or NTM_LWIP_SOURCE_DIR names another tree.
set(_lwip "${NTM_LWIP_SOURCE_DIR}")
if(NOT EXISTS "${_lwip}/src/include/lwip/opt.h")
  message(FATAL_ERROR
    "lwIP source not found in NTM_LWIP_SOURCE_DIR='${_lwip}'. Run ci/deps.sh, or pass "
    "-DNTM_LWIP_SOURCE_DIR=/path/to/lwip-2.1.3 (the folder that holds src/).")
endif()

# ntmobile's changes to lwIP 2.1.3 are numbered patch files in patches/lwip/ (each says why and
# which upstream commit it mirrors, if any; see patches/lwip/README.md). At configure time the
# source's src/ folder is copied into the build tree with LF line endings (upstream ships CRLF),
# and the patches are applied there in order with `patch`; the source tree is never touched.
# The copy is redone when a patch or the source location changes, in a staging folder from which
# only the files whose text changed are copied over (so a new patch rebuilds what it touches).
set(_lwip_patch_dir "${CMAKE_CURRENT_SOURCE_DIR}/patches/lwip")
file(GLOB _lwip_patches CONFIGURE_DEPENDS "${_lwip_patch_dir}/*.patch")
list(SORT _lwip_patches)
set(_lwip_patched "${CMAKE_CURRENT_BINARY_DIR}/lwip-patched")
set(_lwip_stamp_text "${_lwip}")
foreach(_patch ${_lwip_patches})
  file(SHA256 "${_patch}" _hash)
  string(APPEND _lwip_stamp_text "\n${_patch} ${_hash}")
endforeach()
set(_lwip_stamp "${_lwip_patched}/patches.stamp")
set(_lwip_old_stamp "")
if(EXISTS "${_lwip_stamp}")
  file(READ "${_lwip_stamp}" _lwip_old_stamp)
endif()
if(NOT _lwip_old_stamp STREQUAL _lwip_stamp_text)
  find_program(NTM_PATCH_PROGRAM patch REQUIRED)
  set(_stage "${CMAKE_CURRENT_BINARY_DIR}/lwip-patched.stage")
  file(REMOVE_RECURSE "${_stage}")
  file(GLOB_RECURSE _lwip_files RELATIVE "${_lwip}" "${_lwip}/src/*")
  foreach(_file ${_lwip_files})
    file(READ "${_lwip}/${_file}" _text)
    string(REPLACE "\r\n" "\n" _text "${_text}")
    file(WRITE "${_stage}/${_file}" "${_text}")
  endforeach()
  foreach(_patch ${_lwip_patches})
    execute_process(
      COMMAND "${NTM_PATCH_PROGRAM}" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch
              -i "${_patch}"
      WORKING_DIRECTORY "${_stage}"
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    if(NOT _rc EQUAL 0)
      file(REMOVE "${_lwip_stamp}")
      message(FATAL_ERROR "lwIP patch ${_patch} does not apply to ${_lwip} "
                          "(is it lwIP 2.1.3?):\n${_out}")
    endif()
  endforeach()
  foreach(_file ${_lwip_files})
    get_filename_component(_dir "${_lwip_patched}/${_file}" DIRECTORY)
    file(MAKE_DIRECTORY "${_dir}")
    file(COPY_FILE "${_stage}/${_file}" "${_lwip_patched}/${_file}" ONLY_IF_DIFFERENT)
  endforeach()
  file(REMOVE_RECURSE "${_stage}")
  file(WRITE "${_lwip_stamp}" "${_lwip_stamp_text}")
  list(LENGTH _lwip_patches _count)
  message(STATUS "lwIP: ${_count} ntmobile patches applied in ${_lwip_patched}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_lwip_patches})

# We list the files ourselves: upstream's Filelists.cmake writes into the source tree.
file(GLOB _lwip_core
  "${_lwip_patched}/src/core/*.c" "${_lwip_patched}/src/core/ipv4/*.c"
  "${_lwip_patched}/src/core/ipv6/*.c")
file(GLOB _lwip_api "${_lwip_patched}/src/api/*.c")

add_library(ntm_lwip STATIC ${_lwip_core} ${_lwip_api})
target_include_directories(ntm_lwip SYSTEM PUBLIC
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/include"
  "${_lwip_patched}/src/include")
# lwIP is third-party C; keep its own warnings out of ours.
target_compile_options(ntm_lwip PRIVATE -w)
target_link_libraries(ntm_lwip PUBLIC Threads::Threads)

# timeouts.c in lwIP's test mode: the only effect (2.1.3) is that `lwip_cyclic_timer` is not static,
# so the node can cancel lwIP's 1-second timers (reassembly, ND) and run them only while they
# have work (core/stack/slow_timers.cc): an idle node does not wake every second.
set_source_files_properties("${_lwip_patched}/src/core/timeouts.c" PROPERTIES COMPILE_DEFINITIONS
  "LWIP_TESTMODE=1")

# Our port: sys_arch on C++ threads and the hooks lwIP calls into.
target_sources(ntm_lwip PRIVATE
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/slow_timers.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/stack_limits.cc")
set_source_files_properties(
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/slow_timers.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/stack_limits.cc"
  PROPERTIES COMPILE_OPTIONS "-Wall;-Wextra")
target_include_directories(ntm_lwip PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/core")
target_link_libraries(ntm_lwip PUBLIC OpenSSL::Crypto)
