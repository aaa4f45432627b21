/*
 * libFuzzer harness for src/crawl/links.c: an HTML body, cut into the pieces
 * the input chooses (see fuzz_split.h), fed to the link extractor as it
 * would stream in, then its end. Every link handed out must be an absolute
 * http(s) URL that parses back to itself, without fragment, from one of the
 * elements links.h names. Built and run by `make fuzz`.
 *
 * OPTS: bits 0-2 the Content-Type charset (none, utf-8, iso-8859-1,
 * windows-1252, shift_jis, utf-16le, a bogus name, ""), bits 3-4 the page's
 * URL, bit 5 the callback stops the extraction at the third link.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/links.h"
#include "fuzz_split.h"
#include "util/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned n;
	bool stop_at_3, stopped;
};

static int on_link(void *arg, const struct evc__url *u, const char *tag)
{
	struct seen *s = arg;
	FUZZ_CHECK(!s->stopped);
	FUZZ_CHECK(strcmp(tag, "a") == 0 || strcmp(tag, "area") == 0 || strcmp(tag, "link") == 0 ||
		   strcmp(tag, "frame") == 0 || strcmp(tag, "iframe") == 0 ||
		   strcmp(tag, "meta") == 0);
	FUZZ_CHECK(strncmp(u->href, "http://", 7) == 0 || strncmp(u->href, "https://", 8) == 0);
	FUZZ_CHECK(!strchr(u->href, '#') && u->target[0] == '/' && u->host[0]);
	struct evc__url again;
	FUZZ_CHECK(evc__url_parse(&again, u->href, strlen(u->href)) == 0);
	FUZZ_CHECK(strcmp(again.href, u->href) == 0);
	evc__url_free(&again);
	s->n++;
	if (s->stop_at_3 && s->n == 3) {
		s->stopped = true;
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const charsets[] = {NULL,	       "utf-8",	    "iso-8859-1",
					       "windows-1252", "shift_jis", "utf-16le",
					       "no-such-set",  ""};
	static const char *const pages[] = {"http://a.test/dir/page.html",
					    "https://b.test:8443/x/y?q=1", "http://[::1]:8080/",
					    "http://xn--bcher-kva.test/a/b/"};
	struct fuzz_split sp;
	uint8_t opts;

	if (!fuzz_split_take(&data, &size, &opts, &sp))
		return 0;
	const char *page = pages[(opts >> 3) & 3];
	struct evc__url base;
	FUZZ_CHECK(evc__url_parse(&base, page, strlen(page)) == 0);
	struct seen s = {.stop_at_3 = opts & 32};
	struct evc__links *l;
	FUZZ_CHECK(evc__links_new(&l, &base, charsets[opts & 7], on_link, &s) == 0);
	evc__url_free(&base); /* the extractor keeps its own copy */
	int rc = 0;
	for (size_t off = 0; off < size && !rc;) {
		size_t n = fuzz_split_next(&sp, size - off);
		char *piece = fuzz_copy(data + off, n);
		rc = evc__links_feed(l, piece, n);
		free(piece);
		off += n;
	}
	if (!rc)
		rc = evc__links_end(l);
	FUZZ_CHECK(rc == (s.stopped ? 1 : 0));
	int nofollow = evc__links_nofollow(l);
	FUZZ_CHECK(nofollow == 0 || nofollow == 1);
	evc__links_free(l);
	return 0;
}
