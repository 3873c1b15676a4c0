/* lsd.h - local service discovery (BEP 14). */
#ifndef BTBLOCKD_DPI_LSD_H
#define BTBLOCKD_DPI_LSD_H

#include "dpi/detector.h"

/* A BT-SEARCH announce with a Port and a 40-hex-digit Infohash header:
 * DPI_LSD, else DPI_NONE. */
enum dpi_id lsd_check(const uint8_t *data, size_t len);

#endif
