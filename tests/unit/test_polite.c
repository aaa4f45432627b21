/*
 * The politeness policy alone (src/crawl/polite.c): key names, the gap
 * after a start, what outcomes do to a key's clock and back-off, the rate's
 * token bucket, and --rate's forms. Times are plain numbers the tests pick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crawl/polite.h"

static evc_crawl_opts_t o;

static int setup(void **state)
{
	evc_crawl_opts_init(&o);
	return 0;
}

static const char *key(unsigned mode, const char *host, const char *addr)
{
	static char buf[256];
	o.politeness_key = mode;
	evc__polite_key(&o, host, addr, buf, sizeof buf);
	return buf;
}

static void test_keys(void **state)
{
	assert_string_equal(key(EVC_KEY_HOST, "www.example.co.uk", "127.0.0.9"),
			    "www.example.co.uk");
	/* The registrable domain, by the public suffix list. */
	assert_string_equal(key(EVC_KEY_DOMAIN, "www.example.co.uk", NULL), "example.co.uk");
	assert_string_equal(key(EVC_KEY_DOMAIN, "a.b.example.com", NULL), "example.com");
	assert_string_equal(key(EVC_KEY_DOMAIN, "a.shop.test", NULL), "shop.test");
	/* A suffix itself, a single label, an address: the host as it is. */
	assert_string_equal(key(EVC_KEY_DOMAIN, "co.uk", NULL), "co.uk");
	assert_string_equal(key(EVC_KEY_DOMAIN, "localhost", NULL), "localhost");
	assert_string_equal(key(EVC_KEY_DOMAIN, "127.0.0.1", NULL), "127.0.0.1");
	assert_string_equal(key(EVC_KEY_DOMAIN, "::1", NULL), "::1");
	/* The address; none known: the host. */
	assert_string_equal(key(EVC_KEY_IP, "a.test", "127.0.0.3"), "127.0.0.3");
	assert_string_equal(key(EVC_KEY_IP, "a.test", NULL), "a.test");
}

static void test_gap(void **state)
{
	struct evc__polite p = {0};
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.7), 0);
	o.delay_ms = 200;
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.7), 200);
	p.crawl_delay_ms = 5000; /* robots.txt asks for more: it wins */
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.7), 5000);
	p.crawl_delay_ms = 0;
	o.random_delay = true; /* 50 % .. 150 % */
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.0), 100);
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.5), 200);
	assert_int_equal(evc__polite_gap_ms(&o, &p, 0.999), 299);
}

static void test_throttle(void **state)
{
	struct evc__polite p = {0};
	/* Retry-After: the key pauses that long; a response clears the state. */
	assert_false(evc__polite_outcome(&p, &o, EVC__OUT_THROTTLE, EVC_OK, 2, p.epoch, 1000));
	assert_int_equal(p.next_ms, 3000);
	assert_true(p.backing_off);
	assert_int_equal(evc__polite_slots(&p, &o), 1);
	evc__polite_outcome(&p, &o, EVC__OUT_RESPONSE, EVC_OK, -1, p.epoch, 3100);
	assert_false(p.backing_off);
	assert_int_equal(evc__polite_slots(&p, &o), o.per_host);
	/* Capped at max_retry_after_ms. */
	evc__polite_outcome(&p, &o, EVC__OUT_THROTTLE, EVC_OK, 86400, p.epoch, 10000);
	assert_int_equal(p.next_ms, 10000 + 120000);
	/* Without Retry-After: 1 s, then doubling while they come in a row. */
	struct evc__polite q = {0};
	evc__polite_outcome(&q, &o, EVC__OUT_THROTTLE, EVC_OK, -1, q.epoch, 0);
	assert_int_equal(q.next_ms, 1000);
	evc__polite_outcome(&q, &o, EVC__OUT_THROTTLE, EVC_OK, -1, q.epoch, 1000);
	assert_int_equal(q.next_ms, 3000);
	evc__polite_outcome(&q, &o, EVC__OUT_THROTTLE, EVC_OK, -1, q.epoch, 3000);
	assert_int_equal(q.next_ms, 7000);
	/* A pause never moves the key's time back. */
	evc__polite_outcome(&q, &o, EVC__OUT_THROTTLE, EVC_OK, 0, q.epoch, 3000);
	assert_int_equal(q.next_ms, 7000);
}

static void test_failures(void **state)
{
	struct evc__polite p = {0};
	o.host_errors = 5;
	uint64_t e0 = p.epoch;
	/* The first failure may be chance: no pause. */
	assert_false(evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, e0, 100));
	assert_int_equal(p.next_ms, 0);
	assert_false(p.backing_off);
	/* The second in a row pauses 1 s. */
	evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, e0, 200);
	assert_int_equal(p.next_ms, 1200);
	assert_true(p.backing_off);
	/* A third from a fetch started before that pause: counted, no doubling. */
	evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, e0, 300);
	assert_int_equal(p.errors, 3);
	assert_int_equal(p.next_ms, 1200);
	/* The probe after the pause fails: 2 s. */
	evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_TIMEOUT, -1, p.epoch, 1300);
	assert_int_equal(p.next_ms, 3300);
	/* The fifth in a row gives the key up, with the last kind. */
	assert_true(
	    evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_TIMEOUT, -1, p.epoch, 3400));
	assert_true(p.given_up);
	assert_int_equal(p.why, EVC_ERR_TIMEOUT);
	assert_false(
	    evc__polite_outcome(&p, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, p.epoch, 3500));

	/* A response in between starts the count over. */
	struct evc__polite q = {0};
	evc__polite_outcome(&q, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, q.epoch, 0);
	evc__polite_outcome(&q, &o, EVC__OUT_RESPONSE, EVC_OK, -1, q.epoch, 10);
	evc__polite_outcome(&q, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, q.epoch, 20);
	assert_int_equal(q.errors, 1);
	assert_false(q.backing_off);

	/* The pause stops doubling at 60 s. */
	struct evc__polite r = {0};
	o.host_errors = 100;
	for (int i = 0; i < 20; i++)
		evc__polite_outcome(&r, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, r.epoch, 0);
	assert_int_equal(r.next_ms, 60000);

	/* host_errors 0: failures neither pause nor give up; NONE is nothing. */
	struct evc__polite s = {0};
	o.host_errors = 0;
	for (int i = 0; i < 50; i++) {
		assert_false(
		    evc__polite_outcome(&s, &o, EVC__OUT_FAILURE, EVC_ERR_CONNECT, -1, s.epoch, 0));
		evc__polite_outcome(&s, &o, EVC__OUT_NONE, EVC_ERR_DNS, -1, s.epoch, 0);
	}
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.next_ms, 0);
	assert_false(s.given_up);
}

static void test_bucket(void **state)
{
	struct evc__bucket b;
	evc__bucket_init(&b, 0, 0); /* no limit */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(evc__bucket_take(&b, 0), 0);
	/* 50/s: one token to start, then one per 20 ms, at most 5 saved. */
	evc__bucket_init(&b, 50, 1000);
	assert_int_equal(evc__bucket_take(&b, 1000), 0);
	assert_int_equal(evc__bucket_take(&b, 1000), 20);
	assert_int_equal(evc__bucket_take(&b, 1010), 10);
	assert_int_equal(evc__bucket_take(&b, 1020), 0);
	int got = 0;
	for (int i = 0; i < 10; i++)
		got += evc__bucket_take(&b, 60000) == 0;
	assert_int_equal(got, 5);
	/* Slow rates: one per 2 s, no burst beyond one. */
	evc__bucket_init(&b, 0.5, 0);
	assert_int_equal(evc__bucket_take(&b, 0), 0);
	assert_int_equal(evc__bucket_take(&b, 0), 2000);
	assert_int_equal(evc__bucket_take(&b, 100000), 0);
	assert_true(evc__bucket_take(&b, 100000) > 0);
}

static void test_parse_rate(void **state)
{
	assert_true(evc__parse_rate("50") == 50);
	assert_true(evc__parse_rate("50/s") == 50);
	assert_true(evc__parse_rate("30/m") == 0.5);
	assert_true(evc__parse_rate("7200/h") == 2);
	assert_true(evc__parse_rate("2.5") == 2.5);
	assert_true(evc__parse_rate("0") == 0);
	assert_true(evc__parse_rate("") < 0);
	assert_true(evc__parse_rate("-1") < 0);
	assert_true(evc__parse_rate("5/d") < 0);
	assert_true(evc__parse_rate("5/") < 0);
	assert_true(evc__parse_rate("5 /s") < 0);
	assert_true(evc__parse_rate("1e9") < 0);
	assert_true(evc__parse_rate("nan") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_keys, setup),
	    cmocka_unit_test_setup(test_gap, setup),
	    cmocka_unit_test_setup(test_throttle, setup),
	    cmocka_unit_test_setup(test_failures, setup),
	    cmocka_unit_test_setup(test_bucket, setup),
	    cmocka_unit_test_setup(test_parse_rate, setup),
	};
	return cmocka_run_group_tests_name("polite", tests, NULL, NULL);
}
