/* privs.h - dropping root after start-up: user, capabilities, seccomp. */
#ifndef BTBLOCKD_PRIVS_H
#define BTBLOCKD_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Look up a user: its uid and primary group. -1 with a sentence in err. */
int privs_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* Look up a group. -1 with a sentence in err. */
int privs_lookup_group(const char *name, gid_t *gid, char *err, size_t errlen);

/* Become uid/gid (no supplementary groups) keeping only CAP_NET_ADMIN in
 * the permitted, effective and bounding sets, with no_new_privs set.
 * Call before any thread is started: credentials are per thread in the
 * kernel and new threads inherit those of their creator. */
int privs_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Install the system call allowlist (kills the process on anything else).
 * Call before any thread is started, for the same reason. */
int privs_seccomp(char *err, size_t errlen);

#endif
