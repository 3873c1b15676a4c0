/* fuzz_config.c - libFuzzer harness: the config file parser. The input
 * is the file's content, in a memfd passed as "btblockd --config
 * /proc/self/fd/N", so config_load reads it exactly as the daemon would. */
#include "sysincl.h"
#include <sys/mman.h>
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct btb_config c;
	static char path[64];
	static int fd = -1;
	char arg0[] = "btblockd", arg1[] = "--config";
	char *argv[] = { arg0, arg1, path, NULL };
	char err[512];
	enum config_status st;

	if (fd < 0) {
		fd = memfd_create("btblockd.conf", MFD_CLOEXEC);
		FUZZ_ASSERT(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FUZZ_ASSERT(ftruncate(fd, 0) == 0);
	FUZZ_ASSERT(pwrite(fd, data, size, 0) == (ssize_t)size);
	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	st = config_load(&c, 3, argv, err, sizeof(err));
	FUZZ_ASSERT(st == CONFIG_OK || st == CONFIG_ERROR);
	if (st == CONFIG_OK) {
		FUZZ_ASSERT(c.queue_first <= c.queue_last);
		FUZZ_ASSERT(config_nqueues(&c) <= 65536);
		FUZZ_ASSERT(c.ncpus >= 0 && c.ncpus <= CONFIG_MAX_CPUS);
		FUZZ_ASSERT(memchr(c.control_path, '\0', sizeof(c.control_path)) != NULL);
		FUZZ_ASSERT(memchr(c.pidfile, '\0', sizeof(c.pidfile)) != NULL);
		FUZZ_ASSERT(memchr(c.detect_log, '\0', sizeof(c.detect_log)) != NULL);
		FUZZ_ASSERT(engine_config_check(&c.engine) == NULL);
		for (unsigned i = 0; i < config_nqueues(&c) && i < 4; i++)
			FUZZ_ASSERT(config_worker_cpu(&c, i) >= 0);
	} else {
		/* one sentence naming the problem, NUL-terminated in err */
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_ASSERT(err[0] != '\0');
	}
	return 0;
}
