/*
 * libFuzzer harness for src/util/url.c: every input is parsed as a URL and
 * resolved as a Location against a fixed base; whatever is accepted must
 * re-parse to the same href and give a safe save path (fuzz_save_path.c
 * looks at those names more closely). Built and run by `make fuzz`; one
 * input again: build/fuzz/fuzz_url FILE. (uriparser is Debian's, not
 * instrumented: its own reads are not checked.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/error.h"
#include "util/url.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No "." or ".." part, no leading '/', no control byte or '\\', limits kept. */
static void check_save_path(const char *p, int len)
{
	CHECK(len > 0 && len <= 1000 && strlen(p) == (size_t)len && p[0] != '/');
	for (const char *s = p;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		CHECK(n > 0 && n <= 200);
		CHECK(!(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.'));
		for (size_t i = 0; i < n; i++)
			CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f && s[i] != '\\');
		if (!e)
			return;
		s = e + 1;
	}
}

static void check_accepted(const struct evc__url *u)
{
	struct evc__url again;
	char out[1024], host[512];

	CHECK(evc__url_parse(&again, u->href, strlen(u->href)) == 0);
	CHECK(strcmp(again.href, u->href) == 0 && strcmp(again.target, u->target) == 0);
	CHECK(again.port == u->port && again.ipv6 == u->ipv6);
	evc__url_free(&again);
	CHECK(u->target[0] == '/' && u->port != 0 && !strchr(u->href, '#'));
	check_save_path(out, evc__url_save_path(u, out, sizeof out));
	CHECK(evc__url_host_header(u, host, sizeof host) < sizeof host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evc__url base;
	struct evc__url u;
	const char *text = (const char *)data;
	int r;

	if (!base.href)
		CHECK(evc__url_parse(&base, "https://base.test:8443/a/b/c?q", 30) == 0);
	r = evc__url_parse(&u, text, size);
	CHECK(r == 0 || r == EVC_EBADURL);
	if (r == 0)
		check_accepted(&u);
	evc__url_free(&u);
	r = evc__url_resolve(&u, &base, text, size);
	CHECK(r == 0 || r == EVC_EBADURL || r == EVC_EREDIRECT);
	if (r == 0)
		check_accepted(&u);
	evc__url_free(&u);
	return 0;
}
