/* Proxies: proxy URLs, no-proxy lists, the environment, and the CONNECT and
 * SOCKS5 handshakes byte by byte over a socket pair. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evcrawl/error.h"
#include "net/proxy.h"

/* ---- proxy URLs -------------------------------------------------------------- */

static void test_parse(void **state)
{
	struct evc__proxy p;
	const char *why;
	assert_int_equal(evc__proxy_parse("127.0.0.1:3128", &p, &why), 0);
	assert_int_equal(p.kind, EVC__PROXY_HTTP);
	assert_string_equal(p.host, "127.0.0.1");
	assert_int_equal(p.port, 3128);
	assert_false(p.auth);

	assert_int_equal(evc__proxy_parse("HTTP://Proxy.Example", &p, &why), 0);
	assert_string_equal(p.host, "proxy.example");
	assert_int_equal(p.port, 1080); /* curl's default for every kind */

	assert_int_equal(evc__proxy_parse("socks5h://u%3Ax:p%40ss@[::1]:1081/", &p, &why), 0);
	assert_int_equal(p.kind, EVC__PROXY_SOCKS5H);
	assert_string_equal(p.host, "::1");
	assert_int_equal(p.port, 1081);
	assert_true(p.auth);
	assert_string_equal(p.user, "u:x");
	assert_string_equal(p.pass, "p@ss");

	assert_int_equal(evc__proxy_parse("socks5://user@proxy:9", &p, &why), 0);
	assert_int_equal(p.kind, EVC__PROXY_SOCKS5);
	assert_true(p.auth);
	assert_string_equal(p.user, "user");
	assert_string_equal(p.pass, "");

	static const struct {
		const char *url, *why;
	} bad[] = {
	    {"https://proxy:3128", "HTTPS proxies"},
	    {"socks4://proxy", "SOCKS4"},
	    {"socks4a://proxy", "SOCKS4"},
	    {"ftp://proxy", "unknown proxy scheme"},
	    {"http://proxy/path", "no path"},
	    {"http://proxy?q", "no path"},
	    {"http://proxy:0", "bad proxy port"},
	    {"http://proxy:65536", "bad proxy port"},
	    {"http://proxy:80a", "bad proxy port"},
	    {"http://proxy:", "bad proxy port"},
	    {"http://:80", "no host"},
	    {"http://", "no host"},
	    {"http://[::1", "closing"},
	    {"http://[zz]:1", "IPv6"},
	    {"http://u%zz@proxy", "credentials"},
	    {"http://u%00@proxy", "credentials"},
	    {"http://pro xy", "host name"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(evc__proxy_parse(bad[i].url, &p, &why), -EINVAL);
		if (!why || !strstr(why, bad[i].why))
			fail_msg("%s: %s", bad[i].url, why ? why : "(none)");
	}
}

static void test_noproxy(void **state)
{
	const char *list = "example.com, .other.org,10.0.0.0/8 ::1,192.168.1.5,[fe80::]/10,x.test.";
	static const struct {
		const char *host;
		bool match;
	} cases[] = {
	    {"example.com", true},
	    {"www.example.com", true},
	    {"EXAMPLE.COM.", true},
	    {"notexample.com", false},
	    {"example.com.au", false},
	    {"other.org", true},
	    {"a.b.other.org", true},
	    {"10.1.2.3", true},
	    {"11.0.0.1", false},
	    {"::1", true},
	    {"::2", false},
	    {"192.168.1.5", true},
	    {"192.168.1.50", false},
	    {"fe80::1", true},
	    {"fe00::1", false},
	    {"x.test", true},
	    {"y.x.test", true},
	    {"1.2.3.4", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (evc__noproxy_match(list, cases[i].host) != cases[i].match)
			fail_msg("%s: want %d", cases[i].host, cases[i].match);
	assert_true(evc__noproxy_match("*", "anything.example"));
	assert_true(evc__noproxy_match(" * ", "127.0.0.1"));
	assert_false(evc__noproxy_match("", "example.com"));
	assert_false(evc__noproxy_match(NULL, "example.com"));
	assert_false(evc__noproxy_match("*.example.com", "www.example.com")); /* curl: no globs */
	assert_false(evc__noproxy_match("10.0.0.0/33", "10.0.0.1"));
	assert_false(evc__noproxy_match("10.0.0.0/", "10.0.0.1"));
	assert_true(evc__noproxy_match("10.0.0.0/0", "99.1.1.1"));
}

static void test_pick_and_env(void **state)
{
	evc_crawl_opts_t o;
	evc_crawl_opts_init(&o);
	assert_null(evc__proxy_pick(&o, false, "h.test"));
	o.http_proxy = "http://a:1";
	o.https_proxy = "socks5://b:2";
	assert_string_equal(evc__proxy_pick(&o, false, "h.test"), "http://a:1");
	assert_string_equal(evc__proxy_pick(&o, true, "h.test"), "socks5://b:2");
	o.proxy = "http://all:3";
	assert_string_equal(evc__proxy_pick(&o, true, "h.test"), "http://all:3");
	o.noproxy = "h.test";
	assert_null(evc__proxy_pick(&o, true, "www.h.test"));
	assert_string_equal(evc__proxy_pick(&o, true, "other.test"), "http://all:3");

	/* The environment, as curl reads it. */
	static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
					   "all_proxy",	 "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	const char *http, *https, *no;
	evc_crawl_opts_init(&o);
	setenv("HTTP_PROXY", "http://upper:1", 1); /* never read: see proxy.h */
	setenv("HTTPS_PROXY", "http://secure:2", 1);
	setenv("ALL_PROXY", "socks5h://all:3", 1);
	setenv("NO_PROXY", "local.test", 1);
	evc__proxy_env(&o, &http, &https, &no);
	assert_string_equal(http, "socks5h://all:3");
	assert_string_equal(https, "http://secure:2");
	assert_string_equal(no, "local.test");
	setenv("http_proxy", "http://lower:4", 1);
	setenv("https_proxy", "", 1); /* empty: unset, HTTPS_PROXY is read */
	setenv("no_proxy", "lower.test", 1);
	evc__proxy_env(&o, &http, &https, &no);
	assert_string_equal(http, "http://lower:4");
	assert_string_equal(https, "http://secure:2");
	assert_string_equal(no, "lower.test");
	/* Options win: a proxy for all (-x) leaves the schemes' alone, and an
	 * explicit no-proxy list is kept. */
	o.proxy = "http://x:5";
	o.noproxy = "mine.test";
	evc__proxy_env(&o, &http, &https, &no);
	assert_null(http);
	assert_null(https);
	assert_string_equal(no, "mine.test");
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void test_auth_header(void **state)
{
	struct evc__proxy p;
	const char *why;
	char buf[EVC__PROXY_AUTH_MAX];
	assert_int_equal(evc__proxy_parse("http://Aladdin:open%20sesame@p:1", &p, &why), 0);
	int n = evc__proxy_auth_header(&p, buf, sizeof buf);
	/* RFC 7617's example. */
	assert_string_equal(buf, "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(evc__proxy_auth_header(&p, buf, 20), -1);
	assert_int_equal(evc__proxy_parse("http://p:1", &p, &why), 0);
	assert_int_equal(evc__proxy_auth_header(&p, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	/* The longest credentials fit. */
	char url[1200] = "http://", *u = url + 7;
	memset(u, 'u', 255);
	u[255] = ':';
	memset(u + 256, 'p', 255);
	strcpy(u + 511, "@p:1");
	assert_int_equal(evc__proxy_parse(url, &p, &why), 0);
	assert_true(evc__proxy_auth_header(&p, buf, sizeof buf) > 600);
}

/* ---- the tunnel over a socket pair --------------------------------------------- */

/* A stream over one end of a socket pair; the test plays the proxy on the other. */
struct pair_stream {
	struct evc__stream s;
};

static ssize_t pair_read(struct evc__stream *s, char *buf, size_t cap)
{
	ssize_t n = recv(s->fd, buf, cap, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? EVC__WANT_READ : -errno;
}

static ssize_t pair_write(struct evc__stream *s, const char *buf, size_t len)
{
	ssize_t n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? EVC__WANT_WRITE : -errno;
}

static void pair_close(struct evc__stream *s)
{
	close(s->fd);
	free(s);
}

static const struct evc__stream_ops pair_ops = {
    .name = "pair", .read = pair_read, .write = pair_write, .close = pair_close};

struct rig {
	struct evc__stream *tunnel;
	int peer; /* the proxy's end */
};

static void rig_open(struct rig *r, const char *proxy, const char *host, uint16_t port,
		     const char *addr)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct pair_stream *ps = calloc(1, sizeof *ps);
	ps->s.ops = &pair_ops;
	ps->s.fd = sv[0];
	r->peer = sv[1];
	struct evc__proxy p;
	const char *why;
	assert_int_equal(evc__proxy_parse(proxy, &p, &why), 0);
	evc_sockaddr_t sa;
	memset(&sa, 0, sizeof sa);
	if (addr) {
		sa.in4.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &sa.in4.sin_addr), 1);
	}
	assert_int_equal(evc__proxy_wrap(&ps->s, &p, host, port, addr ? &sa : NULL, &r->tunnel), 0);
	assert_true(evc__is_tunnel(r->tunnel));
}

static void rig_close(struct rig *r)
{
	evc__stream_close(r->tunnel);
	close(r->peer);
}

/* What the client sent, after a handshake step that must now wait. */
static size_t expect_sent(struct rig *r, const void *want, size_t len)
{
	assert_int_equal(evc__stream_handshake(r->tunnel), EVC__WANT_READ);
	char buf[1024];
	ssize_t n = recv(r->peer, buf, sizeof buf, MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, want, len);
	return (size_t)n;
}

/* The proxy answers one byte at a time; the handshake waits until the last
 * and then says rc. */
static void answer_bytewise(struct rig *r, const void *data, size_t len, int rc)
{
	const char *p = data;
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(send(r->peer, p + i, 1, 0), 1);
		int got = evc__stream_handshake(r->tunnel);
		if (i + 1 < len && got != EVC__WANT_READ)
			fail_msg("byte %zu of %zu: handshake said %d", i, len, got);
		if (i + 1 == len)
			assert_int_equal(got, rc);
	}
}

static void expect_failure(struct rig *r, const char *why, bool retryable)
{
	bool again;
	const char *got = evc__proxy_failure(r->tunnel, &again);
	assert_string_equal(got, why);
	assert_int_equal(again, retryable);
	assert_int_equal(evc__stream_handshake(r->tunnel), EVC_EPROTO); /* and stays failed */
}

static void test_connect_tunnel(void **state)
{
	struct rig r;
	rig_open(&r, "http://u:p@proxy.test:8080", "h.test", 443, NULL);
	static const char req[] = "CONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n"
				  "Proxy-Authorization: Basic dTpw\r\n\r\n";
	expect_sent(&r, req, sizeof req - 1);
	static const char ans[] = "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nEARLY";
	answer_bytewise(&r, ans, sizeof ans - 1 - 5, 0);
	/* Bytes after the head are the origin's: the first read gives them. */
	assert_int_equal(send(r.peer, "EARLY", 5, 0), 5);
	char buf[16];
	assert_int_equal(evc__stream_read(r.tunnel, buf, sizeof buf), 5);
	assert_memory_equal(buf, "EARLY", 5);
	assert_int_equal(evc__stream_write(r.tunnel, "hi", 2), 2);
	assert_int_equal(recv(r.peer, buf, sizeof buf, 0), 2);
	rig_close(&r);

	/* An IPv6 origin is bracketed; bytes after the head in the same read
	 * are kept for the first read; a bare-LF head is taken. */
	rig_open(&r, "http://[::1]:3128", "::1", 8443, NULL);
	static const char req6[] = "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n";
	expect_sent(&r, req6, sizeof req6 - 1);
	static const char ans6[] = "HTTP/1.0 200 OK\n\nTLS";
	assert_int_equal(send(r.peer, ans6, sizeof ans6 - 1, 0), (ssize_t)sizeof ans6 - 1);
	assert_int_equal(evc__stream_handshake(r.tunnel), 0);
	assert_true(r.tunnel->ops->pending(r.tunnel));
	assert_int_equal(evc__stream_read(r.tunnel, buf, 2), 2);
	assert_int_equal(evc__stream_read(r.tunnel, buf + 2, sizeof buf), 1);
	assert_memory_equal(buf, "TLS", 3);
	assert_false(r.tunnel->ops->pending(r.tunnel));
	rig_close(&r);

	/* An interim answer is skipped; a blank line of CR LF after a bare LF
	 * ends the head. */
	rig_open(&r, "http://p:1", "h.test", 443, NULL);
	static const char req2[] = "CONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n\r\n";
	expect_sent(&r, req2, sizeof req2 - 1);
	static const char ans2[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nVia: x\n\r\n";
	answer_bytewise(&r, ans2, sizeof ans2 - 1, 0);
	assert_false(r.tunnel->ops->pending(r.tunnel));
	rig_close(&r);
}

static void connect_fails(const char *proxy, const char *answer, const char *why, bool retryable)
{
	struct rig r;
	rig_open(&r, proxy, "h.test", 443, NULL);
	char buf[512];
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_true(recv(r.peer, buf, sizeof buf, 0) > 0);
	if (answer && strncmp(answer, "HTTP/", 5) != 0) { /* garbage: known at once */
		assert_int_equal(send(r.peer, answer, strlen(answer), 0), (ssize_t)strlen(answer));
		assert_int_equal(evc__stream_handshake(r.tunnel), EVC_EPROTO);
	} else if (answer) {
		answer_bytewise(&r, answer, strlen(answer), EVC_EPROTO);
	} else { /* the proxy hangs up */
		shutdown(r.peer, SHUT_WR);
		assert_int_equal(evc__stream_handshake(r.tunnel), EVC_EPROTO);
	}
	expect_failure(&r, why, retryable);
	rig_close(&r);
}

static void test_connect_refusals(void **state)
{
	connect_fails("http://p:1", "HTTP/1.1 403 Forbidden\r\n\r\n",
		      "the HTTP proxy p:1 refused the tunnel to h.test:443: 403 Forbidden", false);
	connect_fails(
	    "http://p:1", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
	    "the HTTP proxy p:1 refused the tunnel to h.test:443: 503 Service Unavailable", true);
	connect_fails("http://p:1", "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
		      "the HTTP proxy p:1 wants credentials (407 Proxy Authentication Required): "
		      "give them in the proxy URL, http://USER:PASSWORD@HOST:PORT",
		      false);
	connect_fails("http://a:b@p:1", "HTTP/1.1 407 Nope\r\n\r\n",
		      "the HTTP proxy p:1 refused the credentials (407 Nope)", false);
	connect_fails("http://p:1", "SSH-2.0-OpenSSH\r\n",
		      "the HTTP proxy p:1 answered CONNECT with something that is not HTTP", false);
	connect_fails("http://p:1", "HTTP/1.1 2xx Odd\r\n\r\n",
		      "the HTTP proxy p:1 answered CONNECT with something that is not HTTP", false);
	connect_fails("http://p:1", "HTTP/1.x 200 OK\r\n\r\n",
		      "the HTTP proxy p:1 answered CONNECT with something that is not HTTP", false);
	connect_fails("http://p:1", NULL,
		      "the HTTP proxy p:1 closed the connection before it answered", true);

	/* An answer head that never ends is cut at 16 KiB. */
	struct rig r;
	rig_open(&r, "http://p:1", "h.test", 443, NULL);
	char buf[512];
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_true(recv(r.peer, buf, sizeof buf, 0) > 0);
	static const char line[] = "HTTP/1.1 200 OK\r\n";
	assert_int_equal(send(r.peer, line, sizeof line - 1, 0), (ssize_t)sizeof line - 1);
	int rc = EVC__WANT_READ;
	memset(buf, 'h', sizeof buf);
	buf[sizeof buf - 2] = '\r';
	buf[sizeof buf - 1] = '\n';
	for (int i = 0; i < 40 && rc == EVC__WANT_READ; i++) {
		assert_int_equal(send(r.peer, buf, sizeof buf, 0), (ssize_t)sizeof buf);
		rc = evc__stream_handshake(r.tunnel);
	}
	assert_int_equal(rc, EVC_EPROTO);
	expect_failure(&r, "the HTTP proxy p:1 sent an answer longer than 16384 bytes", false);
	rig_close(&r);
}

static const unsigned char SOCKS_OK[] = {5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90};

static void test_socks5(void **state)
{
	struct rig r;
	/* socks5: an address, no credentials. */
	rig_open(&r, "socks5://p:1080", "h.test", 443, "127.0.0.9");
	expect_sent(&r, "\x05\x01\x00", 3);
	answer_bytewise(&r, "\x05\x00", 2, EVC__WANT_READ);
	static const unsigned char req4[] = {5, 1, 0, 1, 127, 0, 0, 9, 0x01, 0xbb};
	char buf[600];
	assert_int_equal(recv(r.peer, buf, sizeof buf, MSG_DONTWAIT), (ssize_t)sizeof req4);
	assert_memory_equal(buf, req4, sizeof req4);
	answer_bytewise(&r, SOCKS_OK, sizeof SOCKS_OK, 0);
	rig_close(&r);

	/* socks5h with credentials: the name goes to the proxy. */
	rig_open(&r, "socks5h://us:p%40ss@p:1080", "h.test", 80, NULL);
	expect_sent(&r, "\x05\x02\x00\x02", 4);
	answer_bytewise(&r, "\x05\x02", 2, EVC__WANT_READ);
	assert_int_equal(recv(r.peer, buf, sizeof buf, MSG_DONTWAIT), 9);
	assert_memory_equal(buf, "\x01\x02us\x04p@ss", 9);
	answer_bytewise(&r, "\x01\x00", 2, EVC__WANT_READ);
	static const unsigned char reqh[] = {5, 1, 0, 3, 6, 'h', '.', 't', 'e', 's', 't', 0, 80};
	assert_int_equal(recv(r.peer, buf, sizeof buf, MSG_DONTWAIT), (ssize_t)sizeof reqh);
	assert_memory_equal(buf, reqh, sizeof reqh);
	/* A reply naming a domain as its bound address, then the origin's
	 * first bytes. */
	static const unsigned char rep[] = {5, 0, 0, 3, 2, 'p', 'x', 0, 1, 'H', 'I'};
	assert_int_equal(send(r.peer, rep, sizeof rep, 0), (ssize_t)sizeof rep);
	assert_int_equal(evc__stream_handshake(r.tunnel), 0);
	assert_int_equal(evc__stream_read(r.tunnel, buf, sizeof buf), 2);
	assert_memory_equal(buf, "HI", 2);
	rig_close(&r);

	/* socks5h with an address for a host sends the address; credentials
	 * with no user name are not offered (RFC 1929 wants 1 to 255 bytes). */
	rig_open(&r, "socks5h://:pw@p:1080", "127.0.0.9", 80, NULL);
	expect_sent(&r, "\x05\x01\x00", 3);
	answer_bytewise(&r, "\x05\x00", 2, EVC__WANT_READ);
	static const unsigned char reqa[] = {5, 1, 0, 1, 127, 0, 0, 9, 0, 80};
	assert_int_equal(recv(r.peer, buf, sizeof buf, MSG_DONTWAIT), (ssize_t)sizeof reqa);
	assert_memory_equal(buf, reqa, sizeof reqa);
	rig_close(&r);
	rig_open(&r, "socks5h://p:1080", "::1", 80, NULL);
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_int_equal(recv(r.peer, buf, sizeof buf, 0), 3);
	answer_bytewise(&r, "\x05\x00", 2, EVC__WANT_READ);
	assert_int_equal(recv(r.peer, buf, sizeof buf, MSG_DONTWAIT), 22);
	assert_memory_equal(buf, "\x05\x01\x00\x04", 4);
	assert_int_equal(buf[19], 1); /* ::1 */
	rig_close(&r);
}

/* A SOCKS5 handshake (socks5h, no credentials) in which the proxy answers
 * the greeting with method and, unless reply is NULL (the method fails it
 * already), the CONNECT with reply ("": it hangs up instead). */
static void socks_fails(const char *method, size_t mlen, const void *reply, size_t rlen,
			const char *why, bool retryable)
{
	struct rig r;
	rig_open(&r, "socks5h://p:1080", "h.test", 443, NULL);
	char buf[600];
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_int_equal(recv(r.peer, buf, sizeof buf, 0), 3);
	if (method) {
		assert_int_equal(send(r.peer, method, mlen, 0), (ssize_t)mlen);
		int rc = evc__stream_handshake(r.tunnel);
		if (!reply) {
			assert_int_equal(rc, EVC_EPROTO);
			expect_failure(&r, why, retryable);
			rig_close(&r);
			return;
		}
		assert_int_equal(rc, EVC__WANT_READ);
		assert_true(recv(r.peer, buf, sizeof buf, 0) > 0);
	}
	if (rlen)
		assert_int_equal(send(r.peer, reply, rlen, 0), (ssize_t)rlen);
	else /* the proxy hangs up */
		shutdown(r.peer, SHUT_WR);
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC_EPROTO);
	expect_failure(&r, why, retryable);
	rig_close(&r);
}

static void test_socks5_failures(void **state)
{
	socks_fails("\x05\x00", 2, "\x05\x05\x00\x01", 4,
		    "the SOCKS5 proxy p:1080 could not connect to h.test:443: connection refused",
		    true);
	socks_fails("\x05\x00", 2, "\x05\x02", 2,
		    "the SOCKS5 proxy p:1080 could not connect to h.test:443: connection not "
		    "allowed by its rules",
		    false);
	socks_fails("\x05\x00", 2, "\x05\x63", 2,
		    "the SOCKS5 proxy p:1080 could not connect to h.test:443: error 99", false);
	socks_fails("\x05\x00", 2, "\x05\x00\x00\x09\x00", 5,
		    "the SOCKS5 proxy p:1080 did not answer as a SOCKS5 proxy", false);
	socks_fails("\x05\x00", 2, "HTTP/1.1 400", 12,
		    "the SOCKS5 proxy p:1080 did not answer as a SOCKS5 proxy", false);
	socks_fails("\x05\x00", 2, "", 0,
		    "the SOCKS5 proxy p:1080 closed the connection before it answered", true);
	socks_fails("\x05\xff", 2, NULL, 0,
		    "the SOCKS5 proxy p:1080 wants a user name and password: give them in the "
		    "proxy URL, socks5://USER:PASSWORD@HOST:PORT",
		    false);
	socks_fails("\x05\x01", 2, NULL, 0,
		    "the SOCKS5 proxy p:1080 chose an authentication method evcrawl did not "
		    "offer (1)",
		    false);
	socks_fails("\x04\x00", 2, NULL, 0,
		    "the SOCKS5 proxy p:1080 did not answer as a SOCKS5 proxy", false);

	/* Refused credentials. */
	struct rig r;
	rig_open(&r, "socks5h://u:bad@p:1080", "h.test", 443, NULL);
	char buf[600];
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_int_equal(recv(r.peer, buf, sizeof buf, 0), 4);
	assert_int_equal(send(r.peer, "\x05\x02", 2, 0), 2);
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC__WANT_READ);
	assert_true(recv(r.peer, buf, sizeof buf, 0) > 0);
	assert_int_equal(send(r.peer, "\x01\x01", 2, 0), 2);
	assert_int_equal(evc__stream_handshake(r.tunnel), EVC_EPROTO);
	expect_failure(&r, "the SOCKS5 proxy p:1080 refused the user name and password", false);
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),	   cmocka_unit_test(test_noproxy),
	    cmocka_unit_test(test_pick_and_env),   cmocka_unit_test(test_auth_header),
	    cmocka_unit_test(test_connect_tunnel), cmocka_unit_test(test_connect_refusals),
	    cmocka_unit_test(test_socks5),	   cmocka_unit_test(test_socks5_failures),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
