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
set(_lwip_patched "${CMAKE_CURRENT_BINARY_DIR}/lwip-patched")
# In the text of lwIP's `file` (src/api/...), replaces `needle` - which must occur exactly once -
# by `replacement`; the result is compiled instead of the original.
function(_ntm_patch_lwip file what needle replacement)
  if(DEFINED _ntm_lwip_text_${file})
    set(_text "${_ntm_lwip_text_${file}}")
  else()
    file(READ "${_lwip}/src/api/${file}" _text)
  endif()
  string(FIND "${_text}" "${needle}" _first)
  string(FIND "${_text}" "${needle}" _last REVERSE)
  if(_first EQUAL -1 OR NOT _first EQUAL _last)
    message(FATAL_ERROR "lwIP ${file} does not look like 2.1.3: cannot apply ntmobile's ${what}")
  endif()
  string(REPLACE "${needle}" "${replacement}" _text "${_text}")
  set(_ntm_lwip_text_${file} "${_text}" PARENT_SCOPE)
endfunction()

# api_msg.c 1: shutting down the receive side after our FIN went out and the peer's arrived
# (LAST_ACK, TIME_WAIT) must also hand the pcb back to lwIP, as in newer lwIP; otherwise lwIP
# frees the pcb later while the netconn still points at it (a use-after-free on close, seen with
# the real-fd bridge: our FIN first, then the peer's).
_ntm_patch_lwip(api_msg.c "close fix" "(tpcb->state == CLOSING)))"
  "(tpcb->state == CLOSING) || (tpcb->state == LAST_ACK) || (tpcb->state == TIME_WAIT)))")
# api_msg.c 2: closing a listening socket with connections nobody accepted yet drains each of
# them. In full-duplex mode that runs in the closing thread, not under the core lock, and
# netconn_drain asserts that the netconn was marked closed, which only happens for netconns a
# socket owned (closing such a listener aborted the process). A pending one never had a reader:
# mark it before draining, and abort its pcb under the core lock.
_ntm_patch_lwip(api_msg.c "pending-connection fix"
  "          /* drain recvmbox */\n          netconn_drain(newconn);\n          if (newconn->pcb.tcp != NULL) {\n            tcp_abort(newconn->pcb.tcp);\n            newconn->pcb.tcp = NULL;\n          }"
  "          /* drain recvmbox */\n#if LWIP_NETCONN_FULLDUPLEX\n          newconn->flags |= NETCONN_FLAG_MBOXINVALID; /* ntmobile: no socket ever read it */\n#endif\n          netconn_drain(newconn);\n#if LWIP_NETCONN_FULLDUPLEX\n          LOCK_TCPIP_CORE(); /* ntmobile: called from the closing thread */\n#endif\n          if (newconn->pcb.tcp != NULL) {\n            tcp_abort(newconn->pcb.tcp);\n            newconn->pcb.tcp = NULL;\n          }\n#if LWIP_NETCONN_FULLDUPLEX\n          UNLOCK_TCPIP_CORE();\n#endif")
# api_msg.c 3: closing a socket while another thread is in a blocking connect. Full-duplex
# lwIP aborts the connect (the connecting thread returns), then asserts on the state it read
# before doing so. Check the netconn's current state instead.
_ntm_patch_lwip(api_msg.c "close-during-connect fix"
  "(state != NETCONN_CONNECT) || IN_NONBLOCKING_CONNECT(msg->conn));"
  "(msg->conn->state != NETCONN_CONNECT) || IN_NONBLOCKING_CONNECT(msg->conn)); /* ntmobile */")
# sockets.c: a socket closed by another thread while poll waits on it. lwIP's scan gave up at the
# first such descriptor (poll returned -1 without errno) and, after the wait, skipped decrementing
# its select_waiting - so the freed slot was later reused with a stale count (an assertion in
# socket allocation). Now it reports the descriptor as POLLNVAL, as poll(2) does, keeps scanning
# the others, and settles the count on the slot, which poll still holds (fd_used) at that point.
_ntm_patch_lwip(sockets.c "poll-close fix"
  "        /* Not a valid socket */\n        SYS_ARCH_UNPROTECT(lev);\n        /* POLLNVAL is output only. */\n        fds[fdi].revents |= POLLNVAL;\n        return -1;"
  "        /* Not a valid socket (ntmobile: e.g. closed by another thread while we waited) */\n        if ((opts & LWIP_POLLSCAN_DEC_WAIT) != 0) {\n          struct lwip_sock *closed = tryget_socket_unconn_nouse(fds[fdi].fd);\n          if ((closed != NULL) && (closed->select_waiting > 0)) {\n            closed->select_waiting--;\n          }\n        }\n        SYS_ARCH_UNPROTECT(lev);\n        /* POLLNVAL is output only. */\n        fds[fdi].revents |= POLLNVAL;")

foreach(_file api_msg.c sockets.c)
  file(WRITE "${_lwip_patched}/${_file}.new" "${_ntm_lwip_text_${_file}}")
  configure_file("${_lwip_patched}/${_file}.new" "${_lwip_patched}/${_file}" COPYONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_lwip}/src/api/${_file}")
  list(FILTER _lwip_api EXCLUDE REGEX "/${_file}$")
  list(APPEND _lwip_api "${_lwip_patched}/${_file}")
endforeach()

add_library(ntm_lwip STATIC ${_lwip_core} ${_lwip_api})
target_include_directories(ntm_lwip SYSTEM PUBLIC
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/include"
  "${_lwip}/src/include")
# lwIP is third-party C; keep its own warnings out of ours.
target_compile_options(ntm_lwip PRIVATE -w)
target_link_libraries(ntm_lwip PUBLIC Threads::Threads)

# timeouts.c in lwIP's test mode: the only effect (2.1.3) is that `lwip_cyclic_timer` is not static,
# so the node can cancel lwIP's 1-second timers (reassembly, ND) and run them only while they
# have work (core/stack/slow_timers.cc): an idle node does not wake every second.
set_source_files_properties("${_lwip}/src/core/timeouts.c" PROPERTIES COMPILE_DEFINITIONS
  "LWIP_TESTMODE=1")

# Our port: sys_arch on C++ threads and the hooks lwIP calls into.
target_sources(ntm_lwip PRIVATE
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/slow_timers.cc")
set_source_files_properties(
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/sys_arch.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/lwip_hooks.cc"
  "${CMAKE_CURRENT_SOURCE_DIR}/core/stack/slow_timers.cc"
  PROPERTIES COMPILE_OPTIONS "-Wall;-Wextra")
target_include_directories(ntm_lwip PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/core")
target_link_libraries(ntm_lwip PUBLIC OpenSSL::Crypto)
