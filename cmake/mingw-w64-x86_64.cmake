# Cross-compiling for 64-bit Windows with mingw-w64 (Debian:
# gcc-mingw-w64-x86-64), and running what was built under wine (Debian:
# wine, wine64), so that ctest runs the Windows tests on a Linux machine:
#   cmake -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#   cmake --build build-windows && ctest --test-dir build-windows
# The -posix variant of the compiler is used: its C runtime has
# winpthreads, so the threaded parts of the core build unchanged.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(VIGIL_MINGW_PREFIX x86_64-w64-mingw32)

find_program(CMAKE_C_COMPILER NAMES ${VIGIL_MINGW_PREFIX}-gcc-posix ${VIGIL_MINGW_PREFIX}-gcc)
find_program(CMAKE_RC_COMPILER NAMES ${VIGIL_MINGW_PREFIX}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${VIGIL_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(VIGIL_WINE NAMES wine64 wine)
if(VIGIL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VIGIL_WINE})
endif()
