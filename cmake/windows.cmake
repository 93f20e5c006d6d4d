# The Windows tests (cross-compiled with cmake/mingw-w64-x86_64.cmake;
# CMakeLists.txt builds the library and vigil.exe), which ctest runs
# under wine, in a wine prefix of the build directory's
# own, made by the first test (wine.prefix). cmocka is not packaged for
# mingw-w64: tests/windows/harness.c is their harness.
if(NOT MINGW)
  message(FATAL_ERROR "The Windows build is made with mingw-w64 (cmake/mingw-w64-x86_64.cmake)")
endif()

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
  # Each test links the library's objects, so internal (vigil__*) names are reachable.
  function(vigil_windows_test name)
    add_executable(${name} tests/windows/${name}.c tests/windows/harness.c)
    target_include_directories(${name} PRIVATE include src tests/windows)
    target_link_libraries(${name} PRIVATE vigil_static)
    add_test(NAME windows.${name} COMMAND ${name})
    set_tests_properties(windows.${name} PROPERTIES ENVIRONMENT "${VIGIL_WINE_ENV}"
      FIXTURES_REQUIRED wineprefix TIMEOUT 150)
  endfunction()
  # What a cycle of open, add and close costs, and where it goes (not a test).
  add_executable(wincycles bench/wincycles.c)
  target_link_libraries(wincycles PRIVATE vigil_static)
  vigil_windows_test(test_rdcw)
  vigil_windows_test(test_platform)
  vigil_windows_test(test_winfs)
  vigil_windows_test(test_library)
  # Its 10,000 open/add/close cycles alone took 27 s under wine on an idle
  # two-core machine and 90 s at a load of 60 (bench/wincycles.c says
  # where a cycle goes).
  set_tests_properties(windows.test_library PROPERTIES TIMEOUT 240)
  # vigil.exe itself, driven by pytest on this machine's own Python; and a
  # copy of it on which every ReadDirectoryChangesW fails, as on a share
  # that refuses it (tests/windows/refusing.c), for the CLI's answers.
  # Run as root, one of its tests makes a wine prefix for nobody (about
  # 12 s on an idle two-core machine): hence a larger limit.
  add_executable(vigil_refusing cli/main.c cli/common.c cli/watch.c cli/output.c
    tests/windows/refusing.c)
  target_include_directories(vigil_refusing PRIVATE cli src)
  target_link_libraries(vigil_refusing PRIVATE vigil_static)
  find_program(VIGIL_TEST_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(VIGIL_TEST_PYTHON AND VIGIL_WINE_BOOT)
    add_test(NAME windows.cli COMMAND ${VIGIL_TEST_PYTHON} -m pytest -q -p no:cacheprovider
      ${CMAKE_SOURCE_DIR}/tests/windows/test_cli.py)
    set_tests_properties(windows.cli PROPERTIES
      ENVIRONMENT "${VIGIL_WINE_ENV};VIGIL_EXE=$<TARGET_FILE:vigil_cli>;VIGIL_REFUSING_EXE=$<TARGET_FILE:vigil_refusing>"
      FIXTURES_REQUIRED wineprefix TIMEOUT 210)
  endif()
endif()
