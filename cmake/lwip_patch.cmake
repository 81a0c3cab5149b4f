# Applies ntmobile's numbered lwIP patches (patches/lwip/*.patch) to a copy of lwIP's sources.
# Used two ways:
#   include()d by cmake/lwip.cmake: the build patches the upstream tree of a checkout into its
#     build folder (only when a patch or the source changed);
#   as a script by packaging/stage-sources.sh, so that the Python sdist and the Ruby gem carry an
#     lwIP that is patched already and a user's machine needs no patch tool:
#       cmake -DLWIP_SOURCE=<tree> -DLWIP_PATCHES=<patches/lwip> -DLWIP_OUT=<dir> -P lwip_patch.cmake
# The copy gets LF line endings (upstream ships CRLF) and a manifest, ntm-patches.txt, naming each
# applied patch with its SHA-256 (cmake/lwip.cmake compares it with the patches it would apply).
# The tool is `patch` (--fuzz=0) or, where it is missing, `git apply` (exact context, any folder).

# The manifest text for the patch files in PATCH_DIR ("<file name> <sha256>" per line), in order.
function(ntm_lwip_patch_manifest patch_dir out_var out_list)
  file(GLOB _patches "${patch_dir}/*.patch")
  list(SORT _patches)
  set(_text "")
  foreach(_patch ${_patches})
    file(SHA256 "${_patch}" _hash)
    get_filename_component(_name "${_patch}" NAME)
    string(APPEND _text "${_name} ${_hash}\n")
  endforeach()
  set(${out_var} "${_text}" PARENT_SCOPE)
  set(${out_list} "${_patches}" PARENT_SCOPE)
endfunction()

# Copies SOURCE's src/core, src/api and src/include (what cmake/lwip.cmake compiles) and COPYING into OUT with LF line endings and applies the patches of
# PATCH_DIR in order. Only files whose text changed are rewritten in OUT, so a rebuild after a new
# patch recompiles what that patch touches. Fails the configuration if a patch does not apply.
function(ntm_lwip_apply_patches source patch_dir out)
  ntm_lwip_patch_manifest("${patch_dir}" _manifest _patches)
  if(NOT _patches)
    message(FATAL_ERROR "no lwIP patches in ${patch_dir} (ntmobile needs patches/lwip/*.patch)")
  endif()
  find_program(NTM_PATCH_PROGRAM patch)
  find_program(NTM_GIT_PROGRAM git)
  if(NOT NTM_PATCH_PROGRAM AND NOT NTM_GIT_PROGRAM)
    message(FATAL_ERROR "applying ntmobile's lwIP patches needs `patch` or `git` "
                        "(e.g. apt-get install patch)")
  endif()
  get_filename_component(_out_parent "${out}" DIRECTORY)
  set(_stage "${out}.stage")
  file(REMOVE_RECURSE "${_stage}")
  file(GLOB_RECURSE _files RELATIVE "${source}"
       "${source}/src/core/*" "${source}/src/api/*" "${source}/src/include/*")
  list(APPEND _files COPYING)
  foreach(_file ${_files})
    file(READ "${source}/${_file}" _text)
    string(REPLACE "\r\n" "\n" _text "${_text}")
    file(WRITE "${_stage}/${_file}" "${_text}")
  endforeach()
  foreach(_patch ${_patches})
    if(NTM_PATCH_PROGRAM)
      set(_command "${NTM_PATCH_PROGRAM}" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch
                   -i "${_patch}")
    else()
      # A stage folder inside a git work tree (a build folder in the checkout) would make
      # `git apply` take paths from that repository's top: stop git's search at the stage.
      set(_command "${CMAKE_COMMAND}" -E env "GIT_CEILING_DIRECTORIES=${_out_parent}"
                   "${NTM_GIT_PROGRAM}" apply -p1 "${_patch}")
    endif()
    execute_process(COMMAND ${_command} WORKING_DIRECTORY "${_stage}"
                    RESULT_VARIABLE _rc OUTPUT_VARIABLE _log ERROR_VARIABLE _log)
    if(NOT _rc EQUAL 0)
      file(REMOVE_RECURSE "${_stage}")
      message(FATAL_ERROR "lwIP patch ${_patch} does not apply to ${source} "
                          "(is it lwIP 2.1.3?):\n${_log}")
    endif()
  endforeach()
  foreach(_file ${_files})
    get_filename_component(_dir "${out}/${_file}" DIRECTORY)
    file(MAKE_DIRECTORY "${_dir}")
    file(COPY_FILE "${_stage}/${_file}" "${out}/${_file}" ONLY_IF_DIFFERENT)
  endforeach()
  file(REMOVE_RECURSE "${_stage}")
  file(WRITE "${out}/ntm-patches.txt" "${_manifest}")
  list(LENGTH _patches _count)
  message(STATUS "lwIP: ${_count} ntmobile patches applied in ${out}")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  foreach(_var LWIP_SOURCE LWIP_PATCHES LWIP_OUT)
    if(NOT DEFINED ${_var})
      message(FATAL_ERROR "usage: cmake -DLWIP_SOURCE=<lwIP tree> -DLWIP_PATCHES=<patches/lwip> "
                          "-DLWIP_OUT=<folder> -P lwip_patch.cmake")
    endif()
  endforeach()
  ntm_lwip_apply_patches("${LWIP_SOURCE}" "${LWIP_PATCHES}" "${LWIP_OUT}")
endif()
