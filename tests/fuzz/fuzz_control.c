/* fuzz_control.c - libFuzzer harness: the control socket's command
 * dispatch. The input is what a client sends: cut into lines at '\n'
 * (a trailing '\r' dropped, as the server does), each line answered by
 * control_dispatch over zero workers. Every answer must be one JSON
 * object. */
#include "sysincl.h"
#include "control.h"
#include "stats.h"
#include "fuzz.h"

static void check_reply(char *reply)
{
	json_error_t jerr;
	json_t *doc;

	FUZZ_ASSERT(reply != NULL);
	FUZZ_ASSERT(strchr(reply, '\n') == NULL);	/* one line per reply */
	doc = json_loads(reply, 0, &jerr);
	FUZZ_ASSERT(doc != NULL && json_is_object(doc));
	json_decref(doc);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct control c;
	static struct stats_info info = { .mode = "enforce", .fail_open = 1 };
	static int seeded;
	struct timespec now;
	size_t start = 0;

	/* jansson's hash seed decides which keys it compares, and the fuzzer
	 * learns from those compares: a fixed seed makes runs repeatable. */
	if (!seeded) {
		json_object_seed(1);
		seeded = 1;
	}
	c.listen_fd = -1;
	/* Started just now: the uptime in the replies stays one digit, so
	 * they are the same size, and the heap the same, on every run (the
	 * fuzzer's compare tables hold heap addresses). */
	FUZZ_ASSERT(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
	info.started = now.tv_sec;
	c.info = &info;
	c.workers = NULL;
	c.nworkers = 0;
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t linelen = nl ? (size_t)(nl - (data + start)) : size - start;
		size_t len = linelen;
		char *line;

		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		/* exactly len + 1 bytes: a read past the NUL is an ASan report */
		line = malloc(len + 1);
		FUZZ_ASSERT(line != NULL);
		memcpy(line, data + start, len);
		line[len] = '\0';
		if (line[0] != '\0')	/* the server skips empty lines */
			check_reply(control_dispatch(&c, line));
		free(line);
		start += linelen + (nl ? 1 : 0);
	}
	return 0;
}
