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

# Our fixes to lwIP 2.1.3, applied to copies in the build tree (the source tree is never touched).
# api_msg.c: shutting down the receive side after our FIN went out and the peer's arrived
# (LAST_ACK, TIME_WAIT) must also hand the pcb back to lwIP, as in newer lwIP; otherwise lwIP
# frees the pcb later while the netconn still points at it (a use-after-free on close, seen with
# the real-fd bridge: our FIN first, then the peer's).
set(_lwip_patched "${CMAKE_CURRENT_BINARY_DIR}/lwip-patched")
file(READ "${_lwip}/src/api/api_msg.c" _api_msg)
set(_needle "(tpcb->state == CLOSING)))")
string(FIND "${_api_msg}" "${_needle}" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "lwIP api_msg.c does not look like 2.1.3: cannot apply ntmobile's close fix")
endif()
string(REPLACE "${_needle}"
  "(tpcb->state == CLOSING) || (tpcb->state == LAST_ACK) || (tpcb->state == TIME_WAIT)))"
  _api_msg "${_api_msg}")
file(WRITE "${_lwip_patched}/api_msg.c.new" "${_api_msg}")
configure_file("${_lwip_patched}/api_msg.c.new" "${_lwip_patched}/api_msg.c" COPYONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_lwip}/src/api/api_msg.c")
list(FILTER _lwip_api EXCLUDE REGEX "/api_msg\\.c$")
list(APPEND _lwip_api "${_lwip_patched}/api_msg.c")

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
