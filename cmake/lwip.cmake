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
# which upstream commit it mirrors, if any; see patches/lwip/README.md), applied by
# cmake/lwip_patch.cmake to an LF copy of the source's src/ folder in the build tree (the source
# tree is never touched). The copy is redone when a patch or the source location changes; only
# the files whose text changed are rewritten (so a new patch rebuilds what it touches).
# The Python sdist and the Ruby gem carry an lwIP patched already (packaging/stage-sources.sh):
# its manifest, ntm-patches.txt, must list exactly the patches of patches/lwip, and then it is
# compiled as it is - a user's machine needs no patch tool.
include("${CMAKE_CURRENT_LIST_DIR}/lwip_patch.cmake")
set(_lwip_patch_dir "${CMAKE_CURRENT_SOURCE_DIR}/patches/lwip")
ntm_lwip_patch_manifest("${_lwip_patch_dir}" _lwip_manifest _lwip_patches)
if(NOT _lwip_patches)
  message(FATAL_ERROR "no lwIP patches in ${_lwip_patch_dir}")
endif()
if(EXISTS "${_lwip}/ntm-patches.txt")
  file(READ "${_lwip}/ntm-patches.txt" _lwip_packed_manifest)
  if(NOT _lwip_packed_manifest STREQUAL _lwip_manifest)
    message(FATAL_ERROR "${_lwip} was patched with another set of lwIP patches than "
                        "${_lwip_patch_dir} (compare its ntm-patches.txt); use an unpatched "
                        "lwIP 2.1.3 source or repack")
  endif()
  set(_lwip_patched "${_lwip}")
else()
  set(_lwip_patched "${CMAKE_CURRENT_BINARY_DIR}/lwip-patched")
  set(_lwip_stamp "${_lwip_patched}/source.stamp")
  set(_lwip_stamp_text "${_lwip}")
  set(_lwip_old_stamp "")
  if(EXISTS "${_lwip_stamp}" AND EXISTS "${_lwip_patched}/ntm-patches.txt")
    file(READ "${_lwip_stamp}" _lwip_old_stamp)
    file(READ "${_lwip_patched}/ntm-patches.txt" _lwip_old_manifest)
    if(NOT _lwip_old_manifest STREQUAL _lwip_manifest)
      set(_lwip_old_stamp "")
    endif()
  endif()
  if(NOT _lwip_old_stamp STREQUAL _lwip_stamp_text)
    file(REMOVE "${_lwip_stamp}")
    ntm_lwip_apply_patches("${_lwip}" "${_lwip_patch_dir}" "${_lwip_patched}")
    file(WRITE "${_lwip_stamp}" "${_lwip_stamp_text}")
  endif()
endif()
# A new or edited patch reconfigures.
file(GLOB _lwip_patch_glob CONFIGURE_DEPENDS "${_lwip_patch_dir}/*.patch")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_lwip_patches})
# The patched tree, for lwIP's own unit tests (tests/lwip).
set(NTM_LWIP_PATCHED_DIR "${_lwip_patched}")

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
