/*
 * Sitemaps (src/crawl/sitemap.c): a urlset and an index, gzip or not, fed
 * whole or byte by byte; whitespace, entities and CDATA in <loc>; no
 * external entity is ever read; junk gives nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "crawl/sitemap.h"

static char got[8192];

static void on_loc(void *arg, const char *loc, bool is_sitemap)
{
	size_t n = strlen(got);
	snprintf(got + n, sizeof got - n, "%s %s\n", is_sitemap ? "sitemap" : "url", loc);
}

static const char *read_all(const char *body, size_t len, size_t step)
{
	struct evc__sitemap *s;
	assert_int_equal(evc__sitemap_new(&s, on_loc, NULL), 0);
	got[0] = '\0';
	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		evc__sitemap_feed(s, body + i, len - i < step ? len - i : step);
	evc__sitemap_end(s);
	evc__sitemap_free(s);
	return got;
}

static const char URLSET[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
    "<url><loc>http://127.0.0.1/a.html</loc><lastmod>2026-01-01</lastmod></url>\n"
    "<url><loc>\n   http://127.0.0.1/b?x=1&amp;y=2  \n</loc></url>\n"
    "<url><loc><![CDATA[http://127.0.0.1/c]]></loc><priority>0.5</priority></url>\n"
    "<url><loc></loc></url>\n"
    "</urlset>\n";
static const char WANT_URLSET[] = "url http://127.0.0.1/a.html\n"
				  "url http://127.0.0.1/b?x=1&y=2\n"
				  "url http://127.0.0.1/c\n";

static void test_urlset_any_split(void **state)
{
	size_t steps[] = {0, 1, 2, 5, 64};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		assert_string_equal(read_all(URLSET, strlen(URLSET), steps[i]), WANT_URLSET);
}

static void test_index(void **state)
{
	const char *idx = "<?xml version=\"1.0\"?>\n<sitemapindex "
			  "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
			  "<sitemap><loc>http://127.0.0.1/s1.xml</loc></sitemap>"
			  "<sitemap><loc>http://127.0.0.1/s2.xml.gz</loc></sitemap>"
			  "</sitemapindex>";
	assert_string_equal(
	    read_all(idx, strlen(idx), 3),
	    "sitemap http://127.0.0.1/s1.xml\nsitemap http://127.0.0.1/s2.xml.gz\n");
}

static void test_gzip(void **state)
{
	unsigned char gz[4096];
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (unsigned char *)URLSET;
	z.avail_in = (uInt)strlen(URLSET);
	z.next_out = gz;
	z.avail_out = sizeof gz;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t n = sizeof gz - z.avail_out;
	deflateEnd(&z);
	assert_string_equal(read_all((const char *)gz, n, 0), WANT_URLSET);
	assert_string_equal(read_all((const char *)gz, n, 1), WANT_URLSET);
	/* Cut short: what came before the cut. */
	read_all((const char *)gz, n / 2, 7);
}

static void test_no_external_entities(void **state)
{
	/* An XXE attempt: the entity is not expanded and nothing is read. */
	const char *xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE u [<!ENTITY x SYSTEM "
			  "\"file:///etc/hostname\">]>\n<urlset><url><loc>http://127.0.0.1/&x;"
			  "</loc></url></urlset>";
	const char *r = read_all(xxe, strlen(xxe), 0);
	assert_null(strstr(r, "\n\n"));
	assert_true(strcmp(r, "") == 0 || strcmp(r, "url http://127.0.0.1/\n") == 0);
}

static void test_junk(void **state)
{
	assert_string_equal(read_all("", 0, 0), "");
	assert_string_equal(read_all("x", 1, 0), "");
	assert_string_equal(read_all("<html><a href=/x>not a sitemap</a>", 33, 4), "");
	char junk[3000];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)((i * 131) % 256);
	read_all(junk, sizeof junk, 17);
	junk[0] = 0x1f;
	junk[1] = (char)0x8b; /* gzip magic, then garbage */
	read_all(junk, sizeof junk, 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_urlset_any_split),
	    cmocka_unit_test(test_index),
	    cmocka_unit_test(test_gzip),
	    cmocka_unit_test(test_no_external_entities),
	    cmocka_unit_test(test_junk),
	};
	return cmocka_run_group_tests_name("sitemap", tests, NULL, NULL);
}
