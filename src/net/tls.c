/*
 * TLS streams with OpenSSL 3, over any other stream (see stream.h).
 *
 * OpenSSL never touches the socket: a BIO of our own moves its bytes
 * through the inner stream, so the inner stream's promises hold (TCP
 * writes with MSG_NOSIGNAL: no SIGPIPE), "would block" becomes OpenSSL's
 * retry, and the same code runs nonblocking on the loop and blocking in
 * the classic engines.
 *
 * One SSL_CTX per distinct set of options, shared process-wide (threads
 * included) and reference-counted. It holds a client session cache keyed by
 * host:port (up to HOST_SESSIONS per server, since a crawl opens several
 * connections to one at once; a TLS 1.3 ticket is taken out when used, as
 * RFC 8446 advises; a TLS 1.2 session stays) and the verdicts of failed
 * handshakes, so a crawl pays a full handshake once per server, and a
 * server whose certificate does not verify fails its other URLs at once.
 *
 * Memory. SSL_MODE_RELEASE_BUFFERS frees the record buffers after
 * application data; idle_buffers() also frees them whenever a read would
 * wait, so a connection waiting for its response holds none.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "evcrawl/error.h"
#include "net/stream.h"
#include "util/url.h"

#define CACHE_MAX     20000 /* servers remembered (sessions and verdicts) */
#define HOST_SESSIONS 128   /* sessions kept per server: about its connections at once */
#define SESSIONS_MAX  4096  /* sessions kept in all: a bound on their memory */
#define CACHE_BUCKETS 4096

struct cached {
	struct cached *next;
	SSL_SESSION **sessions; /* to resume, oldest first; grown as needed */
	unsigned nsessions, cap;
	char *failure; /* a handshake verdict, or NULL */
	char key[];    /* "host:port" */
};

struct evc__tls_ctx {
	struct evc__tls_ctx *next; /* in the process-wide list */
	unsigned refs;
	struct evc__tls_opts o; /* strings owned */
	SSL_CTX *ssl_ctx;
	pthread_mutex_t lock; /* the cache */
	struct cached *buckets[CACHE_BUCKETS];
	size_t ncached;
	size_t nsessions; /* in all entries */
};

struct tls {
	struct evc__stream s; /* first: the pointer handed out; fd = inner's */
	struct evc__stream *inner;
	struct evc__tls_ctx *ctx;
	SSL *ssl;
	int inner_err;	/* the inner stream's last error (-errno), for messages */
	bool inner_eof; /* the inner stream hit EOF */
	bool handshake_done;
	bool fatal;    /* the failure is the server's verdict */
	char why[256]; /* the failure in words */
	char key[];    /* "host:port" */
};

static pthread_mutex_t ctx_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct evc__tls_ctx *ctx_list;
static BIO_METHOD *bio_method;
static int ssl_index = -1; /* SSL ex_data slot: our struct tls */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- the BIO: OpenSSL's bytes through the inner stream ------------------------- */

static int bio_write(BIO *b, const char *buf, int len)
{
	struct tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = evc__stream_write(t->inner, buf, (size_t)len);
	if (n >= 0)
		return (int)n;
	if (n == EVC__WANT_WRITE || n == EVC__WANT_READ) {
		BIO_set_retry_write(b);
		return -1;
	}
	t->inner_err = (int)n;
	return -1;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = evc__stream_read(t->inner, buf, (size_t)len);
	if (n > 0)
		return (int)n;
	if (n == 0) {
		t->inner_eof = true;
		return 0;
	}
	if (n == EVC__WANT_READ || n == EVC__WANT_WRITE) {
		BIO_set_retry_read(b);
		return -1;
	}
	t->inner_err = (int)n;
	return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void init_once(void)
{
	bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "evcrawl stream");
	if (bio_method) {
		BIO_meth_set_write(bio_method, bio_write);
		BIO_meth_set_read(bio_method, bio_read);
		BIO_meth_set_ctrl(bio_method, bio_ctrl);
		BIO_meth_set_create(bio_method, bio_create);
	}
	ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* ---- the cache: sessions and verdicts per server --------------------------------- */

static struct cached **slot_of(struct evc__tls_ctx *ctx, const char *key)
{
	struct cached **pp = &ctx->buckets[evc__hash64(key, strlen(key)) % CACHE_BUCKETS];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void free_cached(struct evc__tls_ctx *ctx, struct cached *c)
{
	for (unsigned i = 0; i < c->nsessions; i++)
		SSL_SESSION_free(c->sessions[i]);
	ctx->nsessions -= c->nsessions;
	free(c->sessions);
	free(c->failure);
	free(c);
}

/* The entry for key, made if missing (NULL when out of memory). Called
 * with the lock held. A full cache drops the bucket's oldest entry. */
static struct cached *cache_entry(struct evc__tls_ctx *ctx, const char *key)
{
	struct cached **pp = slot_of(ctx, key);
	struct cached *found = *pp;
	if (found)
		return found;
	if (ctx->ncached >= CACHE_MAX) {
		struct cached **b = &ctx->buckets[evc__hash64(key, strlen(key)) % CACHE_BUCKETS];
		if (*b) {
			struct cached *old = *b;
			*b = old->next;
			free_cached(ctx, old);
			ctx->ncached--;
			pp = slot_of(ctx, key);
		}
	}
	size_t n = strlen(key) + 1;
	struct cached *c = calloc(1, sizeof *c + n);
	if (!c)
		return NULL;
	memcpy(c->key, key, n);
	*pp = c;
	ctx->ncached++;
	return c;
}

/* OpenSSL has a new session (a TLS 1.2 session, or a TLS 1.3 ticket that
 * may come long after the handshake): keep it for the next connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	struct tls *t = SSL_get_ex_data(ssl, ssl_index);
	if (!t)
		return 0;
	struct evc__tls_ctx *ctx = t->ctx;
	pthread_mutex_lock(&ctx->lock);
	struct cached *c = cache_entry(ctx, t->key);
	bool kept = false;
	if (c) {
		/* Full: this server's oldest goes; everything full: keep it only
		 * in place of this server's oldest. */
		if (c->nsessions == HOST_SESSIONS ||
		    (ctx->nsessions >= SESSIONS_MAX && c->nsessions > 0)) {
			SSL_SESSION_free(c->sessions[0]);
			memmove(c->sessions, c->sessions + 1,
				--c->nsessions * sizeof c->sessions[0]);
			ctx->nsessions--;
		}
		if (c->nsessions == c->cap && ctx->nsessions < SESSIONS_MAX) {
			unsigned cap = c->cap ? c->cap * 2 : 4;
			SSL_SESSION **grown = realloc(c->sessions, cap * sizeof *grown);
			if (grown) {
				c->sessions = grown;
				c->cap = cap;
			}
		}
		if (ctx->nsessions < SESSIONS_MAX && c->nsessions < c->cap) {
			c->sessions[c->nsessions++] = session;
			ctx->nsessions++;
			kept = true;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return kept ? 1 : 0; /* 1: the reference is ours now */
}

bool evc__tls_known_failure(struct evc__tls_ctx *ctx, const char *host, uint16_t port, char *why,
			    size_t cap)
{
	char key[300];
	snprintf(key, sizeof key, "%s:%u", host, port);
	pthread_mutex_lock(&ctx->lock);
	struct cached *c = *slot_of(ctx, key);
	bool known = c && c->failure;
	if (known)
		snprintf(why, cap, "%s", c->failure);
	pthread_mutex_unlock(&ctx->lock);
	return known;
}

static void remember_failure(struct tls *t)
{
	struct evc__tls_ctx *ctx = t->ctx;
	pthread_mutex_lock(&ctx->lock);
	struct cached *c = cache_entry(ctx, t->key);
	if (c && !c->failure)
		c->failure = strdup(t->why);
	pthread_mutex_unlock(&ctx->lock);
}

/* ---- configurations ---------------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void ctx_free(struct evc__tls_ctx *ctx)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		for (struct cached *c = ctx->buckets[i], *next; c; c = next) {
			next = c->next;
			free_cached(ctx, c);
		}
	}
	SSL_CTX_free(ctx->ssl_ctx);
	pthread_mutex_destroy(&ctx->lock);
	free((char *)ctx->o.cacert);
	free((char *)ctx->o.capath);
	free(ctx);
}

static int ctx_new(struct evc__tls_ctx **out, const struct evc__tls_opts *o, const char **err)
{
	struct evc__tls_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return -ENOMEM;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->refs = 1;
	ctx->o = *o;
	ctx->o.cacert = o->cacert ? strdup(o->cacert) : NULL;
	ctx->o.capath = o->capath ? strdup(o->capath) : NULL;
	SSL_CTX *c = ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c || (o->cacert && !ctx->o.cacert) || (o->capath && !ctx->o.capath)) {
		ctx_free(ctx);
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c, o->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn - 1);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, on_new_session);
	SSL_CTX_set_verify(c, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	int ok = o->cacert || o->capath ? SSL_CTX_load_verify_locations(c, o->cacert, o->capath)
					: SSL_CTX_set_default_verify_paths(c);
	if (!ok) {
		*err = o->cacert ? "cannot read the CA file (--cacert)"
				 : "cannot use the CA directory (--capath)";
		ERR_clear_error();
		ctx_free(ctx);
		return -EINVAL;
	}
	*out = ctx;
	return 0;
}

int evc__tls_ctx_get(struct evc__tls_ctx **out, const struct evc__tls_opts *o, const char **err)
{
	pthread_once(&once, init_once);
	*out = NULL;
	if (!bio_method || ssl_index < 0)
		return -ENOMEM;
	pthread_mutex_lock(&ctx_list_lock);
	struct evc__tls_ctx *ctx = ctx_list;
	while (ctx && !(same_str(ctx->o.cacert, o->cacert) && same_str(ctx->o.capath, o->capath) &&
			ctx->o.insecure == o->insecure && ctx->o.min_version == o->min_version))
		ctx = ctx->next;
	int rc = 0;
	if (ctx) {
		ctx->refs++;
	} else if ((rc = ctx_new(&ctx, o, err)) == 0) {
		ctx->next = ctx_list;
		ctx_list = ctx;
	}
	pthread_mutex_unlock(&ctx_list_lock);
	*out = ctx;
	return rc;
}

void evc__tls_ctx_release(struct evc__tls_ctx *ctx)
{
	if (!ctx)
		return;
	pthread_mutex_lock(&ctx_list_lock);
	bool last = --ctx->refs == 0;
	if (last) {
		struct evc__tls_ctx **pp = &ctx_list;
		while (*pp != ctx)
			pp = &(*pp)->next;
		*pp = ctx->next;
	}
	pthread_mutex_unlock(&ctx_list_lock);
	if (last)
		ctx_free(ctx);
}

/* ---- the stream ------------------------------------------------------------------------ */

/* Put the failure of the last OpenSSL call into words. */
static void explain(struct tls *t, int ssl_error)
{
	long verify = SSL_get_verify_result(t->ssl);
	unsigned long e = ERR_peek_last_error();
	t->fatal = false;
	if (!t->handshake_done && verify != X509_V_OK) {
		snprintf(t->why, sizeof t->why, "certificate verify failed: %s",
			 X509_verify_cert_error_string(verify));
		t->fatal = true;
	} else if (ssl_error == SSL_ERROR_SSL && e) {
		const char *r = ERR_reason_error_string(e);
		snprintf(t->why, sizeof t->why, "%s: %s",
			 t->handshake_done ? "TLS error" : "TLS handshake failed", r ? r : "?");
		/* An alert or a version we will not speak is the server's
		 * answer; a TLS record we cannot parse may be anything. */
		t->fatal = !t->handshake_done;
	} else if (t->inner_err) {
		snprintf(t->why, sizeof t->why, "%s: %s",
			 t->handshake_done ? "TLS" : "TLS handshake", evc_strerror(t->inner_err));
	} else {
		snprintf(t->why, sizeof t->why, "connection closed during the TLS handshake");
	}
	ERR_clear_error();
}

/* Waiting for the peer: give back the record buffers (16 KiB each) now.
 * SSL_MODE_RELEASE_BUFFERS frees the read buffer only after application
 * data; a connection that has read only handshake records or session
 * tickets, as every fresh TLS 1.3 connection waiting for its response has,
 * would keep it for as long as it waits. SSL_free_buffers leaves buffers
 * that still hold data alone. */
static bool free_buffers_ok;
static pthread_once_t free_buffers_once = PTHREAD_ONCE_INIT;

static void free_buffers_check(void)
{
	/* SSL_free_buffers could free a buffer still holding part of a
	 * record before these releases (CVE-2024-4741): 3.0.14, 3.1.6,
	 * 3.2.2, 3.3.1; 3.4 and later are fixed. Older ones keep buffers. */
	unsigned long v = OpenSSL_version_num() >> 4; /* 0xMNN00PP */
	unsigned long major = v >> 24, minor = v >> 16 & 0xff, patch = v & 0xff;
	static const unsigned char fixed[] = {14, 6, 2, 1};
	free_buffers_ok = major > 3 || minor > 3 || patch >= fixed[minor];
}

static void idle_buffers(struct tls *t)
{
	pthread_once(&free_buffers_once, free_buffers_check);
	if (free_buffers_ok && !SSL_has_pending(t->ssl))
		SSL_free_buffers(t->ssl);
}

/* Map OpenSSL's answer (ret <= 0) to a stream code. */

static ssize_t map(struct tls *t, int ret)
{
	int e = SSL_get_error(t->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		idle_buffers(t);
		return EVC__WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return EVC__WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN: /* close_notify: a clean end */
		return 0;
	case SSL_ERROR_SSL:
		if (t->handshake_done &&
		    ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			/* Closed without close_notify. HTTP knows whether the
			 * message was whole (a length or chunking said so); a
			 * body delimited by the close is taken, as curl and
			 * browsers do. */
			ERR_clear_error();
			return 0;
		}
		explain(t, e);
		return EVC_ETLS;
	case SSL_ERROR_SYSCALL:
	default:
		if (t->handshake_done && t->inner_err)
			return t->inner_err;
		if (t->handshake_done && t->inner_eof) {
			ERR_clear_error();
			return 0;
		}
		explain(t, e);
		return EVC_ETLS;
	}
}

static ssize_t tls_read(struct evc__stream *s, char *buf, size_t cap)
{
	struct tls *t = (struct tls *)s;
	ERR_clear_error();
	t->inner_err = 0;
	size_t n = 0;
	int ret = SSL_read_ex(t->ssl, buf, cap, &n);
	return ret == 1 ? (ssize_t)n : map(t, ret);
}

static ssize_t tls_write(struct evc__stream *s, const char *buf, size_t len)
{
	struct tls *t = (struct tls *)s;
	ERR_clear_error();
	t->inner_err = 0;
	size_t n = 0;
	int ret = SSL_write_ex(t->ssl, buf, len, &n);
	if (ret == 1)
		return (ssize_t)n;
	ssize_t rc = map(t, ret);
	return rc == 0 ? -EPIPE : rc; /* the peer closed: the write cannot go */
}

static int tls_handshake(struct evc__stream *s)
{
	struct tls *t = (struct tls *)s;
	if (t->handshake_done)
		return 0;
	ERR_clear_error();
	t->inner_err = 0;
	int ret = SSL_do_handshake(t->ssl);
	if (ret == 1) {
		t->handshake_done = true;
		return 0;
	}
	int e = SSL_get_error(t->ssl, ret);
	if (e == SSL_ERROR_WANT_READ) {
		idle_buffers(t);
		return EVC__WANT_READ;
	}
	if (e == SSL_ERROR_WANT_WRITE)
		return EVC__WANT_WRITE;
	explain(t, e);
	if (t->fatal)
		remember_failure(t);
	return EVC_ETLS;
}

static int tls_shutdown(struct evc__stream *s)
{
	struct tls *t = (struct tls *)s;
	ERR_clear_error();
	int ret = SSL_shutdown(t->ssl); /* sends close_notify; no waiting for the peer's */
	ERR_clear_error();
	return ret >= 0 ? 0 : EVC_ETLS;
}

static bool tls_pending(struct evc__stream *s)
{
	return SSL_has_pending(((struct tls *)s)->ssl);
}

static void tls_close(struct evc__stream *s)
{
	struct tls *t = (struct tls *)s;
	if (t->handshake_done)
		tls_shutdown(s);
	SSL_free(t->ssl); /* frees the BIO too */
	evc__stream_close(t->inner);
	free(t);
}

static const struct evc__stream_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .handshake = tls_handshake,
    .shutdown = tls_shutdown,
    .pending = tls_pending,
    .close = tls_close,
};

bool evc__is_tls(const struct evc__stream *s)
{
	return s->ops == &tls_ops;
}

static bool is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The newest kept session for key: a TLS 1.3 ticket is handed out once, a
 * TLS 1.2 session as often as asked. */
static SSL_SESSION *take_session(struct evc__tls_ctx *ctx, const char *key)
{
	pthread_mutex_lock(&ctx->lock);
	struct cached *c = *slot_of(ctx, key);
	SSL_SESSION *s = c && c->nsessions ? c->sessions[c->nsessions - 1] : NULL;
	if (s && SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
		c->nsessions--; /* ours now */
		ctx->nsessions--;
	} else if (s) {
		SSL_SESSION_up_ref(s);
	}
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

int evc__tls_wrap(struct evc__tls_ctx *ctx, struct evc__stream *inner, const char *host,
		  uint16_t port, struct evc__stream **out)
{
	*out = NULL;
	char key[300];
	int klen = snprintf(key, sizeof key, "%s:%u", host, port);
	struct tls *t = calloc(1, sizeof *t + (size_t)klen + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t->key, key, (size_t)klen + 1);
	t->s.ops = &tls_ops;
	t->s.fd = inner->fd;
	t->inner = inner;
	t->ctx = ctx;
	t->ssl = SSL_new(ctx->ssl_ctx);
	BIO *bio = t->ssl ? BIO_new(bio_method) : NULL;
	if (!bio) {
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_data(bio, t);
	SSL_set_bio(t->ssl, bio, bio);
	SSL_set_ex_data(t->ssl, ssl_index, t);
	SSL_set_connect_state(t->ssl);
	if (is_ip(host)) {
		/* No SNI for an address (RFC 6066); the certificate must name
		 * the address in an IP SAN. */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
	} else {
		SSL_set_tlsext_host_name(t->ssl, host);
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(t->ssl, host);
	}
	SSL_SESSION *session = take_session(ctx, key);
	if (session) {
		SSL_set_session(t->ssl, session);
		SSL_SESSION_free(session); /* the SSL holds its own reference */
	}
	ERR_clear_error();
	*out = &t->s;
	return 0;
}

void evc__tls_info(struct evc__stream *s, struct evc__tls_info *info)
{
	struct tls *t = (struct tls *)s;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	/* We offer http/1.1 alone: a server can only have picked that one. */
	info->alpn = alen == 8 && memcmp(alpn, "http/1.1", 8) == 0 ? "http/1.1" : NULL;
	info->version = SSL_get_version(t->ssl);
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	info->cipher = c ? SSL_CIPHER_get_name(c) : NULL;
	info->resumed = SSL_session_reused(t->ssl) == 1;
}

const char *evc__tls_failure(struct evc__stream *s, bool *fatal)
{
	struct tls *t = (struct tls *)s;
	*fatal = t->fatal;
	return t->why[0] ? t->why : "TLS error";
}

/* ---- the certificate, for the record ------------------------------------------------ */

struct evc__cert *evc__cert_ref(struct evc__cert *c)
{
	if (c)
		c->refs++;
	return c;
}

void evc__cert_unref(struct evc__cert *c)
{
	if (c && --c->refs == 0)
		free(c);
}

/* name in RFC 2253 form, malloc'd. */
static char *name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return NULL;
	char *s = NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		char *data;
		long n = BIO_get_mem_data(b, &data);
		s = n >= 0 ? strndup(data, (size_t)n) : NULL;
	}
	BIO_free(b);
	return s;
}

static int64_t unix_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* "DNS:name" / "IP:address" for each subjectAltName, into sans (cap). */
static size_t alt_names(X509 *x, char **sans, size_t cap)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t n = 0;
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && n < cap; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char buf[300];
		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;
			snprintf(buf, sizeof buf, "DNS:%.*s", s->length < 255 ? s->length : 255,
				 (const char *)s->data);
		} else if (g->type == GEN_IPADD &&
			   (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16)) {
			char a[INET6_ADDRSTRLEN];
			inet_ntop(g->d.iPAddress->length == 4 ? AF_INET : AF_INET6,
				  g->d.iPAddress->data, a, sizeof a);
			snprintf(buf, sizeof buf, "IP:%s", a);
		} else {
			continue;
		}
		sans[n++] = strdup(buf);
	}
	GENERAL_NAMES_free(names);
	return n;
}

struct evc__cert *evc__tls_cert(struct evc__stream *s)
{
	struct tls *t = (struct tls *)s;
	/* The chain as received is there even when it did not verify (the
	 * peer certificate proper is set only after verification). */
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
	X509 *x = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
	if (!x)
		return NULL;
	enum { MAX_SANS = 64 };
	char *sans[MAX_SANS];
	size_t nsans = alt_names(x, sans, MAX_SANS);
	char *subject = name_text(X509_get_subject_name(x));
	char *issuer = name_text(X509_get_issuer_name(x));
	size_t bytes = sizeof(struct evc__cert) + (nsans + 1) * sizeof(char *);
	size_t text = (subject ? strlen(subject) : 0) + (issuer ? strlen(issuer) : 0) + 2;
	for (size_t i = 0; i < nsans; i++)
		text += sans[i] ? strlen(sans[i]) + 1 : 0;
	struct evc__cert *c = malloc(bytes + text);
	if (c) {
		c->refs = 1;
		const char **list = (const char **)(void *)(c + 1);
		char *p = (char *)c + bytes;
		size_t k = 0;
		for (size_t i = 0; i < nsans; i++) {
			if (!sans[i])
				continue;
			list[k++] = strcpy(p, sans[i]);
			p += strlen(p) + 1;
		}
		list[k] = NULL;
		c->info.sans = list;
		c->info.subject = strcpy(p, subject ? subject : "");
		p += strlen(p) + 1;
		c->info.issuer = strcpy(p, issuer ? issuer : "");
		c->info.not_before = unix_time(X509_get0_notBefore(x));
		c->info.not_after = unix_time(X509_get0_notAfter(x));
	}
	for (size_t i = 0; i < nsans; i++)
		free(sans[i]);
	free(subject);
	free(issuer);
	return c;
}
