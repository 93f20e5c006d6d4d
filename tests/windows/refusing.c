/*
 * Linked into a copy of vigil.exe for test_cli.py (cmake/windows.cmake):
 * before main runs, every ReadDirectoryChangesW is made to fail with
 * ERROR_INVALID_FUNCTION, as on a file system that refuses it (a network
 * share or a redirector without change notification). Wine refuses
 * nothing, so this is how the CLI's answers to it are tested.
 */
#include "backend/rdcw.h"

#include <windows.h>

__attribute__((constructor)) static void refuse_every_read(void) {
  vigil__rdcw_refuse(ERROR_INVALID_FUNCTION, 0);
}
