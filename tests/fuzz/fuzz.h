/* fuzz.h - what the libFuzzer harnesses of tests/fuzz/ share: the entry
 * point's prototype and the record scheme that cuts one input into
 * several packets. */
#ifndef BTBLOCKD_FUZZ_H
#define BTBLOCKD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer calls this once per input; 0 always (inputs are never rejected). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: say which and abort, so that libFuzzer
 * saves the input like any sanitizer report. */
#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* One record of an input: a control byte, a big-endian 16-bit length,
 * then that many bytes (fewer when the input ends first). Several
 * records make one input several packets, so flows build up. */
struct fuzz_rec {
	uint8_t ctl;
	const uint8_t *data;
	size_t len;
};

/* Take the next record from the input (moved past it); 0 when used up. */
static inline int fuzz_next_rec(const uint8_t **in, size_t *left, struct fuzz_rec *r)
{
	size_t len;

	if (*left < 3)
		return 0;
	r->ctl = (*in)[0];
	len = (size_t)(*in)[1] << 8 | (*in)[2];
	*in += 3;
	*left -= 3;
	if (len > *left)
		len = *left;
	r->data = *in;
	r->len = len;
	*in += len;
	*left -= len;
	return 1;
}

/* A heap copy of exactly len bytes (at least 1 allocated), so that ASan
 * catches a read one byte past the packet, which the fuzzer's own buffer
 * would not show at the end of a record. Caller frees. */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	FUZZ_ASSERT(p != NULL);
	for (size_t i = 0; i < len; i++)
		p[i] = data[i];
	return p;
}

#endif
