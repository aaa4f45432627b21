/*
 * Link extraction (src/crawl/links.c): what is a link and what is not,
 * resolution against the page and <base>, nofollow, broken HTML, and the
 * same answer however the body is split into chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crawl/links.h"

static char got[8192];

static int on_link(void *arg, const struct evc__url *u, const char *tag)
{
	size_t n = strlen(got);
	snprintf(got + n, sizeof got - n, "%s %s\n", tag, u->href);
	return 0;
}

/* The links of html at page, fed in chunks of `step` bytes (0: whole). */
static const char *links(const char *page, const char *html, const char *charset, size_t step)
{
	struct evc__url base;
	assert_int_equal(evc__url_parse(&base, page, strlen(page)), 0);
	struct evc__links *l;
	assert_int_equal(evc__links_new(&l, &base, charset, on_link, NULL), 0);
	got[0] = '\0';
	size_t len = strlen(html);
	if (!step)
		step = len;
	for (size_t i = 0; i < len; i += step)
		assert_int_equal(evc__links_feed(l, html + i, len - i < step ? len - i : step), 0);
	assert_int_equal(evc__links_end(l), 0);
	evc__links_free(l);
	evc__url_free(&base);
	return got;
}

static const char PAGE[] =
    "<!DOCTYPE html><html><head><title>t</title>\n"
    "<link rel=stylesheet href=/s.css><link rel=\"next\" href=\"page2.html\">\n"
    "<link rel=\"alternate stylesheet\" href=/alt.css><LINK REL=canonical HREF=/canon>\n"
    "<link rel=icon href=/favicon.ico></head><body>\n"
    "<a href=\"rel/x.html\">x</a> <a href='/abs?q=1&amp;r=2#frag'>abs</a>\n"
    "<a href=\"http://127.0.0.2:8080/other\">other host</a>\n"
    "<a href=\"#top\">top</a><a href=\"mailto:x@127.0.0.1\">m</a>\n"
    "<a href=\"javascript:void(0)\">j</a><a href=\"ftp://127.0.0.1/f\">f</a>\n"
    "<a href=\"/no\" rel=\"nofollow\">no</a><a>no href</a>\n"
    "<A HREF=\"  /spaced\n  path  \">s</A>\n" /* line breaks go, spaces stay */
    "<area href=\"/map\" alt=m><iframe src=\"frame.html\"></iframe>\n"
    "<frame src=\"//127.0.0.3/f\">\n"
    "<meta http-equiv=\"refresh\" content=\"5; URL='/later'\">\n"
    "<a href=../up.html>up</a><a href=\"/caf\xc3\xa9\">utf8</a>\n"
    "<div><a href=unclosed.html>broken <b>html</div>\n"
    "</body></html>\n";

static const char WANT[] = "link http://127.0.0.1/d/page2.html\n"
			   "link http://127.0.0.1/canon\n"
			   "a http://127.0.0.1/d/rel/x.html\n"
			   "a http://127.0.0.1/abs?q=1&r=2\n"
			   "a http://127.0.0.2:8080/other\n"
			   "a http://127.0.0.1/spaced%20%20path\n"
			   "area http://127.0.0.1/map\n"
			   "iframe http://127.0.0.1/d/frame.html\n"
			   "frame http://127.0.0.3/f\n"
			   "meta http://127.0.0.1/later\n"
			   "a http://127.0.0.1/up.html\n"
			   "a http://127.0.0.1/caf%C3%A9\n"
			   "a http://127.0.0.1/d/unclosed.html\n";

static void test_what_is_a_link(void **state)
{
	assert_string_equal(links("http://127.0.0.1/d/index.html", PAGE, "utf-8", 0), WANT);
}

static void test_any_split(void **state)
{
	size_t steps[] = {1, 2, 3, 7, 64, 500};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		assert_string_equal(links("http://127.0.0.1/d/index.html", PAGE, "utf-8", steps[i]),
				    WANT);
}

static void test_base_and_nofollow(void **state)
{
	const char *html = "<html><head><base href=\"http://127.0.0.4/b/\">"
			   "<base href=\"/ignored/\"></head>"
			   "<body><a href=x>x</a><a href=/y>y</a></body></html>";
	assert_string_equal(links("http://127.0.0.1/d/", html, NULL, 0),
			    "a http://127.0.0.4/b/x\na http://127.0.0.4/y\n");
	/* A relative <base> resolves against the page. */
	assert_string_equal(
	    links("http://127.0.0.1/d/p", "<base href=sub/><a href=x>x</a>", NULL, 0),
	    "a http://127.0.0.1/d/sub/x\n");
	/* meta robots nofollow (or none): no links at all. */
	const char *nf = "<head><meta name=\"ROBOTS\" content=\"noindex, NOFOLLOW\"></head>"
			 "<a href=/a>a</a>";
	assert_string_equal(links("http://127.0.0.1/", nf, NULL, 0), "");
	assert_string_equal(
	    links("http://127.0.0.1/", "<meta name=robots content=none><a href=/a>a</a>", NULL, 0),
	    "");
	assert_string_equal(links("http://127.0.0.1/",
				  "<meta name=robots content=noindex><a href=/a>a</a>", NULL, 0),
			    "a http://127.0.0.1/a\n");
}

static void test_not_html_at_all(void **state)
{
	/* Binary junk or plain text: nothing, and no crash. */
	char junk[4096];
	for (size_t i = 0; i < sizeof junk - 1; i++)
		junk[i] = (char)(1 + (i * 7919) % 255);
	junk[sizeof junk - 1] = '\0';
	links("http://127.0.0.1/", junk, NULL, 13);
	assert_string_equal(links("http://127.0.0.1/", "just text, <not a tag", NULL, 0), "");
	assert_string_equal(links("http://127.0.0.1/", "", NULL, 0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_what_is_a_link),
	    cmocka_unit_test(test_any_split),
	    cmocka_unit_test(test_base_and_nofollow),
	    cmocka_unit_test(test_not_html_at_all),
	};
	return cmocka_run_group_tests_name("links", tests, NULL, NULL);
}
