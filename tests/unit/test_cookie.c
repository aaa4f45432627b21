/*
 * The cookie store alone (src/crawl/cookies.c): RFC 6265 dates, domain and
 * path matching, Set-Cookie's attributes, the public suffix refusal,
 * expiry and deletion, the Cookie header's order, the limits, and the
 * Netscape cookie file read and written back. Time is a number the tests
 * pick (NOW), except in the file tests, where the jar reads the clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crawl/cookies.h"
#include "http/response.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static evc_cookie_jar_t *jar;

static int setup(void **state)
{
	return evc_cookie_jar_new(&jar);
}

static int teardown(void **state)
{
	evc_cookie_jar_free(jar);
	jar = NULL;
	return 0;
}

/* Set-Cookie s as received from url at time now. */
static int set_at(const char *url, const char *s, int64_t now)
{
	struct evc__url u;
	assert_int_equal(evc__url_parse(&u, url, strlen(url)), 0);
	int rc = evc__cookies_set(jar, &u, s, strlen(s), now);
	evc__url_free(&u);
	return rc;
}

static int set(const char *url, const char *s)
{
	return set_at(url, s, NOW);
}

/* The Cookie header for url at time now ("" when none). */
static const char *header_at(const char *url, int64_t now)
{
	static char buf[16384];
	struct evc__url u;
	assert_int_equal(evc__url_parse(&u, url, strlen(url)), 0);
	size_t n = evc__cookies_header(jar, &u, now, buf, sizeof buf);
	evc__url_free(&u);
	assert_int_equal(n, strlen(buf));
	return buf;
}

static const char *header(const char *url)
{
	return header_at(url, NOW);
}

static int64_t date(const char *s)
{
	int64_t t;
	return evc__cookie_date(s, strlen(s), &t) ? t : -1;
}

/* ---- the rules ----------------------------------------------------------------- */

static void test_dates(void **state)
{
	/* The three forms RFC 7231 names, and what servers really send. */
	assert_int_equal(date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
	assert_int_equal(date("Sun Nov  6 08:49:37 1994"), 784111777);
	assert_int_equal(date("Wed, 15-Jan-2027 08:00:00 UTC"), NOW);
	assert_int_equal(date("15 jan 2027 08:00:00"), NOW);
	assert_int_equal(date("2027 JANUARY 15 8:0:0"), NOW);
	assert_int_equal(date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
	assert_int_equal(date("Thu, 01 Jan 1970 00:00:01 GMT"), 1);
	assert_int_equal(date("Fri, 31 Dec 1999 23:59:59 GMT"), 946684799);
	assert_int_equal(date("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
	assert_int_equal(date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
	/* Two-digit years: 70-99 are 19xx, 00-69 20xx. */
	assert_int_equal(date("01 Jan 69 00:00:00"), date("01 Jan 2069 00:00:00"));
	assert_int_equal(date("01 Jan 70 00:00:00"), 0);
	/* Before 1970 is a date too (in the past: it deletes). */
	assert_int_equal(date("Mon, 01 Jan 1900 00:00:00 GMT"), -2208988800LL);
	/* Not dates: a part missing or out of range, a day that does not exist. */
	int64_t t;
	assert_false(evc__cookie_date("Sun, 06 Nov 1994", 16, &t));
	assert_false(evc__cookie_date("06 Nov 08:49:37", 15, &t));
	assert_false(evc__cookie_date("Sun, 32 Nov 1994 08:49:37", 25, &t));
	assert_false(evc__cookie_date("Sun, 06 Xyz 1994 08:49:37", 25, &t));
	assert_false(evc__cookie_date("Sun, 06 Nov 1994 24:00:00", 25, &t));
	assert_false(evc__cookie_date("Sun, 06 Nov 1600 08:49:37", 25, &t));
	assert_false(evc__cookie_date("Sat, 31 Feb 2027 00:00:00", 25, &t));
	assert_false(evc__cookie_date("Mon, 29 Feb 2100 00:00:00", 25, &t));
	assert_false(evc__cookie_date("Sun, 06 Nov 19945 08:49:37", 26, &t));
	assert_false(evc__cookie_date("", 0, &t));
	assert_false(evc__cookie_date("0", 1, &t));
}

static void test_domain_match(void **state)
{
	assert_true(evc__cookie_domain_match("example.com", "example.com"));
	assert_true(evc__cookie_domain_match("www.example.com", "example.com"));
	assert_true(evc__cookie_domain_match("a.b.example.com", "example.com"));
	assert_false(evc__cookie_domain_match("badexample.com", "example.com"));
	assert_false(evc__cookie_domain_match("example.com", "www.example.com"));
	assert_false(evc__cookie_domain_match("example.com.evil", "example.com"));
	/* An address matches only itself. */
	assert_true(evc__cookie_domain_match("127.0.0.1", "127.0.0.1"));
	assert_false(evc__cookie_domain_match("127.0.0.1", "0.0.1"));
	assert_false(evc__cookie_domain_match("10.0.0.1", "0.1"));
}

static void test_path_match(void **state)
{
	assert_true(evc__cookie_path_match("/", 1, "/"));
	assert_true(evc__cookie_path_match("/docs", 5, "/docs"));
	assert_true(evc__cookie_path_match("/docs/", 6, "/docs"));
	assert_true(evc__cookie_path_match("/docs/a", 7, "/docs"));
	assert_true(evc__cookie_path_match("/docs/a", 7, "/docs/"));
	assert_true(evc__cookie_path_match("/anything", 9, "/"));
	assert_false(evc__cookie_path_match("/docsx", 6, "/docs"));
	assert_false(evc__cookie_path_match("/doc", 4, "/docs"));
	assert_false(evc__cookie_path_match("/", 1, "/docs"));
	/* Case matters in paths. */
	assert_false(evc__cookie_path_match("/Docs", 5, "/docs"));
}

static const char *default_path(const char *target)
{
	static char buf[256];
	size_t n = evc__cookie_default_path(target, buf, sizeof buf);
	assert_int_equal(n, strlen(buf));
	return buf;
}

static void test_default_path(void **state)
{
	assert_string_equal(default_path("/"), "/");
	assert_string_equal(default_path("/x"), "/");
	assert_string_equal(default_path("/a/b"), "/a");
	assert_string_equal(default_path("/a/b/"), "/a/b");
	assert_string_equal(default_path("/a/b/c.html?x=/y/z"), "/a/b");
	assert_string_equal(default_path(""), "/");
	assert_string_equal(default_path("x/y"), "/");
}

/* ---- Set-Cookie ------------------------------------------------------------------ */

static void test_parse(void **state)
{
	const char *u = "http://www.example.com/dir/page";
	assert_int_equal(set(u, "a=1"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "  b  =  two words  ; Path=/"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "c=; path=/"), EVC__COOKIE_STORED);    /* empty value */
	assert_int_equal(set(u, "d=x=y; Path=/"), EVC__COOKIE_STORED); /* '=' in the value */
	assert_int_equal(set(u, "e=\"quoted\"; Path=/; Unknown=1; SameSite=Lax"),
			 EVC__COOKIE_STORED);
	/* Not cookies: no '=', an empty name, control characters. */
	assert_int_equal(set(u, "noequals"), EVC__COOKIE_BAD);
	assert_int_equal(set(u, "=value"), EVC__COOKIE_BAD);
	assert_int_equal(set(u, " =value; Path=/"), EVC__COOKIE_BAD);
	assert_int_equal(set(u, "f=a\001b"), EVC__COOKIE_BAD);
	assert_int_equal(set(u, "f=1; Path=/\001"), EVC__COOKIE_BAD);
	assert_int_equal(set(u, "f=a\tb"), EVC__COOKIE_BAD); /* would break the file */
	assert_int_equal(set(u, ""), EVC__COOKIE_BAD);
	assert_string_equal(header("http://www.example.com/dir/page"),
			    "a=1; b=two words; c=; d=x=y; e=\"quoted\"");
	/* Default path /dir: not sent to /, nor to /directory. */
	assert_string_equal(header("http://www.example.com/"),
			    "b=two words; c=; d=x=y; e=\"quoted\"");
	assert_string_equal(header("http://www.example.com/directory"),
			    "b=two words; c=; d=x=y; e=\"quoted\"");
	/* A relative Path is ignored (the default path stands). */
	assert_int_equal(set(u, "g=1; Path=relative"), EVC__COOKIE_STORED);
	assert_string_equal(header("http://www.example.com/dir/"),
			    "a=1; g=1; b=two words; c=; d=x=y; e=\"quoted\"");
}

static void test_domain_attribute(void **state)
{
	const char *u = "http://www.example.com/";
	/* Host-only without Domain: not for a subdomain or the parent. */
	assert_int_equal(set(u, "host=1"), EVC__COOKIE_STORED);
	/* Domain (a leading dot ignored, any case): the domain and below. */
	assert_int_equal(set(u, "dom=2; Domain=.Example.COM"), EVC__COOKIE_STORED);
	/* The host itself as Domain: for its subdomains too. */
	assert_int_equal(set(u, "self=3; Domain=www.example.com"), EVC__COOKIE_STORED);
	/* Not a domain the host is in. */
	assert_int_equal(set(u, "x=1; Domain=other.com"), EVC__COOKIE_DOMAIN);
	assert_int_equal(set(u, "x=1; Domain=a.www.example.com"), EVC__COOKIE_DOMAIN);
	assert_int_equal(set(u, "x=1; Domain=ample.com"), EVC__COOKIE_DOMAIN);
	/* An empty Domain is ignored: host-only. */
	assert_int_equal(set(u, "empty=4; Domain="), EVC__COOKIE_STORED);
	assert_string_equal(header("http://www.example.com/"), "host=1; dom=2; self=3; empty=4");
	assert_string_equal(header("http://a.www.example.com/"), "dom=2; self=3");
	assert_string_equal(header("http://example.com/"), "dom=2");
	assert_string_equal(header("http://other.example.com/"), "dom=2");
	assert_string_equal(header("http://badexample.com/"), "");
	/* The port does not matter (RFC 6265 8.5). */
	assert_string_equal(header("http://www.example.com:8080/"),
			    "host=1; dom=2; self=3; empty=4");
}

static void test_public_suffix(void **state)
{
	/* A public suffix is refused... */
	assert_int_equal(set("http://www.example.co.uk/", "a=1; Domain=co.uk"), EVC__COOKIE_DOMAIN);
	assert_int_equal(set("http://www.example.co.uk/", "a=1; Domain=.uk"), EVC__COOKIE_DOMAIN);
	assert_int_equal(set("http://www.example.com/", "a=1; Domain=com"), EVC__COOKIE_DOMAIN);
	/* ... and so is an unknown top-level name (the list's "*" rule). */
	assert_int_equal(set("http://h01.test/", "a=1; Domain=test"), EVC__COOKIE_DOMAIN);
	/* A registrable domain below one is fine. */
	assert_int_equal(set("http://www.example.co.uk/", "b=2; Domain=example.co.uk"),
			 EVC__COOKIE_STORED);
	assert_int_equal(set("http://h01.test/", "t=1; Domain=h01.test"), EVC__COOKIE_STORED);
	/* A host that is a public suffix may name itself: host-only. */
	assert_int_equal(set("http://co.uk/", "c=3; Domain=co.uk"), EVC__COOKIE_STORED);
	assert_string_equal(header("http://co.uk/"), "c=3");
	assert_string_equal(header("http://www.co.uk/"), "");
	assert_string_equal(header("http://other.example.co.uk/"), "b=2");
	assert_string_equal(header("http://other.co.uk/"), "");
	assert_int_equal(evc_cookie_jar_count(jar), 3);
}

static void test_ip_hosts(void **state)
{
	assert_int_equal(set("http://127.0.0.1:8080/", "a=1"), EVC__COOKIE_STORED);
	assert_int_equal(set("http://127.0.0.1/", "b=2; Domain=127.0.0.1"), EVC__COOKIE_STORED);
	assert_int_equal(set("http://127.0.0.1/", "c=3; Domain=0.0.1"), EVC__COOKIE_DOMAIN);
	assert_int_equal(set("http://[::1]/", "d=4"), EVC__COOKIE_STORED);
	assert_string_equal(header("http://127.0.0.1/"), "a=1; b=2");
	assert_string_equal(header("http://[::1]/"), "d=4");
	assert_string_equal(header("http://127.0.0.2/"), "");
	/* A name under a numeric top label may not claim the address. */
	assert_int_equal(set("http://x.1.2.3.4/", "e=5; Domain=1.2.3.4"), EVC__COOKIE_DOMAIN);
}

static void test_trailing_dot(void **state)
{
	/* "evil.co.uk." is evil.co.uk: co.uk. is still a public suffix. */
	assert_int_equal(set("http://evil.co.uk./", "t=1; Domain=co.uk."), EVC__COOKIE_DOMAIN);
	assert_int_equal(set("http://evil.co.uk./", "t=2; Domain=co.uk"), EVC__COOKIE_DOMAIN);
	assert_string_equal(header("http://bank.co.uk./"), "");
	assert_string_equal(header("http://bank.co.uk/"), "");
	/* A host with its trailing dot is the host without it. */
	assert_int_equal(set("http://www.example.com./", "u=3; Domain=example.com."),
			 EVC__COOKIE_STORED);
	assert_string_equal(header("http://example.com/"), "u=3");
	assert_string_equal(header("http://a.example.com./"), "u=3");
	/* A default path longer than a cookie file takes is refused (saved,
	 * the jar could not be read back). */
	char url[1600] = "http://h.example.com/";
	memset(url + strlen(url), 'p', 1500);
	strcpy(url + strlen(url) - 0, "/x");
	assert_int_equal(set(url, "long=1"), EVC__COOKIE_TOO_BIG);
}

static void test_secure_shadowing(void **state)
{
	/* RFC 6265bis "leave secure cookies alone": from http, no cookie of a
	 * Secure one's name on an overlapping domain and a path inside its. */
	assert_int_equal(set("https://a.example.com/", "s=1; Secure; Path=/"), EVC__COOKIE_STORED);
	assert_int_equal(set("http://a.example.com/", "s=evil; Path=/x"), EVC__COOKIE_SECURE);
	assert_int_equal(set("http://a.example.com/", "s=evil2; Domain=example.com; Path=/"),
			 EVC__COOKIE_SECURE);
	assert_int_equal(set("http://b.a.example.com/", "s=evil3; Path=/"), EVC__COOKIE_SECURE);
	/* Another name, an unrelated domain, or over https: fine. */
	assert_int_equal(set("http://a.example.com/", "t=1; Path=/x"), EVC__COOKIE_STORED);
	assert_int_equal(set("http://other.example.org/", "s=2"), EVC__COOKIE_STORED);
	assert_int_equal(set("https://a.example.com/", "s=3; Path=/x"), EVC__COOKIE_STORED);
	assert_string_equal(header("https://a.example.com/x/y"), "t=1; s=3; s=1");
}

static void test_secure(void **state)
{
	/* Secure: set over https, sent over https only. */
	assert_int_equal(set("https://a.example.com/", "s=1; Secure"), EVC__COOKIE_STORED);
	assert_int_equal(set("https://a.example.com/", "p=2"), EVC__COOKIE_STORED);
	assert_string_equal(header("https://a.example.com/"), "s=1; p=2");
	assert_string_equal(header("http://a.example.com/"), "p=2");
	/* Not settable over http (RFC 6265bis), nor overwritten from there. */
	assert_int_equal(set("http://a.example.com/", "t=1; Secure"), EVC__COOKIE_SECURE);
	assert_int_equal(set("http://a.example.com/", "s=evil"), EVC__COOKIE_SECURE);
	assert_int_equal(set("http://a.example.com/", "s=; Max-Age=0"), EVC__COOKIE_SECURE);
	assert_string_equal(header("https://a.example.com/"), "s=1; p=2");
	/* The prefixes. */
	assert_int_equal(set("https://a.example.com/", "__Secure-a=1"), EVC__COOKIE_SECURE);
	assert_int_equal(set("https://a.example.com/", "__Secure-a=1; Secure; Domain=example.com"),
			 EVC__COOKIE_STORED);
	assert_int_equal(set("https://a.example.com/", "__Host-b=1; Secure; Domain=example.com"),
			 EVC__COOKIE_SECURE);
	assert_int_equal(set("https://a.example.com/", "__Host-b=1; Secure; Path=/x"),
			 EVC__COOKIE_SECURE);
	assert_int_equal(set("https://a.example.com/x/", "__Host-b=1; Secure"),
			 EVC__COOKIE_SECURE); /* Path=/ must be said */
	assert_int_equal(set("https://localhost/", "__Host-b=1; Secure; Path=/; Domain=localhost"),
			 EVC__COOKIE_SECURE); /* no Domain at all */
	assert_int_equal(set("https://a.example.com/", "__secure-c=1"), EVC__COOKIE_SECURE);
	assert_int_equal(set("https://a.example.com/", "__Host-b=1; Secure; Path=/"),
			 EVC__COOKIE_STORED);
	assert_string_equal(header("https://a.example.com/"), "s=1; p=2; __Secure-a=1; __Host-b=1");
}

static void test_expiry(void **state)
{
	const char *u = "http://x.example.com/";
	assert_int_equal(set(u, "m=1; Max-Age=60"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "e=2; Expires=Fri, 15 Jan 2027 08:01:30 GMT"), EVC__COOKIE_STORED);
	/* Max-Age wins over Expires, whichever comes first. */
	assert_int_equal(set(u, "w=3; Max-Age=120; Expires=Fri, 15 Jan 2027 08:00:30 GMT"),
			 EVC__COOKIE_STORED);
	assert_int_equal(set(u, "v=4; Expires=Thu, 01 Jan 2026 00:00:00 GMT; Max-Age=120"),
			 EVC__COOKIE_STORED);
	/* A bad Max-Age or Expires is ignored: a session cookie. */
	assert_int_equal(set(u, "s=5; Max-Age=12x; Expires=someday"), EVC__COOKIE_STORED);
	assert_string_equal(header_at(u, NOW + 59), "m=1; e=2; w=3; v=4; s=5");
	assert_string_equal(header_at(u, NOW + 60), "e=2; w=3; v=4; s=5");
	assert_string_equal(header_at(u, NOW + 119), "w=3; v=4; s=5");
	assert_string_equal(header_at(u, NOW + 1000000), "s=5");
	/* Expired cookies met on the way are gone from the jar. */
	assert_int_equal(evc_cookie_jar_count(jar), 1);
}

static void test_deletion(void **state)
{
	const char *u = "http://x.example.com/";
	assert_int_equal(set(u, "a=1; Max-Age=1000"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "b=1"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "c=1; Path=/c"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "d=1"), EVC__COOKIE_STORED);
	/* An expiry in the past deletes the cookie of that name, domain, path. */
	assert_int_equal(set(u, "a=; Max-Age=0"), EVC__COOKIE_DELETED);
	assert_int_equal(set(u, "b=x; Max-Age=-1"), EVC__COOKIE_DELETED);
	assert_int_equal(set(u, "c=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
			 EVC__COOKIE_DELETED); /* another path: not c's */
	assert_int_equal(set(u, "d=; Expires=Mon, 01 Jan 1900 00:00:00 GMT"), EVC__COOKIE_DELETED);
	assert_string_equal(header("http://x.example.com/c"), "c=1");
	assert_int_equal(set(u, "c=; Path=/c; Max-Age=0"), EVC__COOKIE_DELETED);
	assert_string_equal(header("http://x.example.com/c"), "");
	assert_int_equal(evc_cookie_jar_count(jar), 0);
}

static void test_replace_and_order(void **state)
{
	const char *u = "http://x.example.com/a/b/c";
	assert_int_equal(set(u, "first=1; Path=/"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "deep=1; Path=/a/b"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "second=1; Path=/"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "mid=1; Path=/a"), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "dom=1; Path=/; Domain=example.com"), EVC__COOKIE_STORED);
	/* Longer paths first, then older first; a replaced cookie keeps its
	 * place (its creation time). */
	assert_int_equal(set(u, "first=2; Path=/"), EVC__COOKIE_STORED);
	assert_string_equal(header(u), "deep=1; mid=1; first=2; second=1; dom=1");
	/* Same name, another path: another cookie. */
	assert_int_equal(set(u, "first=3; Path=/a"), EVC__COOKIE_STORED);
	assert_string_equal(header(u), "deep=1; mid=1; first=3; first=2; second=1; dom=1");
	assert_int_equal(evc_cookie_jar_count(jar), 6);
}

static void test_limits(void **state)
{
	const char *u = "http://big.example.com/";
	char *s = malloc(EVC__COOKIE_MAX + 64);
	/* Name and value: at most 4096 bytes together. */
	memset(s, 'v', EVC__COOKIE_MAX + 63);
	memcpy(s, "n=", 2);
	s[EVC__COOKIE_MAX + 1] = '\0'; /* "n=" + 4095 bytes: 4096 */
	assert_int_equal(set(u, s), EVC__COOKIE_STORED);
	assert_int_equal(set(u, "n=; Max-Age=0"), EVC__COOKIE_DELETED);
	s[EVC__COOKIE_MAX + 1] = 'v';
	s[EVC__COOKIE_MAX + 2] = '\0';
	assert_int_equal(set(u, s), EVC__COOKIE_TOO_BIG);
	/* An attribute value over 1024 bytes is ignored. */
	memset(s, 'p', 1100);
	memcpy(s, "long=1; Path=/", 14);
	s[1100] = '\0';
	assert_int_equal(set(u, s), EVC__COOKIE_STORED);
	assert_string_equal(header("http://big.example.com/x"), "long=1"); /* default path: / */
	free(s);

	/* 50 per domain: the oldest make room. */
	assert_int_equal(set(u, "long=; Max-Age=0"), EVC__COOKIE_DELETED);
	char c[32];
	for (int i = 0; i < EVC__COOKIES_PER_DOMAIN + 10; i++) {
		snprintf(c, sizeof c, "c%d=%d", i, i);
		assert_int_equal(set(u, c), EVC__COOKIE_STORED);
	}
	assert_int_equal(evc_cookie_jar_count(jar), EVC__COOKIES_PER_DOMAIN);
	const char *h = header(u);
	assert_non_null(strstr(h, "c10=10; c11=11"));
	assert_null(strstr(h, "c9="));
	assert_non_null(strstr(h, "c59=59"));

	/* 3000 in all, across many hosts: the jar never holds more. */
	char url[64];
	for (int i = 0; i < EVC__COOKIES_MAX + 100; i++) {
		snprintf(url, sizeof url, "http://h%d.example.org/", i);
		assert_int_equal(set(url, "x=1"), EVC__COOKIE_STORED);
	}
	assert_int_equal(evc_cookie_jar_count(jar), EVC__COOKIES_MAX);
	assert_string_equal(header("http://big.example.com/"), ""); /* the oldest went first */
	assert_string_equal(header("http://h99.example.org/"), "");
	assert_string_equal(header("http://h100.example.org/"), "x=1");
	snprintf(url, sizeof url, "http://h%d.example.org/", EVC__COOKIES_MAX + 99);
	assert_string_equal(header(url), "x=1");

	/* A header that does not fit leaves cookies out, never cuts one. */
	char small[8];
	struct evc__url su;
	assert_int_equal(evc__url_parse(&su, "http://h100.example.org/", 24), 0);
	assert_int_equal(evc__cookies_header(jar, &su, NOW, small, 3), 0);
	assert_int_equal(evc__cookies_header(jar, &su, NOW, small, sizeof small), 3);
	assert_string_equal(small, "x=1");
	evc__url_free(&su);
}

/* The response parser keeps each Set-Cookie apart (Expires has a comma). */
static void test_response_set_cookie(void **state)
{
	struct evc__response r;
	evc__response_init(&r, false, false, 0, NULL, NULL);
	r.keep_set_cookie = true;
	const char *head = "HTTP/1.1 200 OK\r\n"
			   "Set-Cookie: a=1; Expires=Wed, 15 Jan 2027 09:00:00 GMT\r\n"
			   "Content-Length: 0\r\n"
			   "set-cookie:   b=2 \r\n"
			   "Set-Cookie:\r\n"
			   "SET-COOKIE: c=3; Path=/\r\n\r\n";
	/* Byte by byte: values come to the parser in pieces. */
	int rc = 0;
	for (size_t i = 0; head[i] && rc == 0; i++)
		rc = evc__response_feed(&r, head + i, 1, NULL);
	assert_int_equal(rc, 1);
	assert_int_equal(r.n_set_cookie, 3);
	const char *p = r.set_cookie;
	assert_string_equal(p, "a=1; Expires=Wed, 15 Jan 2027 09:00:00 GMT");
	p += strlen(p) + 1;
	assert_string_equal(p, "b=2");
	p += strlen(p) + 1;
	assert_string_equal(p, "c=3; Path=/");
	struct evc__url u;
	assert_int_equal(evc__url_parse(&u, "http://r.example.com/", 21), 0);
	assert_int_equal(evc__cookies_store(jar, &u, r.set_cookie, r.n_set_cookie, NOW), 3);
	evc__url_free(&u);
	assert_string_equal(header("http://r.example.com/"), "a=1; b=2; c=3");
	evc__response_free(&r);

	/* Without keep_set_cookie nothing is kept; an interim response's
	 * cookies are forgotten; an over-long one is dropped whole. */
	evc__response_init(&r, false, false, 0, NULL, NULL);
	const char *plain = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(evc__response_feed(&r, plain, strlen(plain), NULL), 1);
	assert_int_equal(r.n_set_cookie, 0);
	assert_null(r.set_cookie);
	evc__response_free(&r);
	evc__response_init(&r, false, false, 0, NULL, NULL);
	r.keep_set_cookie = true;
	char *big = malloc(20000);
	int n = snprintf(big, 20000,
			 "HTTP/1.1 103 Early Hints\r\nSet-Cookie: early=1\r\n\r\n"
			 "HTTP/1.1 200 OK\r\nSet-Cookie: x=");
	memset(big + n, 'y', 9000);
	n += 9000;
	n += snprintf(big + n, (size_t)(20000 - n),
		      "\r\nSet-Cookie: late=2\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(evc__response_feed(&r, big, (size_t)n, NULL), 1);
	assert_int_equal(r.n_set_cookie, 1);
	assert_string_equal(r.set_cookie, "late=2");
	free(big);
	evc__response_free(&r);
}

/* ---- the Netscape file ------------------------------------------------------------ */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/evc-cookie-test.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_file_round_trip(void **state)
{
	long long future = (long long)time(NULL) + 86400 * 365;
	char text[2048];
	/* As curl writes it (and a few lines that are not cookies). */
	snprintf(text, sizeof text,
		 "# Netscape HTTP Cookie File\n"
		 "# https://curl.se/docs/http-cookies.html\n"
		 "\n"
		 ".example.com\tTRUE\t/\tFALSE\t%lld\tpersist\tp1\n"
		 "www.example.com\tFALSE\t/app\tTRUE\t0\tsession\ts1\r\n"
		 "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\thonly\th1\n"
		 "www.example.com\tFALSE\t/\tFALSE\t%lld\tnovalue\n"
		 "www.example.com\tFALSE\t/\tFALSE\t1000\texpired\tgone\n"
		 "not a cookie line\n"
		 "www.example.com\tMAYBE\t/\tFALSE\t0\tbad\tflag\n"
		 "www.example.com\tFALSE\t/\tFALSE\tsoon\tbad\texpiry\n"
		 "www.example.com\tFALSE\tnoslash\tFALSE\t0\tbad\tpath\n"
		 "..www.example.com\tFALSE\t/\tFALSE\t0\tbad\tdots\n"
		 "\tFALSE\t/\tFALSE\t0\tbad\tdomain\n",
		 future, future);
	char *in = write_temp(text);
	unsigned bad = 99;
	assert_int_equal(evc_cookie_jar_load(jar, in, &bad), 0);
	assert_int_equal(bad, 6);
	assert_int_equal(evc_cookie_jar_count(jar), 4);
	int64_t now = (int64_t)time(NULL);
	assert_string_equal(header_at("https://www.example.com/app/x", now),
			    "session=s1; persist=p1; honly=h1; novalue=");
	assert_string_equal(header_at("http://www.example.com/app/x", now),
			    "persist=p1; honly=h1; novalue=");
	assert_string_equal(header_at("http://other.example.com/", now), "persist=p1; honly=h1");

	/* One cookie from a server, then the jar written: every cookie,
	 * session ones too, oldest first, HttpOnly marked. */
	assert_int_equal(
	    set_at("http://www.example.com/", "new=n1; HttpOnly; Domain=example.com", now),
	    EVC__COOKIE_STORED);
	char *out = write_temp("old contents\n");
	assert_int_equal(evc_cookie_jar_save(jar, out), 0);
	char want[2048];
	snprintf(want, sizeof want,
		 "# Netscape HTTP Cookie File\n"
		 "# Written by evcrawl. Fields (tab-separated): domain, include subdomains,\n"
		 "# path, secure, expiry (Unix time; 0: session), name, value.\n"
		 "\n"
		 ".example.com\tTRUE\t/\tFALSE\t%lld\tpersist\tp1\n"
		 "www.example.com\tFALSE\t/app\tTRUE\t0\tsession\ts1\n"
		 "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\thonly\th1\n"
		 "www.example.com\tFALSE\t/\tFALSE\t%lld\tnovalue\t\n"
		 "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\tnew\tn1\n",
		 future, future);
	assert_string_equal(read_all(out), want);

	/* Read back into a new jar: the same file again. */
	evc_cookie_jar_t *again;
	assert_int_equal(evc_cookie_jar_new(&again), 0);
	assert_int_equal(evc_cookie_jar_load(again, out, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(evc_cookie_jar_save(again, in), 0);
	assert_string_equal(read_all(in), want);
	evc_cookie_jar_free(again);

	/* A missing file says so; a directory cannot be written over. */
	assert_int_equal(evc_cookie_jar_load(jar, "/nonexistent/cookies.txt", NULL), -ENOENT);
	assert_true(evc_cookie_jar_save(jar, "/nonexistent/cookies.txt") < 0);
	unlink(in);
	unlink(out);
	free(in);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_domain_match),
	    cmocka_unit_test(test_path_match),
	    cmocka_unit_test(test_default_path),
	    cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain_attribute, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_public_suffix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ip_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trailing_dot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secure_shadowing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deletion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_response_set_cookie, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
