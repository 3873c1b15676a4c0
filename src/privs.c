/* privs.c - dropping root after start-up: user, capabilities, seccomp.
 *
 * No libcap or libseccomp (OpenWrt has neither by default): the raw
 * capset(2) and seccomp(2) interfaces are small enough to speak directly. */
#include "sysincl.h"
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "log.h"
#include "privs.h"

int privs_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "invalid value '%s' for --user: %s", name,
			 errno ? strerror(errno) : "no such user");
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int privs_lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(name);
	if (!gr) {
		snprintf(err, errlen, "invalid value '%s' for --control-group: %s", name,
			 errno ? strerror(errno) : "no such group");
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* The bounding set limits what any later exec could regain; it needs
 * CAP_SETPCAP to shrink, so it is done while still root. */
static int drop_bounding_set(void)
{
	for (unsigned long cap = 0; cap <= 63; cap++) {
		if (cap == CAP_NET_ADMIN)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)	/* past the kernel's last capability */
				break;
			return -1;
		}
	}
	return 0;
}

int privs_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const char *step;

	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);

	step = "drop the bounding set";
	if (drop_bounding_set() < 0)
		goto fail;
	/* Keep the permitted set across setuid; the effective set is emptied
	 * by the kernel and restored by capset below. */
	step = "PR_SET_KEEPCAPS";
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	step = "setgroups";
	if (setgroups(1, &gid) < 0)
		goto fail;
	step = "setresgid";
	if (setresgid(gid, gid, gid) < 0)
		goto fail;
	step = "setresuid";
	if (setresuid(uid, uid, uid) < 0)
		goto fail;
	step = "capset";
	if (syscall(SYS_capset, &hdr, data) < 0)
		goto fail;
	step = "PR_SET_KEEPCAPS";
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		goto fail;
	/* Ambient capabilities would survive an exec; there must be none. */
	step = "PR_CAP_AMBIENT_CLEAR_ALL";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		goto fail;
	step = "PR_SET_NO_NEW_PRIVS";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	/* Paranoia: root must really be gone. */
	step = "check";
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
		errno = EPERM;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot drop privileges to uid %u gid %u (%s): %s",
		 (unsigned)uid, (unsigned)gid, step, strerror(errno));
	return -1;
}

/* The architecture this binary speaks: the filter refuses any other ABI
 * (e.g. i386 system calls from an x86_64 process, whose numbers differ). */
#if defined(__x86_64__) && defined(__ILP32__)
#define SECCOMP_ARCH 0	/* x32: not supported */
#elif defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define SECCOMP_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && !defined(__ARMEB__)
#define SECCOMP_ARCH AUDIT_ARCH_ARM
#elif defined(__mips__) && defined(_MIPSEL) && _MIPS_SIM == _ABIO32
#define SECCOMP_ARCH AUDIT_ARCH_MIPSEL
#elif defined(__mips__) && defined(_MIPSEB) && _MIPS_SIM == _ABIO32
#define SECCOMP_ARCH AUDIT_ARCH_MIPS
#elif defined(__riscv) && __riscv_xlen == 64
#define SECCOMP_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define SECCOMP_ARCH AUDIT_ARCH_PPC64LE
#else
#define SECCOMP_ARCH 0
#endif

/*
 * What the running daemon does after start-up: workers receive and send
 * on netlink, allocate and pin themselves; the control thread polls,
 * accepts, reads /proc and writes the detection log and the state file
 * (openat, unlinkat, renameat in its directory); the main thread waits
 * for signals, reloads the config (fopen), shuts everything down and
 * saves the state file a last time; glibc adds futexes, memory and thread management; syslog
 * reconnects to /dev/log. Entries missing on an architecture (open,
 * poll...) are left out by the preprocessor. Which call glibc makes for
 * a function differs per architecture: send() and recv() (the control
 * socket, syslog) are system calls of their own on arm and mips, i386
 * passes all socket calls through socketcall, 32-bit targets use the
 * time64 and 64-bit offset calls and fall back to the old ones, and
 * rename() (the detection log at its cap) is rename, renameat or
 * renameat2 (renameat() likewise, for the state file).
 * tests/unit/test_seccomp_arch.sh checks the list against glibc on armhf,
 * mips o32, i386 and x86_64.
 */
static const int allowed_syscalls[] = {
#define A(name) __NR_##name
	A(read), A(write), A(writev), A(close), A(lseek), A(statx),
	A(openat), A(fcntl), A(ioctl), A(getdents64), A(unlinkat), A(fsync), A(fdatasync),
	A(fchmod),
	A(recvfrom), A(recvmsg), A(recvmmsg), A(sendto), A(sendmsg), A(sendmmsg),
	A(socket), A(connect), A(accept4), A(shutdown), A(getsockopt), A(setsockopt),
	A(getsockname), A(ppoll), A(pipe2),
	A(munmap), A(mremap), A(mprotect), A(madvise), A(brk),
	A(futex), A(set_robust_list), A(get_robust_list), A(set_tid_address), A(clone),
	A(sched_getaffinity), A(sched_setaffinity), A(sched_yield),
	A(rt_sigaction), A(rt_sigprocmask), A(rt_sigreturn), A(rt_sigtimedwait), A(sigaltstack),
	A(tgkill), A(getpid), A(gettid), A(getuid), A(geteuid), A(getgid), A(getegid),
	A(clock_gettime), A(clock_nanosleep), A(nanosleep), A(gettimeofday), A(getrandom),
	A(exit), A(exit_group), A(restart_syscall), A(prctl), A(uname),
#ifdef __NR_open
	A(open),
#endif
#ifdef __NR_unlink
	A(unlink),
#endif
#ifdef __NR_fstat
	A(fstat),
#endif
#ifdef __NR_newfstatat
	A(newfstatat),
#endif
#ifdef __NR_mmap
	A(mmap),
#endif
#ifdef __NR_poll
	A(poll),
#endif
#ifdef __NR_stat
	A(stat),
#endif
#ifdef __NR_lstat
	A(lstat),
#endif
#ifdef __NR_rseq
	A(rseq),
#endif
#ifdef __NR_clone3
	A(clone3),
#endif
#ifdef __NR_futex_time64
	A(futex_time64), A(clock_gettime64), A(clock_nanosleep_time64), A(rt_sigtimedwait_time64),
	A(ppoll_time64), A(recvmmsg_time64),
#endif
#ifdef __NR_mmap2
	A(mmap2),
#endif
#ifdef __NR_fcntl64
	A(fcntl64), A(fstat64), A(fstatat64), A(_llseek),
#endif
#ifdef __NR_socketcall
	A(socketcall),
#endif
#ifdef __NR_send
	A(send),
#endif
#ifdef __NR_recv
	A(recv),
#endif
#ifdef __NR_rename
	A(rename),
#endif
#ifdef __NR_renameat
	A(renameat),
#endif
#ifdef __NR_renameat2
	A(renameat2),
#endif
#ifdef __NR_sigreturn
	A(sigreturn),
#endif
#undef A
};
/* Jump offsets in classic BPF are 8 bits. */
_Static_assert(ARRAY_SIZE(allowed_syscalls) < 250, "too many system calls for one jump");

int privs_seccomp(char *err, size_t errlen)
{
	enum { HEAD = 4, TAIL = 2, MAX = HEAD + ARRAY_SIZE(allowed_syscalls) + TAIL };
	struct sock_filter f[MAX];
	struct sock_fprog prog = { .filter = f };
	size_t n = 0, nsys = ARRAY_SIZE(allowed_syscalls);

	if (SECCOMP_ARCH == 0) {
		snprintf(err, errlen, "--seccomp is not supported on this architecture");
		return -1;
	}
	/* Anything not allowed kills the whole process (not just the thread):
	 * a half-dead daemon would hold its queues; a dead one lets the
	 * ruleset's bypass take over. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/* One test per system call: jump to ALLOW (the last instruction) on
	 * a match. x32 numbers (bit 30 on x86_64) never match our list. */
	for (size_t i = 0; i < nsys; i++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)allowed_syscalls[i],
						      (uint8_t)(nsys - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(errno));
		return -1;
	}
	return 0;
}
