/* nftmsg.h - nftables netlink messages: requests, and the attributes of
 * replies that more than one reader parses, each validated. */
#ifndef BTBLOCKD_NFTMSG_H
#define BTBLOCKD_NFTMSG_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

/* A header of type type (subsystem and message) and its nfgenmsg at buf. */
struct nlmsghdr *nftmsg_put(char *buf, uint16_t type, uint16_t flags, uint8_t family,
			    uint16_t res_id, uint32_t seq);

/* A batch marker (NFNL_MSG_BATCH_BEGIN or _END) of nftables messages at
 * buf; the bytes it takes, with its padding. */
size_t nftmsg_batch_mark(char *buf, uint16_t type, uint32_t seq);

/* The header of a dump request for nftables message msg_type at buf;
 * the caller adds the attributes that filter it. */
struct nlmsghdr *nftmsg_dump_request(char *buf, uint16_t msg_type, uint8_t family,
				     uint32_t seq);

/* The nfgenmsg of an nftables message of type msg_type, or NULL. */
const struct nfgenmsg *nftmsg_get(const struct nlmsghdr *nlh, uint16_t msg_type);

/* The attributes of a message after its nfgenmsg into tb (max + 1),
 * by types: 0, or -1 when one is malformed. */
int nftmsg_attrs(const struct nlmsghdr *nlh, uint16_t max,
		 const enum mnl_attr_data_type *types, const struct nlattr **tb);

/* The same for the attributes nested in nest; 0 when nest is NULL. */
int nftmsg_nested(const struct nlattr *nest, uint16_t max,
		  const enum mnl_attr_data_type *types, const struct nlattr **tb);

/* One entry of an NFTA_LIST_ELEM list (expressions, set elements) into
 * tb: -1 unless it is a nested NFTA_LIST_ELEM whose attributes are well
 * formed. */
int nftmsg_list_elem(const struct nlattr *a, uint16_t max,
		     const enum mnl_attr_data_type *types, const struct nlattr **tb);

/* 1 when a message is of family and its table attribute (NULL: none)
 * names table, else 0. */
int nftmsg_in_table(const struct nfgenmsg *nfg, const struct nlattr *attr, uint8_t family,
		    const char *table);

/* The types of the attributes the readers take from a message, one table
 * a message kind: chain messages (table, name, the hook of a base chain),
 * set messages (table, name, flags, key length, description, timeout),
 * set element lists (table, set, elements) and their elements (key,
 * timeout, expiration). */
extern const enum mnl_attr_data_type nftmsg_chain_types[NFTA_CHAIN_MAX + 1];
extern const enum mnl_attr_data_type nftmsg_set_types[NFTA_SET_MAX + 1];
extern const enum mnl_attr_data_type nftmsg_setelem_list_types[NFTA_SET_ELEM_LIST_MAX + 1];
extern const enum mnl_attr_data_type nftmsg_setelem_types[NFTA_SET_ELEM_MAX + 1];

/* The size a set's NFTA_SET_DESC (NULL: none) gives, 0 when none; 0, or
 * -1 when it is malformed. */
int nftmsg_set_size(const struct nlattr *desc, uint32_t *size);

/* One expression of a rule (an entry of NFTA_RULE_EXPRESSIONS): its name
 * (NULL when it has none) and its data (NULL when none); 0, or -1. */
int nftmsg_expr(const struct nlattr *elem, const char **name, const struct nlattr **data);

/* The attributes of an "immediate" expression's data into tb
 * (NFTA_IMMEDIATE_MAX + 1): 0 (also when data is NULL), or -1. */
int nftmsg_immediate(const struct nlattr *data, const struct nlattr **tb);

/* The chain a verdict jumps or goes to, from an NFTA_IMMEDIATE_DATA nest
 * (NULL: none): *chain NULL for any other verdict or none; 0, or -1 when
 * the nest is malformed. */
int nftmsg_jump_target(const struct nlattr *imm_data, const char **chain);

/* The NFTA_DATA_VALUE inside nest when it is exactly len bytes: 0 with
 * *value, or -1 (no nest, malformed, no value, another length). */
int nftmsg_data_value(const struct nlattr *nest, size_t len, const void **value);

#endif
