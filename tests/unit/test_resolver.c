/*
 * The resolver against a tiny fake DNS server that runs on the same loop:
 * it answers A queries for a few names, NXDOMAIN for nx.test, nothing for
 * slow.test and hold*, and counts the queries it sees, so the tests can assert exactly
 * how many lookups reached the network.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evcrawl/resolver.h"

struct fake_dns {
	int fd;
	uint16_t port;
	int a_queries; /* type A queries seen */
	int last_ttl;
};

static struct fake_dns dns;

/* Answer one query: a.test and b.test → 127.0.0.5 / .6 (TTL dns.last_ttl),
 * nx.test → NXDOMAIN, slow.test → silence, AAAA → no records. */
static void on_dns_query(evc_loop_t *loop, int fd, int events, void *arg)
{
	unsigned char q[512], r[600];
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &flen);
	if (n < 17)
		return;
	char name[256] = "";
	size_t pos = 12, nl = 0;
	while (pos < (size_t)n && q[pos]) {
		size_t len = q[pos++];
		if (nl)
			name[nl++] = '.';
		memcpy(name + nl, q + pos, len);
		nl += len;
		pos += len;
	}
	name[nl] = '\0';
	pos++;
	uint16_t qtype = (uint16_t)(q[pos] << 8 | q[pos + 1]);
	size_t qend = pos + 4;
	if (qtype == 1)
		dns.a_queries++;
	if (strcmp(name, "slow.test") == 0 || strncmp(name, "hold", 4) == 0)
		return;
	memcpy(r, q, qend);
	r[2] = 0x81; /* QR, RD */
	r[3] = 0x80; /* RA */
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	size_t len = qend;
	int last = strcmp(name, "a.test") == 0 ? 5 : strcmp(name, "b.test") == 0 ? 6 : 0;
	if (strcmp(name, "nx.test") == 0) {
		r[3] |= 3; /* NXDOMAIN */
	} else if (strcmp(name, "refuse.test") == 0) {
		r[3] |= 5; /* REFUSED: c-ares tries the next server */
	} else if (qtype == 1 && last) {
		r[7] = 1; /* one answer */
		unsigned char ans[] = {0xc0, 12, 0, 1, 0,   1, 0, 0,
				       0,    0,	 0, 4, 127, 0, 0, (unsigned char)last};
		ans[8] = (unsigned char)(dns.last_ttl >> 8); /* TTL: bytes 6..9 */
		ans[9] = (unsigned char)dns.last_ttl;
		memcpy(r + len, ans, sizeof ans);
		len += sizeof ans;
	}
	sendto(fd, r, len, 0, (struct sockaddr *)&from, flen);
}

static evc_loop_t *loop;

static int setup(void **state)
{
	assert_int_equal(evc_loop_new(&loop, NULL), 0);
	dns = (struct fake_dns){.last_ttl = 60};
	dns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(dns.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t len = sizeof sa;
	getsockname(dns.fd, (struct sockaddr *)&sa, &len);
	dns.port = ntohs(sa.sin_port);
	assert_int_equal(evc_io_start(loop, dns.fd, EVC_READ, on_dns_query, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	evc_io_stop(loop, dns.fd);
	close(dns.fd);
	evc_loop_free(loop);
	return 0;
}

static evc_resolver_t *new_resolver(unsigned timeout_ms, unsigned max_ttl_s)
{
	char servers[64];
	snprintf(servers, sizeof servers, "127.0.0.1:%u", dns.port);
	evc_resolver_opts_t o = {
	    .servers = servers, .timeout_ms = timeout_ms, .max_ttl_s = max_ttl_s};
	evc_resolver_t *r = NULL;
	assert_int_equal(evc_resolver_new(&r, loop, &o), 0);
	return r;
}

struct answer {
	int calls;
	int status;
	char addr[64];
	unsigned count;
	char errmsg[128];
	evc_resolver_t *r;
	int *returned; /* set once evc_resolve returned */
};

static void on_answer(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct answer *a = arg;
	if (a->returned)
		assert_true(*a->returned); /* never from inside evc_resolve */
	a->calls++;
	a->status = status;
	if (addrs) {
		a->count = addrs->count;
		const evc_sockaddr_t *s = &addrs->addr[0];
		inet_ntop(s->sa.sa_family,
			  s->sa.sa_family == AF_INET ? (const void *)&s->in4.sin_addr
						     : (const void *)&s->in6.sin6_addr,
			  a->addr, sizeof a->addr);
	}
	if (errmsg)
		snprintf(a->errmsg, sizeof a->errmsg, "%s", errmsg);
}

/* Run the loop until nothing but the fake server's socket is left. */
static void run_until(int *done_flag)
{
	for (int i = 0; i < 10000 && !*done_flag; i++)
		assert_true(evc_loop_run(loop, EVC_RUN_ONCE) >= 0);
}

static void test_answer_and_cache(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 0);
	int returned = 0;
	struct answer a = {.returned = &returned};
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &a, NULL), 0);
	returned = 1;
	run_until(&a.calls);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, 0);
	assert_string_equal(a.addr, "127.0.0.5");
	assert_int_equal(a.count, 1);
	assert_int_equal(dns.a_queries, 1);

	/* Cached now: answered without the network, synchronously. */
	evc_addrs_t *addrs = NULL;
	assert_int_equal(evc_resolver_cached(r, "a.test", 80, &addrs, NULL), 1);
	assert_int_equal(addrs->count, 1);
	evc_addrs_unref(addrs);
	struct answer b = {0};
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &b, NULL), 0);
	assert_int_equal(b.calls, 0);
	run_until(&b.calls);
	assert_string_equal(b.addr, "127.0.0.5");
	assert_int_equal(dns.a_queries, 1);
	evc_resolver_stats_t st;
	evc_resolver_stats(r, &st);
	assert_int_equal(st.queries, 1);
	evc_resolver_free(r);
}

static void test_one_query_for_many_waiters(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 0);
	struct answer a[50];
	memset(a, 0, sizeof a);
	for (int i = 0; i < 50; i++)
		assert_int_equal(evc_resolve(r, "b.test", 80, on_answer, &a[i], NULL), 0);
	run_until(&a[49].calls);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_string_equal(a[i].addr, "127.0.0.6");
	}
	assert_int_equal(dns.a_queries, 1);
	evc_resolver_stats_t st;
	evc_resolver_stats(r, &st);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.coalesced, 49);
	evc_resolver_free(r);
}

static void test_ttl_is_capped(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 1); /* server says 60 s, cap 1 s */
	struct answer a = {0};
	evc_resolve(r, "a.test", 80, on_answer, &a, NULL);
	run_until(&a.calls);
	evc_addrs_t *addrs = NULL;
	assert_int_equal(evc_resolver_cached(r, "a.test", 80, &addrs, NULL), 1);
	evc_addrs_unref(addrs);
	usleep(1100 * 1000);
	evc_update_time(loop);
	assert_int_equal(evc_resolver_cached(r, "a.test", 80, &addrs, NULL), 0);
	assert_null(addrs);
	evc_resolver_free(r);
}

static void test_nxdomain_is_cached_negative(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 0);
	struct answer a = {0};
	evc_resolve(r, "nx.test", 80, on_answer, &a, NULL);
	run_until(&a.calls);
	assert_int_equal(a.status, EVC_EDNS);
	assert_string_equal(a.errmsg, "Domain name not found");
	int queries = dns.a_queries;
	evc_addrs_t *addrs = NULL;
	const char *msg = NULL;
	assert_int_equal(evc_resolver_cached(r, "nx.test", 80, &addrs, &msg), EVC_EDNS);
	assert_string_equal(msg, "Domain name not found");
	struct answer b = {0};
	evc_resolve(r, "nx.test", 80, on_answer, &b, NULL);
	run_until(&b.calls);
	assert_int_equal(b.status, EVC_EDNS);
	assert_int_equal(dns.a_queries, queries);
	evc_resolver_free(r);
}

static void test_timeout(void **state)
{
	evc_resolver_t *r = new_resolver(300, 0);
	struct answer a = {0};
	uint64_t start = evc_hrtime();
	evc_resolve(r, "slow.test", 80, on_answer, &a, NULL);
	run_until(&a.calls);
	double ms = (double)(evc_hrtime() - start) / 1e6;
	assert_int_equal(a.status, EVC_EDNS);
	assert_non_null(strstr(a.errmsg, "Timeout"));
	assert_true(ms >= 250 && ms < 3000);
	evc_resolver_free(r);
}

/* At most 64 lookups are out at once; the rest wait their turn. */
static void test_backlog(void **state)
{
	evc_resolver_t *r = new_resolver(300, 0);
	enum { N = 100 };
	static struct answer a[N];
	static evc_resolve_req_t *reqs[N];
	memset(a, 0, sizeof a);
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "hold%d.test", i);
		assert_int_equal(evc_resolve(r, name, 80, on_answer, &a[i], &reqs[i]), 0);
	}
	uint64_t until = evc_hrtime() + 40 * 1000000ull; /* c-ares retries at 100 */
	while (evc_hrtime() < until)
		assert_true(evc_loop_run(loop, EVC_RUN_ONCE) >= 0);
	assert_int_equal(dns.a_queries, 64); /* none answered: none more sent */
	assert_int_equal(a[0].calls, 0);
	/* The first 64 were sent; the rest still wait their turn. */
	assert_false(evc_resolve_queued(reqs[0]));
	assert_false(evc_resolve_queued(reqs[63]));
	assert_true(evc_resolve_queued(reqs[64]));
	assert_true(evc_resolve_queued(reqs[N - 1]));
	int done = 0;
	for (int i = 0; i < 20000 && !done; i++) {
		assert_true(evc_loop_run(loop, EVC_RUN_ONCE) >= 0);
		done = 1;
		for (int k = 0; k < N; k++)
			done &= a[k].calls == 1;
	}
	assert_true(done); /* each timed out in its turn, and said so */
	assert_int_equal(a[N - 1].status, EVC_EDNS);
	assert_true(dns.a_queries >= N);
	evc_resolver_free(r);
}

static void test_cancel(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 0);
	struct answer a = {0}, b = {0};
	evc_resolve_req_t *req = NULL;
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &a, &req), 0);
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &b, NULL), 0);
	evc_resolve_cancel(req);
	run_until(&b.calls);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 1);
	/* A cancelled request whose answer was already known never runs. */
	struct answer c = {0}, d = {0};
	evc_resolve(r, "a.test", 80, on_answer, &c, &req);
	evc_resolve(r, "a.test", 80, on_answer, &d, NULL);
	evc_resolve_cancel(req);
	run_until(&d.calls);
	assert_int_equal(c.calls, 0);
	evc_resolver_free(r);
}

static void test_numeric_and_overrides(void **state)
{
	evc_resolver_t *r = new_resolver(2000, 0);
	evc_addrs_t *addrs = NULL;
	assert_int_equal(evc_resolver_cached(r, "127.0.0.9", 80, &addrs, NULL), 2);
	evc_addrs_unref(addrs);
	assert_int_equal(evc_resolver_add_override(r, "Over.Test", 8080, "127.0.0.7"), 0);
	assert_int_equal(evc_resolver_add_override(r, "any.test", 0, "::1"), 0);
	assert_int_equal(evc_resolver_add_override(r, "bad.test", 0, "not-an-ip"), -EINVAL);

	struct answer a = {0}, b = {0}, c = {0}, d = {0};
	evc_resolve(r, "over.test", 8080, on_answer, &a, NULL);
	evc_resolve(r, "any.test", 443, on_answer, &b, NULL);
	evc_resolve(r, "::1", 80, on_answer, &c, NULL);
	evc_resolve(r, "localhost", 80, on_answer, &d, NULL); /* /etc/hosts */
	run_until(&d.calls);
	run_until(&c.calls);
	assert_string_equal(a.addr, "127.0.0.7");
	assert_string_equal(b.addr, "::1");
	assert_string_equal(c.addr, "::1");
	assert_int_equal(d.status, 0);
	assert_true(strcmp(d.addr, "127.0.0.1") == 0 || strcmp(d.addr, "::1") == 0);
	assert_int_equal(dns.a_queries, 0);
	/* The port-specific override does not apply to another port. */
	assert_int_equal(evc_resolver_cached(r, "over.test", 80, &addrs, NULL), 0);
	evc_resolver_free(r);
}

/* Open /dev/null until the next descriptor lands above FD_SETSIZE (the
 * open-file limit raised as far as it goes); returns how many, in fds. */
static int fill_fds(int *fds, size_t cap)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	assert_true(rl.rlim_cur > FD_SETSIZE + 64);
	int n = 0;
	while (n < (int)cap) {
		fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[n] >= 0);
		if (fds[n++] > FD_SETSIZE + 2)
			break;
	}
	return n;
}

/* On the select backend, a c-ares socket above FD_SETSIZE cannot be
 * watched: the lookup must fail at once with EVC_EFDSETSIZE (not wait out
 * the DNS timeout as an unseen socket would), cache nothing, and work again
 * once descriptors are low. */
static void test_select_refuses_a_high_dns_socket(void **state)
{
	evc_io_stop(loop, dns.fd);
	evc_loop_free(loop);
	assert_int_equal(evc_loop_new(&loop, "select"), 0);
	assert_int_equal(evc_io_start(loop, dns.fd, EVC_READ, on_dns_query, NULL), 0);
	assert_int_equal(evc_io_check(loop, 5), 0);
	assert_int_equal(evc_io_check(loop, FD_SETSIZE), EVC_EFDSETSIZE);

	int filler[FD_SETSIZE + 8];
	int nfill = fill_fds(filler, sizeof filler / sizeof filler[0]);

	evc_resolver_t *r = new_resolver(4000, 0);
	struct answer a = {0};
	uint64_t start = evc_hrtime();
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &a, NULL), 0);
	run_until(&a.calls);
	double ms = (double)(evc_hrtime() - start) / 1e6;
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, EVC_EFDSETSIZE);
	assert_non_null(strstr(a.errmsg, "FD_SETSIZE"));
	assert_true(ms < 1000); /* at once, not after the 4 s timeout */
	assert_int_equal(dns.a_queries, 0);

	for (int i = 0; i < nfill; i++)
		close(filler[i]);
	struct answer b = {0};
	assert_int_equal(evc_resolve(r, "a.test", 80, on_answer, &b, NULL), 0);
	run_until(&b.calls);
	assert_int_equal(b.status, 0);
	assert_string_equal(b.addr, "127.0.0.5");
	evc_resolver_free(r);
}

/* A refused socket is blamed only on the queries it ended: an NXDOMAIN
 * answered in the same round on a socket the loop does watch stays a
 * plain DNS failure. */
static void test_refused_socket_blames_only_its_query(void **state)
{
	evc_io_stop(loop, dns.fd);
	evc_loop_free(loop);
	assert_int_equal(evc_loop_new(&loop, "select"), 0);
	assert_int_equal(evc_io_start(loop, dns.fd, EVC_READ, on_dns_query, NULL), 0);
	char servers[64];
	snprintf(servers, sizeof servers, "127.0.0.1:%u,127.0.0.1:%u", dns.port, dns.port);
	evc_resolver_opts_t o = {.servers = servers, .timeout_ms = 4000};
	evc_resolver_t *r = NULL;
	assert_int_equal(evc_resolver_new(&r, loop, &o), 0);
	struct answer refused = {0}, nx = {0};
	/* Both go out on a low socket to the first server... */
	assert_int_equal(evc_resolve(r, "refuse.test", 80, on_answer, &refused, NULL), 0);
	assert_int_equal(evc_resolve(r, "nx.test", 80, on_answer, &nx, NULL), 0);
	/* ...then every new socket lands above FD_SETSIZE: the second server's
	 * (for refuse.test, after REFUSED) cannot be watched. */
	int filler[FD_SETSIZE + 8];
	int nfill = fill_fds(filler, sizeof filler / sizeof filler[0]);
	for (int i = 0; i < 10000 && !(refused.calls && nx.calls); i++)
		assert_true(evc_loop_run(loop, EVC_RUN_ONCE) >= 0);
	for (int i = 0; i < nfill; i++)
		close(filler[i]);
	assert_int_equal(refused.status, EVC_EFDSETSIZE);
	assert_int_equal(nx.status, EVC_EDNS);
	assert_string_equal(nx.errmsg, "Domain name not found");
	evc_resolver_free(r);
}

static void test_bad_server_list(void **state)
{
	evc_resolver_opts_t o = {.servers = "not an address"};
	evc_resolver_t *r = NULL;
	assert_int_equal(evc_resolver_new(&r, loop, &o), -EINVAL);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_answer_and_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_query_for_many_waiters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ttl_is_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nxdomain_is_cached_negative, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numeric_and_overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_select_refuses_a_high_dns_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_socket_blames_only_its_query, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_server_list, setup, teardown),
	};
	return cmocka_run_group_tests_name("resolver", tests, NULL, NULL);
}
