/*
 * The fetch core alone: no sockets, no loop. Each test plays an engine,
 * scripting events (attempt, response bytes, EOF, failures, deadlines) and
 * asserting the verdict of each step and the record at the end. Time is a
 * fake clock the tests move by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crawl/fetch_core.h"
#include "evcrawl/loop.h"

static uint64_t now_ns;

static uint64_t fake_clock(void)
{
	return now_ns;
}

static void advance_ms(uint64_t ms)
{
	now_ns += ms * 1000000u;
}

static evc_crawl_opts_t opts;
static struct evc__fetch f;
static struct evc__response resp;
static evc_result_t rec;

static int setup(void **state)
{
	evc__fetch_clock = fake_clock;
	now_ns = 1000000000u; /* 1 s: the core treats start 0 as "never started" */
	evc_crawl_opts_init(&opts);
	memset(&resp, 0, sizeof resp);
	return 0;
}

static int teardown(void **state)
{
	evc__response_free(&resp);
	evc__fetch_cleanup(&f);
	evc__fetch_clock = evc_hrtime;
	return 0;
}

static void start(const char *url)
{
	assert_int_equal(evc__fetch_init(&f, &opts, url, strlen(url), NULL), 0);
}

/* An attempt and an exchange on a new (reused: kept) connection. */
static void exchange(bool reused)
{
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	evc__response_free(&resp);
	evc__fetch_exchange(&f, &resp, reused);
}

static enum evc__verdict feed(const char *bytes)
{
	return evc__fetch_feed(&f, bytes, strlen(bytes));
}

static void result(void)
{
	evc__fetch_result(&f, &rec);
}

#define OK_200 "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"

static void test_bad_url_never_attempts(void **state)
{
	start("not a url");
	assert_int_equal(evc__fetch_attempt(&f), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_BAD_URL);
	assert_int_equal(rec.attempts, 0);
	assert_null(rec.final_url);
	assert_string_equal(rec.url, "not a url");
	assert_true(rec.total_ms == 0);
}

static void test_a_page_whole_and_byte_by_byte(void **state)
{
	start("http://a.test/x");
	exchange(false);
	advance_ms(7);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_OK);
	assert_null(rec.error_message);
	assert_int_equal(rec.status, 200);
	assert_int_equal(rec.bytes, 5);
	assert_string_equal(rec.content_type, "text/html");
	assert_string_equal(rec.final_url, "http://a.test/x");
	assert_int_equal(rec.attempts, 1);
	assert_true(rec.ttfb_ms == 7 && rec.total_ms == 7);
	assert_true(rec.dns_ms == -1 && rec.connect_ms == -1 && rec.tls_ms == -1);
	evc__fetch_cleanup(&f);

	/* Every split gives the same: GO_ON until the last byte. */
	start("http://a.test/x");
	exchange(false);
	const char *msg = OK_200;
	size_t n = strlen(msg);
	for (size_t i = 0; i + 1 < n; i++)
		assert_int_equal(evc__fetch_feed(&f, msg + i, 1), EVC__GO_ON);
	assert_int_equal(evc__fetch_feed(&f, msg + n - 1, 1), EVC__DONE);
	result();
	assert_int_equal(rec.status, 200);
	assert_int_equal(rec.bytes, 5);
}

static void test_redirects_followed_then_done(void **state)
{
	start("http://a.test/one");
	exchange(false);
	assert_int_equal(
	    feed("HTTP/1.1 302 Found\r\nLocation: /two\r\nContent-Length: 3\r\n\r\nabc"),
	    EVC__FOLLOW);
	assert_string_equal(f.url.href, "http://a.test/two");
	assert_int_equal(f.attempts, 0); /* attempts count tries of the current URL */
	assert_int_equal(f.status, 0);	 /* the redirect's own answer is not the record's */
	exchange(true);
	assert_int_equal(feed("HTTP/1.1 301 Moved\r\nLocation: http://b.test:8080/three\r\n"
			      "Content-Length: 0\r\n\r\n"),
			 EVC__FOLLOW);
	assert_int_equal(f.url.port, 8080);
	exchange(false);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_OK);
	assert_int_equal(rec.redirects, 2);
	assert_int_equal(rec.attempts, 1);
	assert_string_equal(rec.url, "http://a.test/one");
	assert_string_equal(rec.final_url, "http://b.test:8080/three");
	assert_int_equal(rec.bytes, 5);
}

static void test_redirect_loop_limit_and_scheme(void **state)
{
	start("http://a.test/a");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 302 F\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"),
			 EVC__FOLLOW);
	exchange(true);
	assert_int_equal(feed("HTTP/1.1 302 F\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n"),
			 EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_REDIRECT);
	assert_string_equal(rec.error_message, "redirect loop at /a");
	assert_int_equal(rec.status, 302);
	evc__fetch_cleanup(&f);

	opts.max_redirects = 2;
	start("http://a.test/0");
	for (int i = 1; i <= 3; i++) {
		char head[128];
		exchange(i > 1);
		snprintf(head, sizeof head,
			 "HTTP/1.1 302 F\r\nLocation: /%d\r\nContent-Length: 0\r\n\r\n", i);
		assert_int_equal(feed(head), i <= 2 ? EVC__FOLLOW : EVC__DONE);
	}
	result();
	assert_int_equal(rec.error, EVC_ERR_REDIRECT);
	assert_string_equal(rec.error_message, "too many redirects (more than 2)");
	assert_int_equal(rec.redirects, 2);
	evc__fetch_cleanup(&f);

	start("http://a.test/");
	exchange(false);
	assert_int_equal(
	    feed("HTTP/1.1 302 F\r\nLocation: ftp://a.test/f\r\nContent-Length: 0\r\n\r\n"),
	    EVC__DONE);
	result();
	assert_string_equal(rec.error_message, "unsupported redirect to ftp://a.test/f");
}

static void test_retry_after_then_success(void **state)
{
	opts.retries = 2;
	start("http://a.test/");
	exchange(false);
	assert_int_equal(
	    feed("HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nContent-Length: 4\r\n\r\nbusy"),
	    EVC__RETRY_WAIT);
	assert_int_equal(f.wait_ms, 3000);
	assert_int_equal(f.status, 0); /* the next attempt starts over */
	advance_ms(3000);
	exchange(true);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_int_equal(rec.status, 200);
	assert_int_equal(rec.attempts, 2);
	assert_int_equal(rec.error, EVC_OK);
}

/* A wait that would end past the whole-fetch deadline is not taken: the
 * 503 is the final answer, its body the record's. */
static void test_retry_after_past_the_deadline(void **state)
{
	opts.retries = 5;
	opts.timeout_ms = 5000;
	start("http://a.test/");
	exchange(false);
	advance_ms(2500);
	assert_int_equal(
	    feed("HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nContent-Length: 4\r\n\r\nbusy"),
	    EVC__DONE);
	result();
	assert_int_equal(rec.status, 503);
	assert_int_equal(rec.bytes, 4);
	assert_int_equal(rec.attempts, 1);
	assert_int_equal(rec.error, EVC_OK);
	evc__fetch_cleanup(&f);

	/* The same with 2 s to spare is retried; no retry left ends it. */
	opts.retries = 1;
	start("http://a.test/");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 429 Slow\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"),
			 EVC__RETRY_WAIT);
	advance_ms(2000);
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 429 Slow\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"),
			 EVC__DONE);
	result();
	assert_int_equal(rec.status, 429);
	assert_int_equal(rec.attempts, 2);
}

/* A kept connection that dies before the first byte: once more at once on
 * a new one, not counted; the second time it is an ordinary failure. */
static void test_stale_keep_alive_retry(void **state)
{
	opts.retries = 0;
	start("http://a.test/");
	exchange(true);
	assert_int_equal(evc__fetch_io_error(&f, "recv", -ECONNRESET), EVC__RETRY_FRESH);
	assert_int_equal(f.attempts, 0);
	exchange(true);
	assert_int_equal(evc__fetch_eof(&f), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_PROTOCOL);
	assert_string_equal(rec.error_message,
			    "connection closed before the response was complete");
	assert_int_equal(rec.attempts, 1);
	evc__fetch_cleanup(&f);

	/* Not on a new connection, nor after a byte arrived. */
	start("http://a.test/");
	exchange(false);
	assert_int_equal(evc__fetch_io_error(&f, "send", -EPIPE), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_IO);
	assert_string_equal(rec.error_message, "send: Broken pipe");
	evc__fetch_cleanup(&f);
	start("http://a.test/");
	exchange(true);
	assert_int_equal(feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"), EVC__GO_ON);
	assert_int_equal(evc__fetch_eof(&f), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_PROTOCOL);
	assert_int_equal(rec.status, 200);
	assert_int_equal(rec.bytes, 4);
}

static void test_connect_dns_and_timeouts(void **state)
{
	opts.retries = 1;
	opts.retry_base_ms = 100;
	start("http://a.test/");
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(evc__fetch_connect_error(&f, "127.0.0.9", -ECONNREFUSED), EVC__RETRY_WAIT);
	assert_true(f.wait_ms >= 50 && f.wait_ms <= 100); /* base with 50-100 % jitter */
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(evc__fetch_connect_error(&f, "127.0.0.9", -ECONNREFUSED), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_CONNECT);
	assert_string_equal(rec.error_message, "connect to 127.0.0.9 port 80: Connection refused");
	assert_int_equal(rec.attempts, 2);
	assert_int_equal(rec.status, 0);
	evc__fetch_cleanup(&f);

	start("http://a.test/");
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(evc__fetch_dns_error(&f, "Domain name not found"), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_DNS);
	assert_string_equal(rec.error_message, "cannot resolve a.test: Domain name not found");
	evc__fetch_cleanup(&f);

	struct {
		enum evc__phase phase;
		enum evc__verdict v;
		evc_error_kind_t kind;
		const char *msg;
	} cases[] = {
	    {EVC__PHASE_DNS, EVC__DONE, EVC_ERR_DNS,
	     "DNS lookup of a.test timed out after 10000 ms"},
	    {EVC__PHASE_CONNECT, EVC__RETRY_WAIT, EVC_ERR_TIMEOUT,
	     "connect timed out after 10000 ms"},
	    {EVC__PHASE_TLS, EVC__RETRY_WAIT, EVC_ERR_TIMEOUT,
	     "TLS handshake timed out after 10000 ms"},
	    {EVC__PHASE_IDLE, EVC__RETRY_WAIT, EVC_ERR_TIMEOUT, "no data received for 30000 ms"},
	    {EVC__PHASE_WHOLE, EVC__DONE, EVC_ERR_TIMEOUT, "whole fetch timed out after 60000 ms"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		start("http://a.test/");
		assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
		assert_int_equal(evc__fetch_timeout(&f, cases[i].phase), cases[i].v);
		assert_int_equal(f.error, cases[i].kind);
		assert_string_equal(f.message, cases[i].msg);
		evc__fetch_cleanup(&f);
	}

	/* An attempt with no time left does not start. */
	opts.timeout_ms = 1000;
	start("http://a.test/");
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(evc__fetch_connect_error(&f, "127.0.0.9", -ECONNREFUSED), EVC__RETRY_WAIT);
	advance_ms(1000);
	assert_int_equal(evc__fetch_attempt(&f), EVC__DONE);
	result();
	assert_string_equal(rec.error_message, "whole fetch timed out after 1000 ms");
}

static void test_limits_and_schemes(void **state)
{
	opts.max_body = 10;
	start("http://a.test/");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789"),
			 EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_TOO_LARGE);
	assert_string_equal(rec.error_message, "body larger than 10 bytes");
	assert_int_equal(rec.status, 200);
	assert_int_equal(rec.bytes, 10);
	evc__fetch_cleanup(&f);

	start("http://a.test/");
	exchange(false);
	assert_int_equal(feed("SSH-2.0-nope\r\n"), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_PROTOCOL);
}

/* TLS: a server's verdict is final, a reset may pass; the record shows the
 * handshake of the last attempt. */
static void test_tls(void **state)
{
	opts.retries = 1;
	start("https://a.test/");
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(evc__fetch_tls_error(&f, "TLS handshake: Connection reset by peer", true),
			 EVC__RETRY_WAIT);
	assert_int_equal(evc__fetch_attempt(&f), EVC__GO_ON);
	assert_int_equal(
	    evc__fetch_tls_error(&f, "certificate verify failed: certificate has expired", false),
	    EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_TLS);
	assert_string_equal(rec.error_message,
			    "certificate verify failed: certificate has expired");
	assert_null(rec.tls_version);
	assert_int_equal(rec.tls_resumed, -1);
	assert_int_equal(rec.attempts, 2);
	evc__fetch_cleanup(&f);

	start("https://a.test/");
	exchange(false);
	evc__fetch_tls_done(&f, 2.5, "TLSv1.3", "TLS_AES_256_GCM_SHA384", "http/1.1", true);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_string_equal(rec.tls_version, "TLSv1.3");
	assert_string_equal(rec.tls_cipher, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(rec.tls_alpn, "http/1.1");
	assert_int_equal(rec.tls_resumed, 1);
	assert_true(rec.tls_ms == 2.5);
	char json[1024];
	evc_result_to_json(&rec, json, sizeof json);
	assert_non_null(strstr(json, "\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":"
				     "\"TLS_AES_256_GCM_SHA384\",\"alpn\":\"http/1.1\","
				     "\"resumed\":true}"));
	assert_non_null(strstr(json, "\"tls\":2.500"));
}

/* The body callback gets the final response only, and can stop it. */
static int body_calls;
static char body[64];
static int on_body(void *arg, const char *data, size_t len)
{
	body_calls++;
	strncat(body, data, len < sizeof body - strlen(body) - 1 ? len : 0);
	return *(int *)arg;
}

static void test_body_callback(void **state)
{
	int stop = 0;
	start("http://a.test/");
	f.on_body = on_body;
	f.body_arg = &stop;
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 302 F\r\nLocation: /b\r\nContent-Length: 5\r\n\r\nredir"),
			 EVC__FOLLOW);
	exchange(false);
	assert_int_equal(feed(OK_200), EVC__DONE);
	assert_string_equal(body, "hello");
	assert_int_equal(body_calls, 1);
	evc__fetch_cleanup(&f);

	stop = 1;
	start("http://a.test/");
	f.on_body = on_body;
	f.body_arg = &stop;
	exchange(false);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_IO);
	assert_string_equal(rec.error_message, "the body callback stopped the fetch");
}

/* Saving: only the final body is written; a failed one is removed; a
 * close() that fails is an error, not a silently short file. */
static void test_saving(void **state)
{
	char dir[] = "/tmp/evc-core-XXXXXX";
	assert_non_null(mkdtemp(dir));
	opts.output_dir = dir;
	opts.retries = 1;
	start("http://a.test/page");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 503 B\r\nRetry-After: 0\r\nContent-Length: 4\r\n\r\nbusy"),
			 EVC__RETRY_WAIT);
	assert_false(f.saving);
	exchange(false);
	assert_int_equal(feed(OK_200), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_OK);
	char want[128];
	snprintf(want, sizeof want, "%s/a.test/page", dir);
	assert_string_equal(rec.saved, want);
	char got[16] = "";
	FILE *fp = fopen(want, "r");
	assert_non_null(fp);
	assert_int_equal(fread(got, 1, sizeof got, fp), 5);
	fclose(fp);
	assert_memory_equal(got, "hello", 5);
	evc__fetch_cleanup(&f);
	assert_int_equal(access(want, F_OK), 0); /* cleanup keeps a saved file */
	unlink(want);

	/* Cut short: the file goes. */
	opts.retries = 0;
	start("http://a.test/page");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"), EVC__GO_ON);
	assert_true(f.saving);
	assert_int_equal(access(want, F_OK), 0);
	assert_int_equal(evc__fetch_eof(&f), EVC__DONE);
	result();
	assert_null(rec.saved);
	assert_int_equal(access(want, F_OK), -1);
	evc__fetch_cleanup(&f);

	/* A write fails (its fd taken away under it): reported, removed. */
	char msg[256];
	snprintf(msg, sizeof msg, "cannot write %s: Bad file descriptor", want);
	start("http://a.test/page");
	exchange(false);
	assert_int_equal(feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"), EVC__GO_ON);
	close(f.sink.fd);
	assert_int_equal(feed("lo"), EVC__DONE);
	result();
	assert_int_equal(rec.error, EVC_ERR_IO);
	assert_null(rec.saved);
	assert_string_equal(rec.error_message, msg);
	assert_int_equal(access(want, F_OK), -1);
	evc__fetch_cleanup(&f);

	/* close() fails after the whole body was written: reported, removed. */
	start("http://a.test/page");
	exchange(false);
	assert_int_equal(feed(OK_200), EVC__DONE);
	close(f.sink.fd);
	result();
	assert_int_equal(rec.error, EVC_ERR_IO);
	assert_null(rec.saved);
	assert_string_equal(rec.error_message, msg);
	assert_int_equal(access(want, F_OK), -1);
	evc__fetch_cleanup(&f);
	snprintf(want, sizeof want, "%s/a.test", dir);
	rmdir(want);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bad_url_never_attempts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_page_whole_and_byte_by_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirects_followed_then_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirect_loop_limit_and_scheme, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_after_then_success, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_after_past_the_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_keep_alive_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_dns_and_timeouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_and_schemes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_saving, setup, teardown),
	};
	return cmocka_run_group_tests_name("fetch_core", tests, NULL, NULL);
}
