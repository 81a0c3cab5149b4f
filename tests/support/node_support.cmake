# Defines ntm_node_support (tests/support: report lines, sockets, node state and command lines of
# the test and bench node programs), once. Included by tests/integration and bench, so each
# builds with the other turned off.
include(${CMAKE_CURRENT_LIST_DIR}/../../examples/c/node_args.cmake)
if(NOT TARGET ntm_node_support)
  add_library(ntm_node_support STATIC
    ${CMAKE_CURRENT_LIST_DIR}/command_line.cc
    ${CMAKE_CURRENT_LIST_DIR}/node_state.cc
    ${CMAKE_CURRENT_LIST_DIR}/report.cc
    ${CMAKE_CURRENT_LIST_DIR}/sockets.cc)
  target_include_directories(ntm_node_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(ntm_node_support PUBLIC ntm ntm_example_args PRIVATE ntm_warnings)
endif()
