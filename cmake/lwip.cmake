# Builds lwIP 2.1.3 from an unpacked upstream source tree with ntmobile's own lwipopts.h and
# sys_arch (core/stack). The source is never committed: ci/deps.sh fetches Debian's orig
# tarball into .deps/, or NTM_LWIP_SOURCE_DIR names another tree.
set(_lwip "${NTM_LWIP_SOURCE_DIR}")
if(NOT EXISTS "${_lwip}/src/include/lwip/opt.h")
  message(FATAL_ERROR
    "lwIP source not found in NTM_LWIP_SOURCE_DIR='${_lwip}'. Run ci/deps.sh, or pass "
    "-DNTM_LWIP_SOURCE_DIR=/path/to/lwip-2.1.3 (the folder that holds src/).")
endif()

# We list the files ourselves: upstream's Filelists.cmake writes into the source tree.
file(GLOB _lwip_core CONFIGURE_DEPENDS
  "${_lwip}/src/core/*.c" "${_lwip}/src/core/ipv4/*.c" "${_lwip}/src/core/ipv6/*.c")
file(GLOB _lwip_api CONFIGURE_DEPENDS "${_lwip}/src/api/*.c")

add_library(ntm_lwip STATIC ${_lwip_core} ${_lwip_api})
target_include_directories(ntm_lwip SYSTEM PUBLIC
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/include"
  "${_lwip}/src/include")
# lwIP is third-party C; keep its own warnings out of ours.
target_compile_options(ntm_lwip PRIVATE -w)
target_link_libraries(ntm_lwip PUBLIC Threads::Threads)

# Our port: sys_arch on C++ threads and the hooks lwIP calls into.
target_sources(ntm_lwip PRIVATE
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc")
set_source_files_properties(
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc"
  PROPERTIES COMPILE_OPTIONS "-Wall;-Wextra")
target_include_directories(ntm_lwip PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/core")
target_link_libraries(ntm_lwip PUBLIC OpenSSL::Crypto)
