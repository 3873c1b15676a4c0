/* extension.h - the extension protocol (BEP 10) and peer exchange. */
#ifndef BTBLOCKD_DPI_EXTENSION_H
#define BTBLOCKD_DPI_EXTENSION_H

#include "dpi/detector.h"

/* Check the body of an extended message (id 20): body[0] is the extended
 * id, the rest its payload, len bytes in all. Learns PEX peers through p
 * (NULL: only check).
 * Returns 1 for an extension handshake (a dictionary with an "m"
 * dictionary), 0 for a plausible message, -1 for an impossible one. */
int extension_message(const uint8_t *body, size_t len, const struct dpi_pkt *p);

#endif
