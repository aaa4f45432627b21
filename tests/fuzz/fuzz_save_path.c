/*
 * libFuzzer harness for the -o name mapping, evc__url_save_path (src/util/
 * url.c): the pure function from a URL to HOST[_PORT]/PATH under the output
 * directory (the files themselves are sink.c's). Input: an option byte, then
 * text that becomes a URL:
 *
 *   bits 0-1  0: the text is an absolute URL
 *             1: the text is a reference resolved against http://h.test/a/b
 *             2: "https://" + the text
 *             3: "http://h.test:8080/" + the text
 *   bits 2-4  the text is repeated 1-8 times (long paths: cutting and hashing)
 *
 * Whatever is accepted must map to a name that stays under the directory:
 * relative, no "." or ".." or empty segment, no control byte, '\\' or bare
 * '%', each segment at most 200 bytes and the whole at most 1000, '@' only
 * before the query in the last segment. The mapping must be a function of
 * the URL alone, and honour cap exactly (no byte written past it). Built and
 * run by `make fuzz`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/error.h"
#include "fuzz_split.h"
#include "util/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_hex_upper(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_name(const char *p, int len)
{
	FUZZ_CHECK(len > 0 && len <= 1000 && strlen(p) == (size_t)len);
	FUZZ_CHECK(p[0] != '/' && p[len - 1] != '/');
	int segs = 0, ats = 0;
	for (const char *s = p;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		segs++;
		FUZZ_CHECK(n > 0 && n <= 200);
		FUZZ_CHECK(!(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.'));
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\');
			if (c == '%') /* only as the start of an escape, never cut */
				FUZZ_CHECK(i + 2 < n && is_hex_upper(s[i + 1]) &&
					   is_hex_upper(s[i + 2]));
			if (c == '@') {
				ats++;
				FUZZ_CHECK(!e); /* the query goes with the last segment */
			}
		}
		if (!e)
			break;
		s = e + 1;
	}
	FUZZ_CHECK(segs >= 2 && ats <= 1); /* a host directory and a file */
}

static void check_url(const struct evc__url *u)
{
	char buf[1100];
	int len = evc__url_save_path(u, buf, sizeof buf);
	FUZZ_CHECK(len > 0);
	check_name(buf, len);

	/* Exactly len + 1 bytes are enough, len are not; nothing is written
	 * past cap either way (the allocations are exact). */
	char *fit = malloc((size_t)len + 1);
	FUZZ_CHECK(fit && evc__url_save_path(u, fit, (size_t)len + 1) == len);
	FUZZ_CHECK(memcmp(fit, buf, (size_t)len + 1) == 0);
	free(fit);
	char *tight = malloc((size_t)len);
	FUZZ_CHECK(tight && evc__url_save_path(u, tight, (size_t)len) == -ENAMETOOLONG);
	free(tight);

	/* A function of the URL: the same href parsed again names the same file. */
	struct evc__url again;
	FUZZ_CHECK(evc__url_parse(&again, u->href, strlen(u->href)) == 0);
	char buf2[1100];
	FUZZ_CHECK(evc__url_save_path(&again, buf2, sizeof buf2) == len);
	FUZZ_CHECK(memcmp(buf, buf2, (size_t)len + 1) == 0);
	evc__url_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prefix[] = {"", "", "https://", "http://h.test:8080/"};
	static struct evc__url base;
	struct evc__url u;

	if (size < 1 || size > 4096)
		return 0;
	if (!base.href)
		FUZZ_CHECK(evc__url_parse(&base, "http://h.test/a/b", 17) == 0);
	uint8_t opts = data[0];
	data++, size--;
	int mode = opts & 3;
	size_t times = 1 + ((opts >> 2) & 7);
	size_t plen = strlen(prefix[mode]);
	size_t len = plen + size * times;
	char *text = malloc(len ? len : 1);
	FUZZ_CHECK(text);
	memcpy(text, prefix[mode], plen);
	for (size_t i = 0; i < times; i++)
		memcpy(text + plen + i * size, data, size);

	int r = mode == 1 ? evc__url_resolve(&u, &base, text, len) : evc__url_parse(&u, text, len);
	FUZZ_CHECK(r == 0 || r == EVC_EBADURL || r == EVC_EREDIRECT);
	if (r == 0)
		check_url(&u);
	evc__url_free(&u);
	free(text);
	return 0;
}
