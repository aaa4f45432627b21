/*
 * libFuzzer harness for src/crawl/sitemap.c: a sitemap body (a <urlset>, a
 * <sitemapindex>, or anything), cut into the pieces the input chooses (see
 * fuzz_split.h) and fed as it would stream in, then its end. With OPTS bit
 * 0 the payload is gzipped first (a sitemap.xml.gz served as is; bit 1 then
 * drops the stream's last 5 bytes), so the inflating path gets valid
 * streams to read. Every <loc> handed out must be non-empty, trimmed and
 * shorter than 8 KiB, and no more than 50,000 of them. Built and run by
 * `make fuzz`.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "crawl/sitemap.h"
#include "fuzz_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_loc(void *arg, const char *loc, bool is_sitemap)
{
	unsigned *n = arg;
	size_t len = strlen(loc);
	FUZZ_CHECK(len > 0 && len < 8192);
	FUZZ_CHECK(!isspace((unsigned char)loc[0]) && !isspace((unsigned char)loc[len - 1]));
	FUZZ_CHECK(++*n <= 50000);
}

/* The payload as a gzip stream (malloc'd), or NULL. */
static unsigned char *gzip(const uint8_t *data, size_t size, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&z, size);
	unsigned char *out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_split sp;
	uint8_t opts;
	unsigned char *gz = NULL;

	if (!fuzz_split_take(&data, &size, &opts, &sp))
		return 0;
	if (opts & 1) {
		size_t n;
		if (!(gz = gzip(data, size, &n)))
			return 0;
		if ((opts & 2) && n > 5)
			n -= 5;
		data = gz;
		size = n;
	}
	unsigned count = 0;
	struct evc__sitemap *s;
	FUZZ_CHECK(evc__sitemap_new(&s, on_loc, &count) == 0);
	for (size_t off = 0; off < size;) {
		size_t n = fuzz_split_next(&sp, size - off);
		char *piece = fuzz_copy(data + off, n);
		evc__sitemap_feed(s, piece, n);
		free(piece);
		off += n;
	}
	evc__sitemap_end(s);
	evc__sitemap_free(s);
	free(gz);
	return 0;
}
