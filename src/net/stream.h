/*
 * The transport seam: a byte stream over a connected socket, and the one
 * place that opens TCP connections.
 *
 * Everything above src/net/ moves bytes through a struct evc__stream and
 * never calls send, recv or connect itself. Plain TCP is one implementation
 * (tcp.c); TLS and proxy tunnels are others, each wrapping the stream below
 * it (TLS over a CONNECT tunnel over TCP), so the crawler and the blocking
 * fetcher never know which they hold.
 *
 * Every operation answers with a byte count or one of the codes below,
 * never by raising a signal: no write of any stream may raise SIGPIPE in a
 * program that embeds the library.
 */
#ifndef EVC_STREAM_H
#define EVC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evcrawl/resolver.h"
#include "evcrawl/result.h"

/* "Not now": call again once the fd is readable (WANT_READ) or writable
 * (WANT_WRITE). A stream over a blocking socket with an I/O timeout says
 * WANT_READ/WANT_WRITE when the timeout passed. Not errno values. */
enum {
	EVC__WANT_READ = -6001,
	EVC__WANT_WRITE = -6002,
};

struct evc__stream;

struct evc__stream_ops {
	const char *name;
	/* Up to cap bytes into buf: > 0 bytes read, 0 the peer closed
	 * cleanly, or WANT_READ/WANT_WRITE or -errno. */
	ssize_t (*read)(struct evc__stream *s, char *buf, size_t cap);
	/* Some of buf: > 0 bytes written, or WANT_READ/WANT_WRITE or -errno
	 * (-EPIPE for a closed peer, never the signal). */
	ssize_t (*write)(struct evc__stream *s, const char *buf, size_t len);
	/* Finish setting up (a TLS handshake, a proxy's answer): 0 when ready,
	 * WANT_READ/WANT_WRITE, or a negative code. NULL: nothing to do. */
	int (*handshake)(struct evc__stream *s);
	/* End the write side (FIN, close_notify). 0 or a negative code. */
	int (*shutdown)(struct evc__stream *s);
	/* Bytes already received and decrypted but not yet read: the fd will
	 * not become readable for them, so read again first. NULL: never. */
	bool (*pending)(struct evc__stream *s);
	/* Close the socket and free the stream. */
	void (*close)(struct evc__stream *s);
};

struct evc__stream {
	const struct evc__stream_ops *ops;
	int fd; /* what the loop watches */
};

static inline ssize_t evc__stream_read(struct evc__stream *s, char *buf, size_t cap)
{
	return s->ops->read(s, buf, cap);
}

static inline ssize_t evc__stream_write(struct evc__stream *s, const char *buf, size_t len)
{
	return s->ops->write(s, buf, len);
}

static inline int evc__stream_handshake(struct evc__stream *s)
{
	return s->ops->handshake ? s->ops->handshake(s) : 0;
}

static inline bool evc__stream_pending(struct evc__stream *s)
{
	return s->ops->pending && s->ops->pending(s);
}

/** Close and free s (NULL is fine). */
static inline void evc__stream_close(struct evc__stream *s)
{
	if (s)
		s->ops->close(s);
}

/* ---- TCP (tcp.c) --------------------------------------------------------- */

/**
 * Start a TCP connection to addr:port on a new nonblocking socket (close-on-
 * exec, TCP_NODELAY). Returns 0 with *out connected at once, -EINPROGRESS
 * with *out connecting (wait until its fd is writable, then call
 * evc__tcp_connected), or -errno with nothing open. Check the code with
 * evc__fd_pressure() before trying the next address.
 */
int evc__tcp_connect(const evc_sockaddr_t *addr, uint16_t port, struct evc__stream **out);

/** After a nonblocking connect became writable: 0, or -errno (SO_ERROR). */
int evc__tcp_connected(struct evc__stream *s);

/**
 * The blocking way, for the classic engines: connect within timeout_ms and
 * return 0 with *out, or -errno (-ETIMEDOUT when time ran out). busy: the
 * socket stays nonblocking and connect is retried in a spin (no selector);
 * otherwise it blocks. Either way the stream keeps that nature: reads and
 * writes block (bounded by evc__tcp_set_timeout) or answer WANT_*.
 */
int evc__tcp_connect_wait(const evc_sockaddr_t *addr, uint16_t port, unsigned timeout_ms, bool busy,
			  struct evc__stream **out);

/** Bound each blocking read and write of s to ms (SO_RCVTIMEO/SO_SNDTIMEO;
 * 0 is taken as 1 ms, never as "forever"). */
void evc__tcp_set_timeout(struct evc__stream *s, unsigned ms);

/**
 * Bound all reads and writes of s (a TCP stream; anything else is left
 * alone) together, until deadline_ns on evc_hrtime's clock (0: no longer):
 * each waits at most what is left, and once it has passed they say
 * WANT_READ/WANT_WRITE at once. For the blocking engines' handshakes, whose
 * reads happen inside a stream above (TLS, a proxy tunnel) and would each
 * get the full I/O timeout: a server sending a byte a second would hold
 * them forever. The I/O timeout is left changed: set it again after.
 */
void evc__tcp_set_deadline(struct evc__stream *s, uint64_t deadline_ns);

/**
 * Whether err (a negative code from opening or watching a socket) means the
 * process is out of descriptors or local ports rather than that this
 * address failed: EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL, and the select
 * backend's EVC_EFDSETSIZE. The caller backs off and tries later. (-ENOMEM
 * is not: out of memory fails the fetch, it does not wait.)
 */
bool evc__fd_pressure(int err);

/** addr as text ("127.0.0.1", "::1") into buf; "?" when it cannot. */
const char *evc__addr_text(const evc_sockaddr_t *addr, char *buf, size_t cap);

/* ---- TLS (tls.c) --------------------------------------------------------- */

/* What a TLS configuration is made from (the crawl options' TLS part). */
struct evc__tls_opts {
	const char *cacert;   /* PEM bundle of trusted CAs; NULL: the system's */
	const char *capath;   /* hashed directory of CAs; NULL: the system's */
	bool insecure;	      /* check no certificate (curl -k) */
	unsigned min_version; /* 12 or 13: lowest TLS version (1.2 by default) */
};

/* One TLS client configuration (an SSL_CTX) with its session cache and its
 * per-host verdicts. Shared by every connection made with the same options,
 * across threads too (it locks what it must). */
struct evc__tls_ctx;

/**
 * The configuration for o: an existing one when another engine in this
 * process uses the same options, else a new one. Returns 0, or -EINVAL with
 * *err naming what is wrong (a --cacert that cannot be read), or -ENOMEM.
 * Release with evc__tls_ctx_release.
 */
int evc__tls_ctx_get(struct evc__tls_ctx **out, const struct evc__tls_opts *o, const char **err);
void evc__tls_ctx_release(struct evc__tls_ctx *ctx);

/**
 * Whether a handshake with host:port already failed for good (a
 * certificate that does not verify, a protocol the server will not speak),
 * with the reason copied into why: the crawl's other URLs of that server
 * fail at once instead of paying a full handshake each.
 */
bool evc__tls_known_failure(struct evc__tls_ctx *ctx, const char *host, uint16_t port, char *why,
			    size_t cap);

/**
 * Start TLS on a connected stream for host:port (SNI, certificate and name
 * checks, ALPN http/1.1, a kept session resumed when there is one). On
 * success *out is the TLS stream and owns inner; drive evc__stream_handshake
 * until it says 0. On failure inner is still the caller's. Returns 0 or
 * -ENOMEM.
 */
int evc__tls_wrap(struct evc__tls_ctx *ctx, struct evc__stream *inner, const char *host,
		  uint16_t port, struct evc__stream **out);

/* What the record shows of a TLS connection. */
struct evc__tls_info {
	const char *version; /* "TLSv1.3"; static */
	const char *cipher;  /* "TLS_AES_128_GCM_SHA256"; static */
	const char *alpn;    /* "http/1.1" (static), or NULL when none was agreed */
	bool resumed;
};

/** After a successful handshake of s (a TLS stream). */
void evc__tls_info(struct evc__stream *s, struct evc__tls_info *info);

/**
 * After a failed handshake (or read/write) of s: the reason in words, and
 * whether it is final for the server (*fatal: a certificate or protocol
 * verdict, remembered for evc__tls_known_failure) or may pass (a reset).
 */
const char *evc__tls_failure(struct evc__stream *s, bool *fatal);

/* A leaf certificate's details: one block, reference-counted (a connection
 * and the records of every request on it share it). */
struct evc__cert {
	unsigned refs;
	evc_cert_info_t info; /* strings point into the block */
};

/** The leaf certificate s's server sent (verified or not), or NULL when
 * none came (or out of memory). The caller owns one reference. */
struct evc__cert *evc__tls_cert(struct evc__stream *s);
struct evc__cert *evc__cert_ref(struct evc__cert *c);
void evc__cert_unref(struct evc__cert *c);

/** Whether s is a TLS stream. */
bool evc__is_tls(const struct evc__stream *s);

#endif
