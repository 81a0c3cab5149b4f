# Header-only libraries the core needs. nlohmann/json comes from the system (Debian's
# nlohmann-json3-dev) when present; the Python sdist and the Ruby gem, which must build with only
# a compiler, CMake and OpenSSL's headers, carry a copy in third_party/nlohmann_json/ instead
# (packaging/stage-sources.sh puts it there; it is never committed).
find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  set(_ntm_json "${PROJECT_SOURCE_DIR}/third_party/nlohmann_json/include")
  if(NOT EXISTS "${_ntm_json}/nlohmann/json.hpp")
    message(FATAL_ERROR "nlohmann/json 3.10+ not found: install nlohmann-json3-dev (ci/deps.sh) "
      "or set nlohmann_json_DIR")
  endif()
  message(STATUS "ntmobile: using the packed nlohmann/json in ${_ntm_json}")
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED GLOBAL)
  target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE "${_ntm_json}")
endif()
