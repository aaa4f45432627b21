/*
 * URL tests: parsing and normalisation, rejection of every bad form,
 * redirect resolution, Host headers, save paths, and robustness (every
 * prefix of long URLs, a seeded random stream) under ASan/UBSan.
 *
 * Inputs are copied into exact-size heap blocks before parsing, so that a
 * read past the given length, or a result pointing into the input, shows up.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evcrawl/error.h"
#include "util/url.h"

static int parse_n(struct evc__url *u, const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	int r = evc__url_parse(u, copy, len);
	free(copy);
	return r;
}

static int parse(struct evc__url *u, const char *s)
{
	return parse_n(u, s, strlen(s));
}

static int resolve(struct evc__url *out, const struct evc__url *base, const char *ref)
{
	size_t len = strlen(ref);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, ref, len);
	int r = evc__url_resolve(out, base, copy, len);
	free(copy);
	return r;
}

static void assert_empty(const struct evc__url *u)
{
	assert_null(u->buf);
	assert_null(u->scheme);
	assert_null(u->host);
	assert_null(u->target);
	assert_null(u->href);
	assert_int_equal(u->port, 0);
}

struct want {
	const char *href, *target, *host, *host_header;
	int port;
	bool default_port, ipv6;
};

static void expect_url(const char *in, const struct want *w)
{
	struct evc__url u;
	assert_int_equal(parse(&u, in), 0);
	assert_string_equal(u.href, w->href);
	assert_string_equal(u.target, w->target);
	assert_string_equal(u.host, w->host);
	assert_string_equal(u.scheme, strncmp(w->href, "https:", 6) == 0 ? "https" : "http");
	assert_int_equal(u.https, strncmp(w->href, "https:", 6) == 0);
	assert_int_equal(u.port, w->port);
	assert_int_equal(u.default_port, w->default_port);
	assert_int_equal(u.ipv6, w->ipv6);
	char hh[300];
	assert_int_equal(evc__url_host_header(&u, hh, sizeof hh), strlen(w->host_header));
	assert_string_equal(hh, w->host_header);
	evc__url_free(&u);
	assert_empty(&u);
}

static void expect_href(const char *in, const char *href)
{
	struct evc__url u;
	assert_int_equal(parse(&u, in), 0);
	assert_string_equal(u.href, href);
	evc__url_free(&u);
}

static void expect_bad_n(const char *in, size_t len)
{
	struct evc__url u;
	memset(&u, 0xa5, sizeof u); /* must come back empty, whatever it held */
	int r = parse_n(&u, in, len);
	if (r != EVC_EBADURL)
		print_message("# parse \"%.*s\" gave %d\n", (int)len, in, r);
	assert_int_equal(r, EVC_EBADURL);
	assert_empty(&u);
	evc__url_free(&u); /* safe on a failed parse */
}

static void expect_bad(const char *in)
{
	expect_bad_n(in, strlen(in));
}

/* ---- parsing --------------------------------------------------------- */

static void test_parse_normalises(void **state)
{
	expect_url("HTTP://Example.TEST:80/a/../b?x=1#frag",
		   &(struct want){"http://example.test/b?x=1", "/b?x=1", "example.test",
				  "example.test", 80, true, false});
	expect_url("https://h.test/p",
		   &(struct want){"https://h.test/p", "/p", "h.test", "h.test", 443, true, false});
}

/* Raw UTF-8 is percent-encoded, as browsers do; an internationalised host
 * becomes its IDNA ASCII form (punycode), however it was written. */
static void test_parse_utf8_and_idn(void **state)
{
	struct evc__url u;
	assert_int_equal(parse(&u, "http://h.test/caf\xc3\xa9"), 0);
	assert_string_equal(u.href, "http://h.test/caf%C3%A9");
	evc__url_free(&u);
	const char *same[] = {"http://b\xc3\xbc"
			      "cher.test/x",
			      "http://B\xc3\x9c"
			      "CHER.test/x",
			      "http://b%C3%BCcher.test/x", "http://xn--bcher-kva.test/x"};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		assert_int_equal(parse(&u, same[i]), 0);
		assert_string_equal(u.href, "http://xn--bcher-kva.test/x");
		assert_string_equal(u.host, "xn--bcher-kva.test");
		evc__url_free(&u);
	}
	/* A link in a page to such a host, and to one that cannot be. */
	struct evc__url base, r;
	assert_int_equal(parse(&base, "http://a.test/d/"), 0);
	const char *ref = "//\xe4\xbe\x8b\xe5\xad\x90.test/p", *bad = "http://\xff\xfe.test/";
	assert_int_equal(evc__url_resolve(&r, &base, ref, strlen(ref)), 0);
	assert_string_equal(r.href, "http://xn--fsqu00a.test/p");
	evc__url_free(&r);
	assert_int_equal(evc__url_resolve(&r, &base, bad, strlen(bad)), EVC_EBADURL);
	evc__url_free(&base);
	expect_bad("http://\xc3\x28.test/"); /* not UTF-8 */
}

static void test_parse_ports(void **state)
{
	/* An explicit default port is dropped, any other kept. */
	expect_url("https://h.test:443/x",
		   &(struct want){"https://h.test/x", "/x", "h.test", "h.test", 443, true, false});
	expect_url("http://h.test:8080/", &(struct want){"http://h.test:8080/", "/", "h.test",
							 "h.test:8080", 8080, false, false});
	expect_url("https://h.test:80/", &(struct want){"https://h.test:80/", "/", "h.test",
							"h.test:80", 80, false, false});
	expect_url("http://h.test:65535/", &(struct want){"http://h.test:65535/", "/", "h.test",
							  "h.test:65535", 65535, false, false});
	/* Leading zeros and an empty port (RFC 3986 allows both). */
	expect_url("http://h.test:0080/",
		   &(struct want){"http://h.test/", "/", "h.test", "h.test", 80, true, false});
	expect_url("http://h.test:/",
		   &(struct want){"http://h.test/", "/", "h.test", "h.test", 80, true, false});
}

static void test_parse_path_and_query(void **state)
{
	/* An empty path becomes "/", also before a query. */
	expect_url("http://h.test",
		   &(struct want){"http://h.test/", "/", "h.test", "h.test", 80, true, false});
	expect_href("http://h.test?q=1", "http://h.test/?q=1");
	expect_href("http://h.test#f", "http://h.test/");
	expect_href("http://h.test/a?#f", "http://h.test/a?");
	/* The fragment is cut before parsing: a malformed one does no harm. */
	expect_href("http://h.test/p?q#a#b|c", "http://h.test/p?q");
	/* Percent-encoding: hex upper-cased, unreserved decoded, reserved kept;
	 * the query is left exactly as given. */
	expect_href("http://h.test/%7e/%7bx%7D/a%2fb?a=%7e%2f&b=%41#x",
		    "http://h.test/~/%7Bx%7D/a%2Fb?a=%7e%2f&b=%41");
	/* Dot segments, also percent-encoded ones, never survive. */
	expect_href("http://h.test/../../etc/passwd", "http://h.test/etc/passwd");
	expect_href("http://h.test/a/./b/.", "http://h.test/a/b/");
	expect_href("http://h.test/%2e%2E/x/%2E", "http://h.test/x/");
	expect_href("http://h.test/a/..", "http://h.test/");
	expect_href("http://h.test//a//b", "http://h.test//a//b");
	/* Host case and encoded unreserved characters in a host. */
	expect_href("http://EX%41mple.Test./", "http://example.test./");
	expect_href("http://127.0.0.1:8080", "http://127.0.0.1:8080/");
}

static void test_parse_ipv6(void **state)
{
	expect_url("http://[::1]:8080/x", &(struct want){"http://[::1]:8080/x", "/x", "::1",
							 "[::1]:8080", 8080, false, true});
	/* Canonical text (RFC 5952): one address, one host string. */
	expect_url("https://[0:0:0::1]/",
		   &(struct want){"https://[::1]/", "/", "::1", "[::1]", 443, true, true});
	expect_href("http://[2001:DB8::A]:80/", "http://[2001:db8::a]/");
	expect_href("http://[::FFFF:127.0.0.1]/", "http://[::ffff:127.0.0.1]/");
}

static void test_parse_trims_whitespace(void **state)
{
	expect_href("  \t http://h.test/a \r\n", "http://h.test/a");
	expect_href("\vhttp://h.test/\f", "http://h.test/");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    " \t\r\n ",
	    "/relative/path",
	    "relative",
	    "//h.test/no-scheme",
	    "?q",
	    "ftp://h.test/",
	    "mailto:a@h.test",
	    "javascript:alert(1)",
	    "file:///etc/passwd",
	    "http:///path",
	    "http://",
	    "http:/path",
	    "http:path",
	    "http://h.test:0/",
	    "http://h.test:65536/",
	    "http://h.test:99999999999999999999/",
	    "http://h.test:abc/",
	    "http://h.test:80:81/",
	    "http://user:pw@h.test/",
	    "http://user@h.test/",
	    "http://@h.test/",
	    "http://h.test/a b",
	    "http://h .test/",
	    "http://h.test/a\tb",
	    "http://h.test/a\x01",
	    "http://h.test/\x7f",
	    "http://h.test/a\\b",
	    "http://h.test/a%zz",
	    "http://h.test/a%4",
	    "http://h%20x.test/",
	    "http://h!x.test/",
	    "http://[::1/",
	    "http://[v1.fe]/",
	    "http://[fe80::1%25eth0]/",
	    "#frag",
	    "https://[::1]:0/",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_bad(bad[i]);
	/* The length is the caller's: a NUL inside is an embedded byte. */
	expect_bad_n("http://h.test/a\0b", 17);
	expect_bad_n("http://h.test/\0", 15);
	expect_bad_n("\0http://h.test/", 15);
	/* A NULL pointer is an input like any other. */
	struct evc__url u;
	assert_int_equal(evc__url_parse(&u, NULL, 0), EVC_EBADURL);
	assert_empty(&u);
}

static void test_parse_length_limit(void **state)
{
	/* 8 KiB exactly is accepted; one byte more is not. */
	char *s = malloc(8193 + 1);
	assert_non_null(s);
	size_t n = (size_t)sprintf(s, "http://h.test/");
	memset(s + n, 'a', 8192 - n);
	s[8192] = '\0';
	struct evc__url u;
	assert_int_equal(parse_n(&u, s, 8192), 0);
	assert_int_equal(strlen(u.href), 8192);
	evc__url_free(&u);
	s[8192] = 'a';
	expect_bad_n(s, 8193);
	/* Surrounding whitespace does not count. */
	char *padded = malloc(8192 + 4);
	assert_non_null(padded);
	padded[0] = ' ';
	memcpy(padded + 1, s, 8192);
	memcpy(padded + 8193, "\r\n", 2);
	assert_int_equal(parse_n(&u, padded, 8195), 0);
	evc__url_free(&u);
	free(padded);
	free(s);
}

static void test_free_is_idempotent(void **state)
{
	struct evc__url u = {0};
	evc__url_free(&u);
	assert_int_equal(parse(&u, "http://h.test/"), 0);
	evc__url_free(&u);
	evc__url_free(&u);
	assert_empty(&u);
}

/* ---- Host header ----------------------------------------------------- */

static void test_host_header_capacity(void **state)
{
	struct evc__url u;
	assert_int_equal(parse(&u, "http://h.test:8080/x"), 0);
	char out[12];
	/* "h.test:8080" is 11 bytes: needs 12 with the NUL. */
	memset(out, 'x', sizeof out);
	assert_int_equal(evc__url_host_header(&u, out, 11), 11);
	assert_string_equal(out, "");
	assert_int_equal(evc__url_host_header(&u, NULL, 0), 11);
	assert_int_equal(evc__url_host_header(&u, out, 12), 11);
	assert_string_equal(out, "h.test:8080");
	evc__url_free(&u);
}

/* ---- redirects ------------------------------------------------------- */

static void expect_resolved(const char *base, const char *ref, const char *href)
{
	struct evc__url b, r;
	assert_int_equal(parse(&b, base), 0);
	int rc = resolve(&r, &b, ref);
	if (rc)
		print_message("# %s + \"%s\" gave %d\n", base, ref, rc);
	assert_int_equal(rc, 0);
	assert_string_equal(r.href, href);
	evc__url_free(&r);
	evc__url_free(&b);
}

static void test_resolve_relative(void **state)
{
	const char *base = "http://a.test/d/e/f?q=1#frag";
	expect_resolved(base, "../x", "http://a.test/d/x");
	expect_resolved(base, "../../../../x", "http://a.test/x");
	expect_resolved(base, "/y", "http://a.test/y");
	expect_resolved(base, "?q", "http://a.test/d/e/f?q");
	expect_resolved(base, "g?a=%7e#h", "http://a.test/d/e/g?a=%7e");
	expect_resolved(base, "#only-fragment", "http://a.test/d/e/f?q=1");
	expect_resolved(base, "#bad#fragment", "http://a.test/d/e/f?q=1");
	expect_resolved(base, "", "http://a.test/d/e/f?q=1");
	expect_resolved(base, "  /spaced  ", "http://a.test/spaced");
	expect_resolved(base, "//other.test/z", "http://other.test/z");
	expect_resolved(base, "//other.test", "http://other.test/");
	expect_resolved(base, "http:g", "http://a.test/d/e/g");
	expect_resolved(base, "%2E%2E/x", "http://a.test/d/x");
	expect_resolved("https://a.test:8443/p/", "q", "https://a.test:8443/p/q");
	expect_resolved("https://a.test/p", "//b.test/", "https://b.test/");
	expect_resolved("http://[::1]:8080/a/b", "c", "http://[::1]:8080/a/c");
}

static void test_resolve_absolute(void **state)
{
	const char *base = "http://a.test/d/";
	expect_resolved(base, "https://B.test:443/p#f", "https://b.test/p");
	expect_resolved(base, "HTTP://b.test:8080", "http://b.test:8080/");
	expect_resolved(base, "http://[::1]/x/../y", "http://[::1]/y");
	/* Raw spaces and UTF-8 in Location are percent-encoded, as browsers do. */
	expect_resolved(base, "a b/caf\xc3\xa9?q=x y", "http://a.test/d/a%20b/caf%C3%A9?q=x%20y");
	expect_resolved(base, " /p q ", "http://a.test/p%20q");

	struct evc__url b, r;
	assert_int_equal(parse(&b, base), 0);
	assert_int_equal(resolve(&r, &b, "https://c.test:8443/z?k"), 0);
	assert_string_equal(r.host, "c.test");
	assert_string_equal(r.target, "/z?k");
	assert_int_equal(r.port, 8443);
	assert_true(r.https);
	assert_false(r.default_port);
	evc__url_free(&r);
	evc__url_free(&b);
}

static void expect_resolve_error(const char *ref, int err)
{
	struct evc__url b, r;
	assert_int_equal(parse(&b, "http://a.test/d/e"), 0);
	memset(&r, 0xa5, sizeof r);
	int rc = resolve(&r, &b, ref);
	if (rc != err)
		print_message("# resolve \"%s\" gave %d\n", ref, rc);
	assert_int_equal(rc, err);
	assert_empty(&r);
	evc__url_free(&b);
}

static void test_resolve_rejects(void **state)
{
	expect_resolve_error("ftp://h.test/f", EVC_EREDIRECT);
	expect_resolve_error("mailto:a@h.test", EVC_EREDIRECT);
	expect_resolve_error("javascript:void(0)", EVC_EREDIRECT);
	expect_resolve_error("FILE:///etc/passwd", EVC_EREDIRECT);
	expect_resolve_error("/a\x01", EVC_EBADURL);
	expect_resolve_error("http://[::1", EVC_EBADURL);
	expect_resolve_error("http://u:p@h.test/", EVC_EBADURL);
	expect_resolve_error("http://h.test:0/", EVC_EBADURL);
	expect_resolve_error("https:///x", EVC_EBADURL);
	expect_resolve_error(" \t ", EVC_EBADURL);

	/* An empty base (a failed parse) is refused, not dereferenced. */
	struct evc__url empty = {0}, r;
	assert_int_equal(evc__url_resolve(&r, &empty, "/x", 2), EVC_EBADURL);
	assert_empty(&r);
}

static void test_resolve_length_limit(void **state)
{
	/* Base and reference are each under 8 KiB; the result is not. */
	char *s = malloc(8192 + 1);
	assert_non_null(s);
	size_t n = (size_t)sprintf(s, "http://h.test/");
	memset(s + n, 'a', 6000 - n);
	strcpy(s + 6000, "/");
	struct evc__url b, r;
	assert_int_equal(parse(&b, s), 0);
	memset(s, 'b', 4000);
	s[4000] = '\0';
	assert_int_equal(resolve(&r, &b, s), EVC_EBADURL);
	assert_empty(&r);
	evc__url_free(&b);
	free(s);
}

/* ---- save paths ------------------------------------------------------ */

static void expect_save(const char *url, const char *path)
{
	struct evc__url u;
	char out[1100];
	assert_int_equal(parse(&u, url), 0);
	int n = evc__url_save_path(&u, out, sizeof out);
	if (n < 0 || strcmp(out, path) != 0)
		print_message("# save %s gave %d\n", url, n);
	assert_int_equal(n, (int)strlen(path));
	assert_string_equal(out, path);
	evc__url_free(&u);
}

static void test_save_path_layout(void **state)
{
	expect_save("http://h.test/", "h.test/index.html");
	expect_save("http://h.test", "h.test/index.html");
	expect_save("http://h.test/a/b/", "h.test/a/b/index.html");
	expect_save("http://h.test/a/b", "h.test/a/b");
	expect_save("http://h.test/a/b.html?x=1&y=2", "h.test/a/b.html@x=1&y=2");
	expect_save("http://h.test/a/?x=1", "h.test/a/index.html@x=1");
	expect_save("http://h.test/a?", "h.test/a@");
	expect_save("http://h.test//a//b//", "h.test/a/b/index.html");
	expect_save("https://h.test:443/x", "h.test/x");
	expect_save("http://h.test:8080/x", "h.test_8080/x");
	expect_save("http://[::1]/x", "_::1_/x");
	expect_save("http://[::1]:8080/x", "_::1__8080/x");
	/* '_' in a name is escaped so that it cannot pass for a port. */
	expect_save("http://h_8080/", "h%5F8080/index.html");
}

static void test_save_path_never_escapes(void **state)
{
	expect_save("http://h.test/../../etc/passwd", "h.test/etc/passwd");
	expect_save("http://h.test/%2e%2e/%2E%2E/etc/passwd", "h.test/etc/passwd");
	expect_save("http://h.test/a/%2e%2e%2fb", "h.test/a/..%2Fb");
	expect_save("http://h.test/%2f..%2f..%2fetc", "h.test/%2F..%2F..%2Fetc");
	expect_save("http://../", "%2E%2E/index.html");
	expect_save("http://./", "%2E/index.html");
	expect_save("http://h.test/?..", "h.test/index.html@..");

	/* By construction, not only because uriparser removes dot segments:
	 * a hand-made URL with them still stays inside. */
	struct evc__url u = {
	    .scheme = "http",
	    .host = "h.test",
	    .href = "http://h.test/../%2e%2E/./x/..",
	    .port = 80,
	    .default_port = true,
	};
	u.target = u.href + strlen("http://h.test");
	char out[200];
	const char *want = "h.test/%2E%2E/%2E%2E/%2E/x/%2E%2E";
	assert_int_equal(evc__url_save_path(&u, out, sizeof out), (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_save_path_escapes_unsafe_bytes(void **state)
{
	/* Decoded, then controls, '\\', '/', '%' and '@' escaped again. */
	expect_save("http://h.test/a%5cb%00c%0Ad%2Fe%25f%40g%20h%7F",
		    "h.test/a%5Cb%00c%0Ad%2Fe%25f%40g h%7F");
	expect_save("http://h.test/caf%C3%A9/%3F%23", "h.test/caf\xc3\xa9/?#");
	expect_save("http://h.test/x?a=/b&c=%2F%40@", "h.test/x@a=%2Fb&c=%2F%40%40");
	expect_save("http://h.test/a@b", "h.test/a%40b");
}

/* Checks what every save path must be, whatever the URL. */
static void assert_safe_path(const char *p, int len)
{
	assert_true(len > 0 && len <= 1000);
	assert_int_equal(strlen(p), (size_t)len);
	assert_true(p[0] != '/');
	const char *s = p;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		assert_true(n > 0 && n <= 200);
		assert_false(n == 1 && s[0] == '.');
		assert_false(n == 2 && s[0] == '.' && s[1] == '.');
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			assert_true(c >= 0x20 && c != 0x7f && c != '\\');
		}
		if (!e)
			break;
		s = e + 1;
	}
}

static int save(const char *url, char *out, size_t cap)
{
	struct evc__url u;
	assert_int_equal(parse(&u, url), 0);
	int n = evc__url_save_path(&u, out, cap);
	evc__url_free(&u);
	return n;
}

static void test_save_path_long_segment(void **state)
{
	char url[600], a[1100], b[1100];
	int n = sprintf(url, "http://h.test/");
	memset(url + n, 's', 300);
	strcpy(url + n + 300, "/end-1");
	int la = save(url, a, sizeof a);
	assert_safe_path(a, la);
	/* 191 bytes kept, then "~" and 8 hex digits: 200 in all. */
	assert_int_equal(la, (int)strlen("h.test/") + 200 + (int)strlen("/end-1"));
	assert_int_equal(strspn(a + 7, "s"), 191);
	assert_int_equal(a[7 + 191], '~');
	assert_int_equal(strspn(a + 7 + 192, "0123456789abcdef"), 8);
	assert_string_equal(a + 7 + 200, "/end-1");

	/* Same cut prefix, different URL: a different name. */
	url[n + 299] = 't';
	int lb = save(url, b, sizeof b);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, 7 + 192);
	assert_string_not_equal(a, b);
	/* And the same URL twice gives the same name. */
	assert_int_equal(save(url, a, sizeof a), lb);
	assert_string_equal(a, b);
}

static void test_save_path_long_query(void **state)
{
	char url[9000], a[1100], b[1100];
	int n = sprintf(url, "http://h.test/p?");
	memset(url + n, 'q', 8000);
	url[n + 8000] = '\0';
	int la = save(url, a, sizeof a);
	assert_safe_path(a, la);
	assert_int_equal(la, 7 + 200);
	assert_memory_equal(a, "h.test/p@qqq", 12);
	url[n + 7999] = 'r';
	assert_int_equal(save(url, b, sizeof b), la);
	assert_string_not_equal(a, b);
}

static void test_save_path_long_total(void **state)
{
	/* Ten segments of 150 bytes: 1500 in all, cut to 1000 with a hash. */
	char url[2000], a[1100], b[1100];
	int n = sprintf(url, "http://h.test");
	for (int i = 0; i < 10; i++) {
		url[n++] = '/';
		memset(url + n, 'a' + i, 150);
		n += 150;
	}
	url[n] = '\0';
	int la = save(url, a, sizeof a);
	assert_safe_path(a, la);
	assert_true(la <= 1000 && la > 990);
	assert_int_equal(a[la - 9], '~');
	url[n - 1] = 'z';
	int lb = save(url, b, sizeof b);
	assert_safe_path(b, lb);
	assert_string_not_equal(a, b);
}

static void test_save_path_cut_keeps_escapes_and_utf8(void **state)
{
	char url[3000], out[1100];
	/* "%25" escapes throughout: a cut must not leave half of one. */
	int n = sprintf(url, "http://h.test/x");
	for (int i = 0; i < 100; i++)
		n += sprintf(url + n, "%%25");
	int len = save(url, out, sizeof out);
	assert_safe_path(out, len);
	const char *seg = out + 7;
	const char *tilde = strchr(seg, '~');
	assert_non_null(tilde);
	assert_int_equal((tilde - seg - 1) % 3, 0); /* "x" then whole "%25"s */

	/* Two-byte UTF-8 characters: a cut must not split one. */
	n = sprintf(url, "http://h.test/");
	for (int i = 0; i < 150; i++)
		n += sprintf(url + n, "%%C3%%A9");
	len = save(url, out, sizeof out);
	assert_safe_path(out, len);
	tilde = strchr(out + 7, '~');
	assert_non_null(tilde);
	assert_int_equal((tilde - (out + 7)) % 2, 0);
	assert_int_equal((unsigned char)tilde[-2], 0xc3);
	assert_int_equal((unsigned char)tilde[-1], 0xa9);
}

static void test_save_path_small_buffer(void **state)
{
	/* "h.test/abc" is 10 bytes: needs 11 with the NUL. */
	char out[32];
	assert_int_equal(save("http://h.test/abc", out, 10), -ENAMETOOLONG);
	assert_int_equal(save("http://h.test/abc", out, 0), -ENAMETOOLONG);
	assert_int_equal(save("http://h.test/abc", out, 11), 10);
	assert_string_equal(out, "h.test/abc");
	struct evc__url empty = {0};
	assert_int_equal(evc__url_save_path(&empty, out, sizeof out), -EINVAL);
}

/* ---- hash ------------------------------------------------------------ */

static void test_hash64_fnv1a(void **state)
{
	/* Published FNV-1a 64 test vectors. */
	assert_true(evc__hash64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(evc__hash64("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(evc__hash64("foobar", 6) == 0x85944171f73967e8ULL);
	/* The length rules, not a NUL. */
	assert_true(evc__hash64("a\0b", 3) != evc__hash64("a", 1));
}

/* ---- robustness ------------------------------------------------------ */

/* A parsed URL's href parses to itself, and its save path is safe. */
static void check_accepted(const struct evc__url *u)
{
	struct evc__url again;
	char out[1100];
	assert_int_equal(parse(&again, u->href), 0);
	assert_string_equal(again.href, u->href);
	evc__url_free(&again);
	int n = evc__url_save_path(u, out, sizeof out);
	assert_safe_path(out, n);
	char hh[300];
	assert_true(evc__url_host_header(u, hh, sizeof hh) < sizeof hh);
}

static void test_every_prefix(void **state)
{
	static const char *const urls[] = {
	    "https://Sub.Example.TEST:8443/a/b/../c%20d/./e%2Fx.html?x=1&y=%2F#frag",
	    "http://[2001:db8::7]:8080/%7euser/..%2f/index.html?q=a+b#top",
	    "HTTP://127.0.0.1/%2e%2E/a//b/?",
	};
	int accepted = 0;
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		size_t len = strlen(urls[i]);
		for (size_t n = 0; n <= len; n++) {
			struct evc__url u;
			int r = parse_n(&u, urls[i], n);
			assert_true(r == 0 || r == EVC_EBADURL);
			if (r == 0) {
				check_accepted(&u);
				accepted++;
			} else {
				assert_empty(&u);
			}
			evc__url_free(&u);
		}
	}
	/* Each whole URL, and many prefixes, are valid. */
	assert_true(accepted > 60);
}

static void test_every_prefix_as_redirect(void **state)
{
	static const char *const refs[] = {
	    "../x/%2e%2e/y?a=b#c",
	    "//other.test:81/p/q?r",
	    "https://[::1]:444/z#f",
	    "mailto:someone@h.test",
	};
	struct evc__url b;
	assert_int_equal(parse(&b, "http://a.test/d/e/f?g"), 0);
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		size_t len = strlen(refs[i]);
		for (size_t n = 0; n <= len; n++) {
			struct evc__url r;
			char *copy = malloc(n ? n : 1);
			assert_non_null(copy);
			memcpy(copy, refs[i], n);
			int rc = evc__url_resolve(&r, &b, copy, n);
			free(copy);
			assert_true(rc == 0 || rc == EVC_EBADURL || rc == EVC_EREDIRECT);
			if (rc == 0)
				check_accepted(&r);
			else
				assert_empty(&r);
			evc__url_free(&r);
		}
	}
	evc__url_free(&b);
}

/* Random strings drawn mostly from URL characters, from a fixed seed. */
static void test_random_inputs(void **state)
{
	static const char alphabet[] = "http://s:/[]@%2e.?#&=\\ \t\x01\x80:8080AZaz09-_~!$'()*+,;";
	struct evc__url base;
	assert_int_equal(parse(&base, "https://base.test/a/b"), 0);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char s[64];
	for (int iter = 0; iter < 50000; iter++) {
		/* xorshift: the same sequence on every run. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t n = (size_t)(x % sizeof s);
		uint64_t y = x;
		size_t start = iter % 3 ? 7 : 0; /* often keep a "http://" */
		memcpy(s, "http://", 7);
		for (size_t i = start; i < n; i++) {
			y = y * 6364136223846793005ULL + 1442695040888963407ULL;
			s[i] = alphabet[(y >> 33) % (sizeof alphabet - 1)];
		}
		struct evc__url u;
		int r = parse_n(&u, s, n);
		assert_true(r == 0 || r == EVC_EBADURL);
		if (r == 0)
			check_accepted(&u);
		evc__url_free(&u);
		r = evc__url_resolve(&u, &base, s, n);
		assert_true(r == 0 || r == EVC_EBADURL || r == EVC_EREDIRECT);
		if (r == 0)
			check_accepted(&u);
		evc__url_free(&u);
	}
	evc__url_free(&base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_normalises),
	    cmocka_unit_test(test_parse_utf8_and_idn),
	    cmocka_unit_test(test_parse_ports),
	    cmocka_unit_test(test_parse_path_and_query),
	    cmocka_unit_test(test_parse_ipv6),
	    cmocka_unit_test(test_parse_trims_whitespace),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_parse_length_limit),
	    cmocka_unit_test(test_free_is_idempotent),
	    cmocka_unit_test(test_host_header_capacity),
	    cmocka_unit_test(test_resolve_relative),
	    cmocka_unit_test(test_resolve_absolute),
	    cmocka_unit_test(test_resolve_rejects),
	    cmocka_unit_test(test_resolve_length_limit),
	    cmocka_unit_test(test_save_path_layout),
	    cmocka_unit_test(test_save_path_never_escapes),
	    cmocka_unit_test(test_save_path_escapes_unsafe_bytes),
	    cmocka_unit_test(test_save_path_long_segment),
	    cmocka_unit_test(test_save_path_long_query),
	    cmocka_unit_test(test_save_path_long_total),
	    cmocka_unit_test(test_save_path_cut_keeps_escapes_and_utf8),
	    cmocka_unit_test(test_save_path_small_buffer),
	    cmocka_unit_test(test_hash64_fnv1a),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_every_prefix_as_redirect),
	    cmocka_unit_test(test_random_inputs),
	};
	return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
