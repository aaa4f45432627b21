/*
 * libFuzzer harness for src/http/response.c: the first byte of each input
 * picks options (decode, HEAD, a body limit) and a split size; the rest is
 * fed to the parser in pieces of that size, then EOF. Whatever the bytes,
 * the parser must not crash, read out of bounds, or deliver more than the
 * body limit. Not built by make:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc \
 *       -I/usr/share/include/llhttp tests/fuzz/fuzz_response.c src/http/response.c \
 *       /usr/share/llhttp/llhttp.c /usr/share/llhttp/api.c /usr/share/llhttp/http.c \
 *       -lz -o build/fuzz_response
 *   build/fuzz_response -max_len=4096 -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/error.h"
#include "http/response.h"

static uint64_t delivered;

static int count_body(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	delivered += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	data++, size--;
	bool decode = opt & 1, head = opt & 2;
	uint64_t limit = (opt & 4) ? 100 : 0;
	size_t piece = 1 + (opt >> 3) * 7;
	struct evc__response r;
	evc__response_init(&r, head, decode, limit, count_body, NULL);
	delivered = 0;
	int rc = 0;
	for (size_t off = 0; off < size && rc == 0;) {
		size_t n = size - off < piece ? size - off : piece;
		/* A private copy, so ASan sees reads past what was handed over. */
		char *chunk = malloc(n);
		memcpy(chunk, data + off, n);
		size_t used = 0;
		rc = evc__response_feed(&r, chunk, n, &used);
		free(chunk);
		if (used > n)
			abort();
		off += n;
	}
	if (rc == 0)
		rc = evc__response_eof(&r);
	if (limit && delivered > limit)
		abort();
	if (delivered != r.body_bytes)
		abort();
	if (rc < 0 && rc != EVC_EPROTO && rc != EVC_ETOOLARGE && rc != -ENOMEM)
		abort();
	evc__response_free(&r);
	return 0;
}
