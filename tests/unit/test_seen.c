/*
 * The seen-set (src/crawl/seen.c): new and seen, growth keeping every
 * fingerprint, and the memory it takes per URL at 10 million URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crawl/seen.h"

static void test_add_and_has(void **state)
{
	struct evc__seen s = {0};
	const char *a = "http://a.test/x", *b = "http://a.test/y";
	uint64_t fa = evc__seen_fingerprint(a, strlen(a)), fb = evc__seen_fingerprint(b, strlen(b));
	assert_true(fa != fb);
	assert_false(evc__seen_has(&s, fa));
	assert_int_equal(evc__seen_add(&s, fa), 1);
	assert_int_equal(evc__seen_add(&s, fa), 0);
	assert_true(evc__seen_has(&s, fa));
	assert_false(evc__seen_has(&s, fb));
	assert_int_equal(evc__seen_add(&s, fb), 1);
	assert_int_equal(s.n, 2);
	/* 0 is the empty mark: a fingerprint of 0 is kept as 1. */
	assert_int_equal(evc__seen_add(&s, 0), 1);
	assert_int_equal(evc__seen_add(&s, 1), 0);
	evc__seen_free(&s);
}

static void test_growth_keeps_all(void **state)
{
	struct evc__seen s = {0};
	char url[64];
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(url, sizeof url, "http://h%d.test/p/%d.html", i % 97, i);
		assert_int_equal(evc__seen_add(&s, evc__seen_fingerprint(url, (size_t)n)), 1);
	}
	for (int i = 0; i < 100000; i += 7) {
		int n = snprintf(url, sizeof url, "http://h%d.test/p/%d.html", i % 97, i);
		assert_true(evc__seen_has(&s, evc__seen_fingerprint(url, (size_t)n)));
		assert_int_equal(evc__seen_add(&s, evc__seen_fingerprint(url, (size_t)n)), 0);
	}
	assert_int_equal(s.n, 100000);
	evc__seen_free(&s);
}

/* The bound: at most 16 bytes per seen URL at 10 million. */
static void test_bytes_at_ten_million(void **state)
{
	struct evc__seen s = {0};
	enum { N = 10000000 };
	for (uint64_t i = 0; i < N; i++) {
		char key[24];
		int n = snprintf(key, sizeof key, "u%llu", (unsigned long long)i);
		assert_true(evc__seen_add(&s, evc__seen_fingerprint(key, (size_t)n)) == 1);
	}
	double per = (double)evc__seen_bytes(&s) / N;
	print_message("seen-set: %zu URLs in %zu bytes: %.2f bytes per URL\n", s.n,
		      evc__seen_bytes(&s), per);
	assert_int_equal(s.n, N);
	assert_true(per <= 16.0);
	evc__seen_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_and_has),
	    cmocka_unit_test(test_growth_keeps_all),
	    cmocka_unit_test(test_bytes_at_ten_million),
	};
	return cmocka_run_group_tests_name("seen", tests, NULL, NULL);
}
