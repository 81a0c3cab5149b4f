# frozen_string_literal: true

# Builds the ntm extension against the repository's libntm (or an installed one).
#
#   ruby extconf.rb && make              # in this directory, or from any build directory:
#   ruby /path/to/bindings/ruby/ext/ntm/extconf.rb && make
#
# Where ntm.h and libntm.so are looked for, first match wins:
#   --with-ntm-include=DIR / --with-ntm-lib=DIR (or --with-ntm-dir=PREFIX)
#   $NTM_BUILD_DIR/c-api (libntm.so) and the repository's c-api/include (ntm.h), or the source
#   tree named in $NTM_BUILD_DIR/CMakeCache.txt (for a gem installed outside the repository)
#   <repository>/build/c-api
# The library directory is recorded as an rpath, so nothing needs LD_LIBRARY_PATH.
require "mkmf"

repo_root = File.expand_path("../../../..", __dir__)
include_dirs = [File.join(repo_root, "c-api", "include")]
lib_dirs = []
build_dir = ENV.fetch("NTM_BUILD_DIR", "")
unless build_dir.empty?
  lib_dirs << File.join(build_dir, "c-api")
  # An installed gem is not inside the repository: find ntm.h through the build's CMake cache.
  cache = File.join(build_dir, "CMakeCache.txt")
  source = File.exist?(cache) && File.read(cache)[/^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/, 1]
  include_dirs << File.join(source, "c-api", "include") if source
end
lib_dirs << File.join(repo_root, "build", "c-api")

user_include, user_lib = dir_config("ntm")
include_dirs.unshift(user_include) if user_include
lib_dirs.unshift(user_lib) if user_lib

header_dir = include_dirs.find { |dir| File.exist?(File.join(dir, "ntm.h")) }
abort "ntm.h not found (looked in #{include_dirs.join(', ')}); use --with-ntm-include=DIR" unless header_dir
lib_dir = lib_dirs.find { |dir| Dir.glob(File.join(dir, "libntm.so*")).any? }
abort "libntm.so not found (looked in #{lib_dirs.join(', ')}); build the repository first " \
      "(cmake -S . -B build -G Ninja && cmake --build build) or set NTM_BUILD_DIR" unless lib_dir

$INCFLAGS << " -I#{header_dir}"
$LDFLAGS << " -L#{lib_dir} -Wl,-rpath,#{lib_dir}"
$CFLAGS << " -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers"

abort "ntm.h is not usable" unless have_header("ntm.h")
abort "libntm has no ntm_bridge_listen (too old?)" unless have_library("ntm", "ntm_bridge_listen", "ntm.h")
have_library("pthread")
# After the checks: mkmf's probe programs are not warning-clean.
$CFLAGS << " -Werror" if ENV["NTM_WERROR"] == "1"

create_makefile("ntm/ntm_ext")

# mkmf does not know our headers: rebuild every object when ntm.h or ntm_ext.h changes.
File.open("Makefile", "a") do |makefile|
  makefile.puts
  makefile.puts "$(OBJS): #{File.join(header_dir, 'ntm.h')} $(srcdir)/ntm_ext.h"
end
