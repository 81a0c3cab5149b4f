# Warnings for our own targets (not for lwIP, which is third-party code).
add_library(ntm_warnings INTERFACE)
target_compile_options(ntm_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wcast-align -Wunused -Wpedantic
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>)
if(NTM_WERROR)
  target_compile_options(ntm_warnings INTERFACE -Werror)
endif()
