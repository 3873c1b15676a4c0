/* nlattr.c - netlink attributes into a table by type, each validated
 * (the kernel's nftables and conntrack replies, read by the daemon and
 * by btblockctl). */
#include "sysincl.h"
#include "nlattr.h"

int nlattr_table_cb(const struct nlattr *a, void *data)
{
	const struct nlattr_table *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type > t->max || t->types[type] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (mnl_attr_validate(a, t->types[type]) < 0)
		return MNL_CB_ERROR;
	t->tb[type] = a;
	return MNL_CB_OK;
}
