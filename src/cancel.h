/*
 * cancel.c: the cancel check of long scans.
 */
#ifndef VIGIL_CANCEL_H
#define VIGIL_CANCEL_H

#include "vigil.h"

/*
 * The check that long scans make between directories: 0 to go on; 1 when
 * vigil_stop's grace has run out (the scan gives up and leaves the rest
 * to a repair); -ECANCELED when the progress callback of vigil_add,
 * called here every 256 directories watched, asked to stop.
 */
int vigil__cancelled(vigil_t *v);

#endif /* VIGIL_CANCEL_H */
