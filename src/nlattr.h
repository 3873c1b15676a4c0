/* nlattr.h - netlink attributes into a table by type, each validated. */
#ifndef BTBLOCKD_NLATTR_H
#define BTBLOCKD_NLATTR_H

#include <stdint.h>
#include <libmnl/libmnl.h>

/* Which type each attribute must have (indexed by attribute number,
 * MNL_TYPE_UNSPEC: skip it), and where the attributes go. */
struct nlattr_table {
	uint16_t max;
	const enum mnl_attr_data_type *types;
	const struct nlattr **tb;
};

/* mnl_attr_parse / mnl_attr_parse_nested callback, data: a struct
 * nlattr_table. Unknown attributes (a newer kernel) are skipped;
 * one that fails its type's validation ends the parse with an error. */
int nlattr_table_cb(const struct nlattr *a, void *data);

#endif
