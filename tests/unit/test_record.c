/* The JSON record writer: exact output, escaping, and the snprintf contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evcrawl/fetch.h"

static const evc_hop_t hop = {.url = "http://a.test/x", .status = 301};

static evc_result_t ok_result(void)
{
	return (evc_result_t){
	    .remote_ip = "127.0.0.1",
	    .http_version = "1.1",
	    .wire_bytes = 1024,
	    .started_at = 1764644814.070,
	    .redirect_chain = &hop,
	    .url = "http://a.test/x",
	    .final_url = "http://a.test/y",
	    .status = 200,
	    .bytes = 2048,
	    .content_type = "text/html",
	    .redirects = 1,
	    .attempts = 1,
	    .dns_ms = 0.4,
	    .connect_ms = 0.1,
	    .tls_ms = -1,
	    .ttfb_ms = 1.2,
	    .total_ms = 1.9,
	};
}

static void test_complete_record(void **state)
{
	evc_result_t r = ok_result();
	char buf[1024];
	size_t n = evc_result_to_json(&r, buf, sizeof buf);
	const char *want =
	    "{\"url\":\"http://a.test/x\",\"final_url\":\"http://a.test/y\",\"status\":200,"
	    "\"bytes\":2048,\"content_type\":\"text/html\",\"redirects\":1,\"attempts\":1,"
	    "\"time_ms\":{\"dns\":0.400,\"connect\":0.100,\"tls\":null,\"ttfb\":1.200,"
	    "\"total\":1.900},\"error\":null,\"remote_ip\":\"127.0.0.1\",\"http_version\":\"1.1\","
	    "\"wire_bytes\":1024,\"started_at\":\"2025-12-02T03:06:54.070Z\","
	    "\"redirect_chain\":[{\"url\":\"http://a.test/x\",\"status\":301}]}\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_error_record_with_nulls(void **state)
{
	evc_result_t r = {
	    .url = "http://nx.test/",
	    .final_url = "http://nx.test/",
	    .attempts = 1,
	    .dns_ms = 3.5,
	    .connect_ms = -1,
	    .tls_ms = -1,
	    .ttfb_ms = -1,
	    .total_ms = 3.6,
	    .error = EVC_ERR_DNS,
	    .error_message = "cannot resolve nx.test: Domain name not found",
	    .saved = NULL,
	};
	char buf[1024];
	evc_result_to_json(&r, buf, sizeof buf);
	assert_string_equal(
	    buf, "{\"url\":\"http://nx.test/\",\"final_url\":\"http://nx.test/\",\"status\":null,"
		 "\"bytes\":0,\"content_type\":null,\"redirects\":0,\"attempts\":1,"
		 "\"time_ms\":{\"dns\":3.500,\"connect\":null,\"tls\":null,\"ttfb\":null,"
		 "\"total\":3.600},\"error\":{\"kind\":\"dns\",\"message\":\"cannot resolve "
		 "nx.test: Domain name not found\"},\"remote_ip\":null,\"http_version\":null,"
		 "\"wire_bytes\":0,\"started_at\":null,\"redirect_chain\":[]}\n");
}

static void test_saved_field(void **state)
{
	evc_result_t r = ok_result();
	r.saved = "out/a.test/y";
	char buf[1024];
	evc_result_to_json(&r, buf, sizeof buf);
	assert_non_null(strstr(buf, "\"status\":301}],\"saved\":\"out/a.test/y\"}\n"));
}

static void test_escaping(void **state)
{
	evc_result_t r = ok_result();
	/* Quote, backslash, control bytes, valid UTF-8 (é, €, 𝄞), and
	 * invalid bytes: a lone continuation, an overlong '/', a surrogate. */
	r.url = "a\"b\\c\n\t\x01 \xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e \x80 \xc0\xaf \xed\xa0\x80";
	char buf[1024];
	evc_result_to_json(&r, buf, sizeof buf);
	const char *want = "{\"url\":\"a\\\"b\\\\c\\u000a\\u0009\\u0001 \xc3\xa9\xe2\x82\xac"
			   "\xf0\x9d\x84\x9e \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\",";
	assert_memory_equal(buf, want, strlen(want));
}

static void test_length_when_too_small(void **state)
{
	evc_result_t r = ok_result();
	char full[1024], small[40];
	size_t n = evc_result_to_json(&r, full, sizeof full);
	memset(small, 'X', sizeof small);
	size_t m = evc_result_to_json(&r, small, sizeof small);
	assert_int_equal(m, n); /* the length needed, like snprintf */
	assert_true(strlen(small) < sizeof small);
	assert_memory_equal(small, full, strlen(small));
	assert_int_equal(evc_result_to_json(&r, NULL, 0), n);
}

static void test_kind_names(void **state)
{
	const char *want[] = {"ok",	   "bad_url",  "dns",	    "connect",	"tls",
			      "timeout",   "protocol", "too_large", "redirect", "io",
			      "cancelled", "robots",   "skipped",   "http",	"proxy"};
	assert_int_equal(sizeof want / sizeof want[0], EVC_ERR__COUNT);
	for (int k = 0; k < EVC_ERR__COUNT; k++)
		assert_string_equal(evc_error_kind_name((evc_error_kind_t)k), want[k]);
	assert_string_equal(evc_error_kind_name(EVC_ERR__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_complete_record),
	    cmocka_unit_test(test_error_record_with_nulls),
	    cmocka_unit_test(test_saved_field),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_length_when_too_small),
	    cmocka_unit_test(test_kind_names),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
