/* Request bytes: the fixed header block, curl-style -H overrides, Host. */
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
#include "evcrawl/version.h"
#include "http/request.h"
#include "util/url.h"

static void test_default_headers(void **state)
{
	char *block = NULL, want[256];
	assert_int_equal(evc__request_headers(&block, NULL, NULL, false, NULL), 0);
	snprintf(want, sizeof want,
		 "User-Agent: evcrawl/%s\r\nAccept: */*\r\nConnection: keep-alive\r\n",
		 evc_version());
	assert_string_equal(block, want);
	free(block);
}

static void test_compressed_and_user_headers(void **state)
{
	const char *headers[] = {"X-Test: 1", "accept:  text/html  ",
				 "Connection:", "X-Empty:", NULL};
	char *block = NULL;
	assert_int_equal(evc__request_headers(&block, "bot/2", headers, true, NULL), 0);
	/* accept replaces Accept in place (keeping the user's spelling of
	 * the name); "Connection:" removes it; X-Empty: with no value is
	 * dropped as with curl. */
	assert_string_equal(block, "User-Agent: bot/2\r\naccept: text/html\r\n"
				   "Accept-Encoding: gzip, deflate, br, zstd\r\nX-Test: 1\r\n");
	free(block);
}

static void test_bad_headers(void **state)
{
	const char *cases[] = {"NoColon", "Bad Name: x", "X: a\r\nInjected: 1", "Host: other",
			       ": empty-name"};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *headers[] = {cases[i], NULL};
		char *block = NULL;
		const char *bad = NULL;
		assert_int_equal(evc__request_headers(&block, NULL, headers, false, &bad), -EINVAL);
		assert_ptr_equal(bad, cases[i]);
		assert_null(block);
	}
}

static void build(const char *url, char *out, size_t cap)
{
	struct evc__url u;
	assert_int_equal(evc__url_parse(&u, url, strlen(url)), 0);
	const char *fixed = "Accept: */*\r\n";
	int n = evc__request_build(out, cap, "GET", &u, fixed, strlen(fixed), NULL);
	assert_true(n > 0);
	out[n] = '\0';
	evc__url_free(&u);
}

static void test_request_line_and_host(void **state)
{
	char buf[512];
	build("http://h01.test/a/b?x=1#frag", buf, sizeof buf);
	assert_string_equal(buf, "GET /a/b?x=1 HTTP/1.1\r\nHost: h01.test\r\nAccept: */*\r\n\r\n");
	build("http://h01.test:8080", buf, sizeof buf);
	assert_string_equal(buf, "GET / HTTP/1.1\r\nHost: h01.test:8080\r\nAccept: */*\r\n\r\n");
	build("http://[::1]:81/x", buf, sizeof buf);
	assert_string_equal(buf, "GET /x HTTP/1.1\r\nHost: [::1]:81\r\nAccept: */*\r\n\r\n");
}

static void test_request_too_large(void **state)
{
	struct evc__url u;
	const char *url = "http://h01.test/0123456789";
	assert_int_equal(evc__url_parse(&u, url, strlen(url)), 0);
	char buf[40];
	assert_int_equal(evc__request_build(buf, sizeof buf, "GET", &u, "", 0, NULL),
			 EVC_ETOOLARGE);
	evc__url_free(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_headers),
	    cmocka_unit_test(test_compressed_and_user_headers),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_request_line_and_host),
	    cmocka_unit_test(test_request_too_large),
	};
	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
