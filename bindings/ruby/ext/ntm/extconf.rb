# frozen_string_literal: true

# Builds the ntm extension, in one of two ways.
#
# From the gem (ext/ntm/ntm-src/ holds the core, the C API, lwIP and nlohmann/json, packed by
# packaging/ruby/make-gem.sh): CMake compiles libntm.a (the C ABI with the core inside) here, at
# `gem install` time, and the extension links it statically - nothing outside the gem is needed
# at run time but the system's OpenSSL (libssl, libcrypto). Needs a C++20 compiler, CMake >= 3.22
# and OpenSSL's headers (libssl-dev).
#
# Against a libntm.so built already (the repository's own suites, or an installed one); first
# match wins:
#   --with-ntm-include=DIR / --with-ntm-lib=DIR (or --with-ntm-dir=PREFIX)
#   $NTM_BUILD_DIR/c-api (libntm.so) and the repository's c-api/include (ntm.h), or the source
#   tree named in $NTM_BUILD_DIR/CMakeCache.txt (for a gem installed outside the repository)
#   <repository>/build/c-api
# The library directory is then recorded as an rpath, so nothing needs LD_LIBRARY_PATH.
#
#   ruby extconf.rb && make              # in this directory, or from any build directory:
#   ruby /path/to/bindings/ruby/ext/ntm/extconf.rb && make
require "mkmf"
require "etc"
require "fileutils"

user_include, user_lib = dir_config("ntm")
build_dir = ENV.fetch("NTM_BUILD_DIR", "")
bundled = File.join(__dir__, "ntm-src")
use_bundled = File.exist?(File.join(bundled, "CMakeLists.txt")) && !user_include && !user_lib &&
              build_dir.empty?

# Compiles ntm-src's libntm.a with CMake in ./ntm-build and returns [header_dir, archive].
def build_bundled_libntm(src)
  cmake = find_executable("cmake") or abort "cmake (>= 3.22) is needed to build the ntm gem"
  work = File.expand_path("ntm-build")
  generator = find_executable("ninja") ? ["-G", "Ninja"] : []
  jobs = [Etc.nprocessors, 4].min.to_s
  configure = [cmake, "-S", src, "-B", work, *generator, "-DCMAKE_BUILD_TYPE=Release",
               "-DNTM_BUILD_STATIC=ON", "-DNTM_INSTALL=OFF", "-DNTM_BUILD_TESTS=OFF",
               "-DNTM_BUILD_EXAMPLES=OFF", "-DNTM_BUILD_BENCH=OFF", "-DNTM_BUILD_SERVERS=OFF",
               "-DNTM_BUILD_CLI=OFF",
               "-DNTM_LWIP_SOURCE_DIR=#{File.join(src, 'third_party', 'lwip-2.1.3')}"]
  message "building libntm.a from #{src} (a few minutes)\n"
  system(*configure, exception: false) or abort "CMake could not configure libntm (see above)"
  system(cmake, "--build", work, "--target", "ntm_static", "--parallel", jobs, exception: false) or
    abort "building libntm.a failed (see above)"
  # Keep the archive, not the object files (they would stay in the installed gem).
  FileUtils.cp(File.join(work, "c-api", "libntm.a"), "libntm.a")
  FileUtils.rm_rf(work)
  [File.join(src, "c-api", "include"), File.expand_path("libntm.a")]
end

if use_bundled
  header_dir, archive = build_bundled_libntm(bundled)
  $INCFLAGS << " -I#{header_dir}"
  # The archive's own symbols (the C++ core, lwIP) stay inside the extension.
  $LOCAL_LIBS << " #{archive}"
  $LDFLAGS << " -Wl,--exclude-libs,ALL"
  %w[ssl crypto].each do |lib|
    have_library(lib) or abort "lib#{lib} not found: install OpenSSL 3's development files (libssl-dev)"
  end
  $libs << " -lstdc++ -lm"
else
  repo_root = File.expand_path("../../../..", __dir__)
  include_dirs = [File.join(repo_root, "c-api", "include")]
  lib_dirs = []
  unless build_dir.empty?
    lib_dirs << File.join(build_dir, "c-api")
    # An installed gem is not inside the repository: find ntm.h through the build's CMake cache.
    cache = File.join(build_dir, "CMakeCache.txt")
    source = File.exist?(cache) && File.read(cache)[/^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/, 1]
    include_dirs << File.join(source, "c-api", "include") if source
  end
  lib_dirs << File.join(repo_root, "build", "c-api")
  include_dirs.unshift(user_include) if user_include
  lib_dirs.unshift(user_lib) if user_lib

  header_dir = include_dirs.find { |dir| File.exist?(File.join(dir, "ntm.h")) }
  abort "ntm.h not found (looked in #{include_dirs.join(', ')}); use --with-ntm-include=DIR" unless header_dir
  lib_dir = lib_dirs.find { |dir| Dir.glob(File.join(dir, "libntm.so*")).any? }
  abort "libntm.so not found (looked in #{lib_dirs.join(', ')}); build the repository first " \
        "(cmake -S . -B build -G Ninja && cmake --build build) or set NTM_BUILD_DIR" unless lib_dir

  $INCFLAGS << " -I#{header_dir}"
  $LDFLAGS << " -L#{lib_dir} -Wl,-rpath,#{lib_dir}"
end
$CFLAGS << " -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers"

abort "ntm.h is not usable" unless have_header("ntm.h")
if use_bundled
  abort "libntm.a has no ntm_bridge_listen" unless have_func("ntm_bridge_listen", "ntm.h")
else
  abort "libntm has no ntm_bridge_listen (too old?)" unless have_library("ntm", "ntm_bridge_listen", "ntm.h")
end
have_library("pthread")
# After the checks: mkmf's probe programs are not warning-clean.
$CFLAGS << " -Werror" if ENV["NTM_WERROR"] == "1"

create_makefile("ntm/ntm_ext")

# mkmf does not know our headers: rebuild every object when ntm.h or ntm_ext.h changes.
File.open("Makefile", "a") do |makefile|
  makefile.puts
  makefile.puts "$(OBJS): #{File.join(header_dir, 'ntm.h')} $(srcdir)/ntm_ext.h"
end
