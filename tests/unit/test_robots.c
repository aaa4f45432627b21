/*
 * robots.txt (src/crawl/robots.c): RFC 9309's examples, then groups,
 * wildcards, '$', percent-encoding, BOM, line ends, comments, oversized
 * files, Crawl-delay and Sitemap lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evcrawl/robots.h"

static evc_robots_t *parse(const char *txt, const char *agent)
{
	evc_robots_t *r;
	assert_int_equal(evc_robots_parse(&r, txt, strlen(txt), agent), 0);
	return r;
}

/* Whether agent may fetch path under txt. */
static bool may(const char *txt, const char *agent, const char *path)
{
	evc_robots_t *r = parse(txt, agent);
	bool ok = evc_robots_allowed(r, path);
	evc_robots_free(r);
	return ok;
}

static const char RFC_5_1[] = "User-Agent: *\n"
			      "Disallow: *.gif$\n"
			      "Disallow: /example/\n"
			      "Allow: /publications/\n"
			      "\n"
			      "User-Agent: foobot\n"
			      "Disallow:/\n"
			      "Allow:/example/page.html\n"
			      "Allow:/example/allowed.gif\n"
			      "\n"
			      "User-Agent: barbot\n"
			      "User-Agent: bazbot\n"
			      "Disallow: /example/page.html\n"
			      "\n"
			      "User-Agent: quxbot\n"
			      "\n"
			      "EOF\n";

static void test_rfc_example(void **state)
{
	/* foobot: its own group only. */
	assert_true(may(RFC_5_1, "foobot", "/example/page.html"));
	assert_true(may(RFC_5_1, "foobot", "/example/allowed.gif"));
	assert_false(may(RFC_5_1, "foobot", "/"));
	assert_false(may(RFC_5_1, "foobot", "/example/other.html"));
	/* barbot and bazbot share a group; the "*" rules are not theirs. */
	assert_false(may(RFC_5_1, "barbot", "/example/page.html"));
	assert_false(may(RFC_5_1, "bazbot", "/example/page.html"));
	assert_true(may(RFC_5_1, "barbot", "/example/other.html"));
	assert_true(may(RFC_5_1, "bazbot", "/x.gif"));
	/* quxbot's group has no rules: everything allowed. */
	assert_true(may(RFC_5_1, "quxbot", "/example/page.html"));
	assert_true(may(RFC_5_1, "quxbot", "/x.gif"));
	/* Anyone else: the "*" group. */
	assert_false(may(RFC_5_1, "evcrawl", "/x.gif"));
	assert_true(may(RFC_5_1, "evcrawl", "/x.gif?size=2"));
	assert_false(may(RFC_5_1, "evcrawl", "/example/"));
	assert_false(may(RFC_5_1, "evcrawl", "/example/a/b"));
	assert_true(may(RFC_5_1, "evcrawl", "/publications/x"));
	assert_true(may(RFC_5_1, "evcrawl", "/"));
	/* RFC 9309 5.2: the longest match wins. */
	const char *lm = "User-Agent: foobot\n"
			 "Allow: /example/page/\n"
			 "Disallow: /example/page/disallowed.gif\n";
	assert_true(may(lm, "foobot", "/example/page/"));
	assert_true(may(lm, "foobot", "/example/page/x.gif"));
	assert_false(may(lm, "foobot", "/example/page/disallowed.gif"));
}

static void test_groups_and_agents(void **state)
{
	const char *txt = "user-agent: EVCRAWL\ndisallow: /a\n"
			  "User-agent: other\nDisallow: /b\n"
			  "User-agent: evcrawl\nDisallow: /c\n" /* merged with the first */
			  "User-agent: *\nDisallow: /d\n";
	assert_false(may(txt, "evcrawl", "/a"));
	assert_true(may(txt, "evcrawl", "/b"));
	assert_false(may(txt, "evcrawl", "/c"));
	assert_true(may(txt, "evcrawl", "/d"));
	/* The product token is what counts: "evcrawl/2.0" names us,
	 * "evcrawlbot" does not. */
	assert_false(may("User-agent: evcrawl/2.0\nDisallow: /\n", "evcrawl", "/x"));
	assert_true(may("User-agent: evcrawlbot\nDisallow: /\n", "evcrawl", "/x"));
	/* Rules before any User-agent line belong to no group. */
	assert_true(may("Disallow: /\nUser-agent: *\nDisallow: /private\n", "evcrawl", "/x"));
	/* Several agents, one group; a rule ends it. */
	txt = "User-agent: a\nUser-agent: evcrawl\nDisallow: /x\nUser-agent: b\nDisallow: /y\n";
	assert_false(may(txt, "evcrawl", "/x"));
	assert_true(may(txt, "evcrawl", "/y"));
	/* Other lines (Host, Noindex, junk) neither start nor end a group. */
	txt = "User-agent: *\nHost: example.com\nDisallow: /x\njunk line\nDisallow: /y\n";
	assert_false(may(txt, "evcrawl", "/y"));
	/* Common misspellings are read as browsers of robots.txt do. */
	assert_false(may("useragent: *\ndissallow: /x\n", "evcrawl", "/x"));
	/* Empty file, empty Disallow: everything allowed. */
	assert_true(may("", "evcrawl", "/x"));
	assert_true(may("User-agent: *\nDisallow:\n", "evcrawl", "/x"));
	/* /robots.txt itself is always allowed. */
	assert_true(may("User-agent: *\nDisallow: /\n", "evcrawl", "/robots.txt"));
	assert_false(may("User-agent: *\nDisallow: /\n", "evcrawl", "/robots.txt.bak"));
}

static void test_matching(void **state)
{
	/* Paths are case-sensitive prefixes. */
	const char *fish = "User-agent: *\nDisallow: /fish\n";
	assert_false(may(fish, "e", "/fish"));
	assert_false(may(fish, "e", "/fish.html"));
	assert_false(may(fish, "e", "/fishheads/yummy.html"));
	assert_false(may(fish, "e", "/fish?id=anything"));
	assert_true(may(fish, "e", "/Fish.asp"));
	assert_true(may(fish, "e", "/catfish"));
	/* '*' anywhere, '$' at the end. */
	const char *php = "User-agent: *\nDisallow: /*.php$\nDisallow: /a*b*c\n";
	assert_false(may(php, "e", "/index.php"));
	assert_false(may(php, "e", "/x/y/index.php"));
	assert_true(may(php, "e", "/index.php?x=1"));
	assert_true(may(php, "e", "/index.php5"));
	assert_false(may(php, "e", "/a-b-c"));
	assert_false(may(php, "e", "/abbbbbbbcccz"));
	assert_true(may(php, "e", "/acb"));
	/* A '$' inside a rule is a plain character. */
	assert_false(may("User-agent: *\nDisallow: /a$b\n", "e", "/a$b"));
	assert_true(may("User-agent: *\nDisallow: /a$b\n", "e", "/ab"));
	/* '$' alone after '/': exactly "/". */
	const char *root = "User-agent: *\nDisallow: /\nAllow: /$\n";
	assert_true(may(root, "e", "/"));
	assert_false(may(root, "e", "/page"));
	/* Longest wins; on a tie, allow wins. */
	assert_true(may("User-agent: *\nDisallow: /page\nAllow: /page\n", "e", "/page"));
	assert_true(may("User-agent: *\nAllow: /page\nDisallow: /page\n", "e", "/page"));
	assert_false(may("User-agent: *\nAllow: /p\nDisallow: /page\n", "e", "/page"));
	assert_true(may("User-agent: *\nDisallow: /p\nAllow: /pa*\n", "e", "/page"));
	/* Pieces in order; an anchored last piece at the very end. */
	assert_false(may("User-agent: *\nDisallow: /*b*a$\n", "e", "/xbya"));
	assert_true(may("User-agent: *\nDisallow: /*b*a$\n", "e", "/xayb"));
	assert_false(may("User-agent: *\nDisallow: /a*$\n", "e", "/ab"));
	assert_false(may("User-agent: *\nDisallow: /*$\n", "e", "/"));
	assert_true(may("User-agent: *\nDisallow: /ab*ab$\n", "e", "/ab"));
	assert_false(may("User-agent: *\nDisallow: /ab*ab$\n", "e", "/abab"));
	/* A pathological file: 2,000 rules of many pieces against a long path
	 * (a backtracking matcher took seconds per check here; this one is
	 * linear in the path per piece). */
	char *big = malloc(2000 * 80 + 64), *w = big;
	w += sprintf(w, "User-agent: *\n");
	for (int i = 0; i < 2000; i++)
		w += sprintf(w, "Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b%d$\n", i);
	char path[8010];
	path[0] = '/';
	memset(path + 1, 'a', 8000);
	path[8001] = '\0';
	evc_robots_t *r = parse(big, "e");
	assert_true(evc_robots_allowed(r, path)); /* none ends in "b<i>" */
	strcpy(path + 8001, "b1999");
	assert_false(evc_robots_allowed(r, path));
	evc_robots_free(r);
	free(big);
}

static void test_percent_encoding(void **state)
{
	/* RFC 9309 2.2.2: UTF-8 and its percent-encoding are the same. */
	const char *utf8 = "User-agent: *\nDisallow: /foo/bar/\xE3\x83\x84\n";
	assert_false(may(utf8, "e", "/foo/bar/%E3%83%84"));
	assert_false(may(utf8, "e", "/foo/bar/%e3%83%84"));
	assert_false(
	    may("User-agent: *\nDisallow: /foo/bar/%E3%83%84\n", "e", "/foo/bar/%E3%83%84"));
	/* Encoded unreserved characters match their plain selves. */
	const char *baz = "User-agent: *\nDisallow: /foo/bar/%62%61%7A\n";
	assert_false(may(baz, "e", "/foo/bar/baz"));
	assert_false(may("User-agent: *\nDisallow: /~joe\n", "e", "/%7Ejoe/x"));
	/* Reserved ones stay what they are: "%2F" is not a path separator. */
	assert_true(may("User-agent: *\nDisallow: /a%2Fb\n", "e", "/a/b"));
	assert_false(may("User-agent: *\nDisallow: /a%2Fb\n", "e", "/a%2fb"));
	assert_true(may("User-agent: *\nDisallow: /a/b\n", "e", "/a%2Fb"));
	/* An encoded '*' is a literal star, not a wildcard. */
	const char *star = "User-agent: *\nDisallow: /a%2Ab\n";
	assert_false(may(star, "e", "/a*b"));
	assert_true(may(star, "e", "/axb"));
	/* '%25' stays a percent sign. */
	assert_true(may("User-agent: *\nDisallow: /a%2541\n", "e", "/aA"));
	assert_false(may("User-agent: *\nDisallow: /a%2541\n", "e", "/a%2541"));
}

static void test_format(void **state)
{
	/* BOM, CRLF, CR alone, tabs, comments, no newline at the end. */
	const char *txt = "\xEF\xBB\xBFUser-agent: *\r\nDisallow: /a # not /b\r"
			  "\tDisallow\t:\t/c\t\n# Disallow: /d\nDisallow: /e";
	assert_false(may(txt, "e", "/a"));
	assert_true(may(txt, "e", "/b"));
	assert_false(may(txt, "e", "/c"));
	assert_true(may(txt, "e", "/d"));
	assert_false(may(txt, "e", "/e"));
	/* NUL bytes and binary junk are read past, not choked on. */
	const char junk[] = "User-agent: *\n\x00\x01\xff\nDisallow: /z\n";
	evc_robots_t *r;
	assert_int_equal(evc_robots_parse(&r, junk, sizeof junk - 1, "e"), 0);
	assert_false(evc_robots_allowed(r, "/z"));
	evc_robots_free(r);
	/* Only the first 500 KiB are read. */
	size_t n = EVC_ROBOTS_MAX_BYTES + 100;
	char *big = malloc(n + 64);
	assert_non_null(big);
	memset(big, '\n', n);
	memcpy(big, "User-agent: *\nDisallow: /early\n", 31);
	strcpy(big + n, "Disallow: /late\n");
	assert_int_equal(evc_robots_parse(&r, big, strlen(big), "e"), 0);
	assert_false(evc_robots_allowed(r, "/early"));
	assert_true(evc_robots_allowed(r, "/late"));
	evc_robots_free(r);
	free(big);
}

static void test_delay_sitemaps_and_all(void **state)
{
	const char *txt = "Sitemap: http://127.0.0.1/s1.xml\n"
			  "User-agent: evcrawl\nCrawl-delay: 2.5\nDisallow: /x\n"
			  "User-agent: *\nCrawl-delay: 10\n"
			  "sitemap:http://127.0.0.1/s2.xml.gz\n";
	evc_robots_t *r = parse(txt, "evcrawl");
	assert_int_equal(evc_robots_crawl_delay_ms(r), 2500);
	const char *const *maps;
	assert_int_equal(evc_robots_sitemaps(r, &maps), 2);
	assert_string_equal(maps[0], "http://127.0.0.1/s1.xml");
	assert_string_equal(maps[1], "http://127.0.0.1/s2.xml.gz");
	evc_robots_free(r);
	r = parse(txt, "other");
	assert_int_equal(evc_robots_crawl_delay_ms(r), 10000);
	evc_robots_free(r);
	r = parse("User-agent: *\nCrawl-delay: soon\n", "e");
	assert_int_equal(evc_robots_crawl_delay_ms(r), 0);
	evc_robots_free(r);
	/* What a 4xx and a 5xx give. */
	r = evc_robots_new_all(true);
	assert_true(evc_robots_allowed(r, "/anything"));
	evc_robots_free(r);
	r = evc_robots_new_all(false);
	assert_false(evc_robots_allowed(r, "/anything"));
	assert_false(evc_robots_allowed(r, "/"));
	assert_true(evc_robots_allowed(r, "/robots.txt"));
	evc_robots_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_example), cmocka_unit_test(test_groups_and_agents),
	    cmocka_unit_test(test_matching),	cmocka_unit_test(test_percent_encoding),
	    cmocka_unit_test(test_format),	cmocka_unit_test(test_delay_sitemaps_and_all),
	};
	return cmocka_run_group_tests_name("robots", tests, NULL, NULL);
}
