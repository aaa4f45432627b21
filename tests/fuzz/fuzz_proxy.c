/*
 * libFuzzer harness for src/net/proxy.c. The first byte picks what the rest
 * is:
 *
 *   0  a proxy URL: parsed; when accepted, its parts are sane and its
 *      Proxy-Authorization fits the room the request builder keeps
 *   1  "LIST\nHOST": a no-proxy list matched against a host ("*" always
 *      matches)
 *   2+ a proxy's answer to an HTTP CONNECT (2), a SOCKS5 (3) or a socks5h
 *      (4) handshake, with credentials when bit 3 is set, delivered in
 *      pieces whose sizes come from the second byte: the handshake ends
 *      open or failed (with a message), never reads past what came, and
 *      once open gives back exactly the bytes after the proxy's answer.
 *
 * Built and run by `make fuzz`; one input again: build/fuzz/fuzz_proxy FILE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "evcrawl/error.h"
#include "net/proxy.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An inner stream that reads the proxy's answer from memory. */
struct feed {
	struct evc__stream s;
	const uint8_t *data;
	size_t size, off;
	uint32_t rng;
	size_t written;
	char first[16]; /* the first bytes the tunnel wrote */
};

static ssize_t feed_read(struct evc__stream *s, char *buf, size_t cap)
{
	struct feed *f = (struct feed *)s;
	if (f->off == f->size)
		return 0; /* the proxy hung up */
	f->rng = f->rng * 1103515245u + 12345u;
	size_t n = 1 + (f->rng >> 16) % 64;
	if (n > f->size - f->off)
		n = f->size - f->off;
	if (n > cap)
		n = cap;
	memcpy(buf, f->data + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static ssize_t feed_write(struct evc__stream *s, const char *buf, size_t len)
{
	struct feed *f = (struct feed *)s;
	for (size_t i = 0; i < len && f->written + i < sizeof f->first; i++)
		f->first[f->written + i] = buf[i];
	f->written += len;
	return (ssize_t)len;
}

static void feed_close(struct evc__stream *s)
{
	(void)s; /* on the stack */
}

static const struct evc__stream_ops feed_ops = {
    .name = "feed", .read = feed_read, .write = feed_write, .close = feed_close};

static void fuzz_url(const char *text)
{
	struct evc__proxy p;
	const char *why = NULL;
	if (evc__proxy_parse(text, &p, &why) < 0) {
		CHECK(why && *why);
		return;
	}
	CHECK(p.host[0] && p.port >= 1 && strlen(p.host) < sizeof p.host);
	for (const char *c = p.host; *c; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z') && *c != '/' && *c != '@');
	CHECK(strlen(p.user) < sizeof p.user && strlen(p.pass) < sizeof p.pass);
	char auth[EVC__PROXY_AUTH_MAX];
	int n = evc__proxy_auth_header(&p, auth, sizeof auth);
	CHECK(n >= 0 && (size_t)n == strlen(auth) && (!p.auth || n > 0));
}

static void fuzz_noproxy(char *text)
{
	char *nl = strchr(text, '\n');
	const char *host = nl ? nl + 1 : "example.com";
	if (nl)
		*nl = '\0';
	(void)evc__noproxy_match(text, host);
	CHECK(evc__noproxy_match("*", host));
	CHECK(!evc__noproxy_match("", host));
}

static void fuzz_tunnel(uint8_t how, uint8_t seed, const uint8_t *data, size_t size)
{
	static const char *const proxies[] = {"http://p:1", "socks5://p:1", "socks5h://p:1",
					      "http://u:p@p:1", "socks5://u:p@p:1",
					      "socks5h://u:p@p:1"};
	unsigned kind = (how & 7) - 2;
	if (kind > 2)
		return;
	struct evc__proxy p;
	const char *why;
	CHECK(evc__proxy_parse(proxies[kind + ((how & 8) ? 3 : 0)], &p, &why) == 0);
	struct feed f = {.s = {.ops = &feed_ops, .fd = -1}, .data = data, .size = size, .rng = seed};
	evc_sockaddr_t addr;
	memset(&addr, 0, sizeof addr);
	addr.in4.sin_family = AF_INET;
	struct evc__stream *t;
	CHECK(evc__proxy_wrap(&f.s, &p, "h.test", 443,
			      p.kind == EVC__PROXY_SOCKS5 ? &addr : NULL, &t) == 0);
	int rc;
	do
		rc = evc__stream_handshake(t);
	while (rc == EVC__WANT_READ || rc == EVC__WANT_WRITE);
	CHECK(f.off <= f.size);
	CHECK(p.kind == EVC__PROXY_HTTP ? memcmp(f.first, "CONNECT ", 8) == 0 : f.first[0] == 5);
	if (rc == 0) {
		/* Open: what came after the answer, and nothing else, is read. */
		size_t left = f.size - f.off, got = 0;
		char buf[256];
		while (t->ops->pending(t)) {
			ssize_t n = evc__stream_read(t, buf, sizeof buf);
			CHECK(n > 0);
			got += (size_t)n;
		}
		CHECK(got <= f.off); /* kept from the proxy's last read */
		ssize_t n = evc__stream_read(t, buf, sizeof buf);
		CHECK(n >= 0 && (size_t)n <= left);
	} else {
		bool retryable;
		CHECK(rc == EVC_EPROTO);
		const char *msg = evc__proxy_failure(t, &retryable);
		CHECK(msg && *msg && strlen(msg) < 320);
	}
	evc__stream_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 8192)
		return 0;
	uint8_t how = data[0], seed = data[1];
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (how & 7) {
	case 0:
		fuzz_url(text);
		break;
	case 1:
		fuzz_noproxy(text);
		break;
	default:
		fuzz_tunnel(how, seed, data + 2, size - 2);
		break;
	}
	free(text);
	return 0;
}
