# The Windows build (cross-compiled with cmake/mingw-w64-x86_64.cmake).
# What builds for Windows so far: the platform layer, directory access
# (winfs.c), the
# ReadDirectoryChangesW reader of the Windows backend and its translator
# of records into observations (which is tested with the core on Linux,
# tests/unit/test_rdcw_obs.c), and the tests of the first two, which ctest
# runs under wine in a wine prefix of the build directory's own (created
# by the first test, wine.prefix).
if(NOT MINGW)
  message(FATAL_ERROR "The Windows build is made with mingw-w64 (cmake/mingw-w64-x86_64.cmake)")
endif()

add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
if(VIGIL_WERROR)
  add_compile_options(-Werror)
endif()
# One .exe with nothing to find at run time (no libwinpthread-1.dll beside it).
add_link_options(-static)

add_library(vigil_windows STATIC src/platform/windows.c src/platform/winfs.c src/backend/rdcw.c
  src/backend/rdcw_obs.c)
target_include_directories(vigil_windows PUBLIC include src)
target_link_libraries(vigil_windows PUBLIC ntdll)

if(VIGIL_TESTS STREQUAL "AUTO" OR VIGIL_TESTS)
  enable_testing()
  set(VIGIL_WINEPREFIX ${CMAKE_BINARY_DIR}/wineprefix)
  set(VIGIL_WINE_ENV "WINEPREFIX=${VIGIL_WINEPREFIX}" "WINEDEBUG=-all")
  find_program(VIGIL_WINE_BOOT NAMES wine64 wine)
  if(VIGIL_WINE_BOOT)
    # A prefix of its own, never the user's ~/.wine.
    add_test(NAME wine.prefix COMMAND ${VIGIL_WINE_BOOT} wineboot --init)
    set_tests_properties(wine.prefix PROPERTIES ENVIRONMENT "${VIGIL_WINE_ENV}"
      FIXTURES_SETUP wineprefix TIMEOUT 120)
  endif()
  function(vigil_windows_test name)
    add_executable(${name} tests/windows/${name}.c tests/windows/harness.c ${ARGN})
    target_include_directories(${name} PRIVATE tests/windows)
    target_link_libraries(${name} PRIVATE vigil_windows)
    add_test(NAME windows.${name} COMMAND ${name})
    set_tests_properties(windows.${name} PROPERTIES ENVIRONMENT "${VIGIL_WINE_ENV}"
      FIXTURES_REQUIRED wineprefix TIMEOUT 150)
  endfunction()
  vigil_windows_test(test_rdcw)
  vigil_windows_test(test_platform)
  vigil_windows_test(test_winfs)
endif()
