/* bans_cmd.h - btblockctl bans and unban: what the kernel holds about
 * banned pairs and blocked connections, shown and lifted. */
#ifndef BTBLOCKD_BANS_CMD_H
#define BTBLOCKD_BANS_CMD_H

#include <stdio.h>
#include <stdint.h>
#include <jansson.h>
#include "addrspec.h"
#include "nft_bans.h"

/* The conntrack mark values of blocked flows (nft/btblockd.nft). */
struct bans_marks {
	uint32_t mask, block, reject;
};

#define BANS_DEF_MARK_MASK	0x00ff0000u
#define BANS_DEF_MARK_BLOCK	0x00b10000u
#define BANS_DEF_MARK_REJECT	0x00b20000u

/* A sentence for a failed netlink step (-errno), naming what was done. */
const char *bans_error(int err, const char *what, char *buf, size_t len);

/* The pairs as a table or a JSON document (l already in pairs). */
void bans_render_table(const struct ban_list *l, FILE *out);
json_t *bans_render_json(const struct ban_list *l);

/* "btblockctl bans": 0, 1 on error (message on stderr). */
int bans_list(int json, FILE *out);

/* The kernel part of "btblockctl unban": the ban set elements naming an
 * address in spec, then the conntrack entries of blocked flows naming
 * it. *pairs and *conns get the counts; 0, or 1 after saying on stderr
 * what failed (the other part is still done). A missing table is no
 * error: it holds no bans. */
int bans_unban_kernel(const struct addrspec *spec, const struct bans_marks *m, long *pairs,
		      long *conns, int *no_table);

#endif
