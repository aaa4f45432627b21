/*
 * Request bytes. The headers that are the same for every request of a crawl
 * (User-Agent, Accept, Accept-Encoding, Connection, the user's -H lines) are
 * assembled once; a request is then the request line, Host, and that block.
 */
#ifndef EVC_REQUEST_H
#define EVC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/url.h"

/* A request is the request line, Host and the fixed block. With URLs of at
 * most EVC__URL_MAX bytes, a fixed block within EVC__HEADERS_MAX always
 * fits in EVC__REQUEST_MAX: the options check refuses larger -H sets at
 * start rather than failing every URL. */
#define EVC__REQUEST_MAX (16 * 1024)
#define EVC__HEADERS_MAX (EVC__REQUEST_MAX - EVC__URL_MAX - 512)

/**
 * Assemble the fixed header block ("Name: value\r\n" lines). headers are
 * the user's "Name: value" lines (NULL-terminated, may be NULL); one naming
 * a default header replaces it, and "Name:" with an empty value removes it,
 * as with curl's -H. Host cannot be set this way. Returns 0 and a malloc'd
 * block in *out, -EINVAL for a header that is not "Name: value" or holds
 * CR/LF/NUL (*bad then points at it), or -ENOMEM.
 */
int evc__request_headers(char **out, const char *user_agent, const char *const *headers,
			 bool compressed, const char **bad);

/* What a request carries besides its URL's and the crawl's fixed block. */
struct evc__request_extra {
	bool absolute;	   /* the whole URL as target (to an HTTP proxy) */
	const char *lines; /* more header lines ("Name: value\r\n"...), or NULL */
	const char *body;  /* body_len bytes, or NULL: no body */
	size_t body_len;
	const char *ctype; /* the body's Content-Type, or NULL: none */
};

/**
 * Write "METHOD target HTTP/1.1", Host, the fixed block and x's lines into
 * buf, and with a body its Content-Length, Content-Type and the body
 * itself. x may be NULL. Returns the length, or EVC_ETOOLARGE when it does
 * not fit in cap.
 */
int evc__request_build(char *buf, size_t cap, const char *method, const struct evc__url *u,
		       const char *fixed, size_t fixed_len, const struct evc__request_extra *x);

/** Whether name (len bytes) is a valid HTTP header field name (a token). */
bool evc__header_name_ok(const char *name, size_t len);

#endif
