/* fuzz_pcap.c - libFuzzer harness: the offline mode's reader. The input
 * is a capture file (pcap or pcapng, any link type), in a memfd handed to
 * pcap_replay_run like a --read-pcap argument; the JSON lines go to
 * /dev/null. The engine is small so that each run stays cheap. */
#include "sysincl.h"
#include <sys/mman.h>
#include "engine.h"
#include "pcap_replay.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct engine_config cfg;
	static char path[64];
	static FILE *out;
	static int fd = -1;
	char *files[] = { path };
	int r;

	if (fd < 0) {
		engine_config_defaults(&cfg);
		cfg.flow_capacity = 64;
		cfg.stream_prefix = 256;
		cfg.endpoint_capacity = 32;
		cfg.hash_seed = 0x5eed;	/* the same buckets every run */
		fd = memfd_create("capture.pcap", MFD_CLOEXEC);
		FUZZ_ASSERT(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		out = fopen("/dev/null", "we");
		FUZZ_ASSERT(out != NULL);
	}
	FUZZ_ASSERT(ftruncate(fd, 0) == 0);
	FUZZ_ASSERT(pwrite(fd, data, size, 0) == (ssize_t)size);
	r = pcap_replay_run(&cfg, 1, files, out);
	FUZZ_ASSERT(r == 0 || r == 1);
	return 0;
}
