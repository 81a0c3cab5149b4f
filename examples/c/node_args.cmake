# Defines ntm_example_args (node_args.c: the command-line options of the C examples), once.
# Included by examples/c, tests/integration and bench so each builds with the others turned off.
if(NOT TARGET ntm_example_args)
  add_library(ntm_example_args STATIC ${CMAKE_CURRENT_LIST_DIR}/node_args.c)
  target_include_directories(ntm_example_args PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(ntm_example_args PUBLIC ntm PRIVATE ntm_warnings)
  target_compile_definitions(ntm_example_args PRIVATE _POSIX_C_SOURCE=200809L)
  set_target_properties(ntm_example_args PROPERTIES
    C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
endif()
