/*
 * The result of fetching one URL: the record evcrawl prints as one JSON
 * line (docs/design.md, "The result record"), as a struct. Every URL given
 * to a crawler or a fetcher yields exactly one.
 */
#ifndef EVCRAWL_RESULT_H
#define EVCRAWL_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why a fetch failed: the record's error.kind. */
typedef enum evc_error_kind {
	EVC_OK = 0,
	EVC_ERR_BAD_URL,
	EVC_ERR_DNS,
	EVC_ERR_CONNECT,
	EVC_ERR_TLS,
	EVC_ERR_TIMEOUT,
	EVC_ERR_PROTOCOL,
	EVC_ERR_TOO_LARGE,
	EVC_ERR_REDIRECT,
	EVC_ERR_IO,
	EVC_ERR_CANCELLED,
	EVC_ERR_ROBOTS,	 /* robots.txt disallows it (the robots option) */
	EVC_ERR_SKIPPED, /* a recursive crawl's guard refused it (depth, max_pages, ...) */
	EVC_ERR_HTTP,	 /* the final status was 400 or more (the fail_http option) */
	EVC_ERR_PROXY,	 /* the proxy could not be reached, refused, or broke its protocol */
	EVC_ERR__COUNT
} evc_error_kind_t;

/** "bad_url", "dns", ... (the JSON spelling); "ok" for EVC_OK. */
EVC_API const char *evc_error_kind_name(evc_error_kind_t kind);

/** One redirect followed: the URL that answered with it, and its status. */
typedef struct evc_hop {
	const char *url;
	int status;
} evc_hop_t;

/** The server's leaf certificate, as the record shows it (cert_info). */
typedef struct evc_cert_info {
	const char *subject;	 /* RFC 2253: "CN=good.test,O=Example" */
	const char *issuer;	 /* the same for the issuer */
	const char *const *sans; /* "DNS:a.test", "IP:127.0.0.1", ...; NULL-terminated */
	int64_t not_before;	 /* Unix seconds */
	int64_t not_after;
} evc_cert_info_t;

/**
 * One finished URL. Strings are owned by the library and valid only during
 * the callback that hands the result over; copy what you keep. Times are in
 * milliseconds, negative when the phase did not happen (a reused
 * connection has no dns/connect/tls).
 */
typedef struct evc_result {
	const char *url;	  /* as given */
	const char *final_url;	  /* after redirects; NULL if never parsed */
	int status;		  /* last HTTP status, 0 if no head arrived */
	uint64_t bytes;		  /* body bytes delivered (after decoding) */
	const char *content_type; /* NULL when absent */
	int redirects;
	int attempts;
	double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
	evc_error_kind_t error;	   /* EVC_OK when a complete response arrived */
	const char *error_message; /* NULL when error == EVC_OK */
	const char *saved;	   /* file the body was saved to, or NULL */
	void *user;		   /* the pointer given with the URL */
	/* The TLS connection of the last attempt (https), else NULL/-1. */
	const char *tls_version; /* "TLSv1.3" */
	const char *tls_cipher;	 /* "TLS_AES_256_GCM_SHA384" */
	const char *tls_alpn;	 /* "http/1.1", or NULL when none was agreed */
	int tls_resumed;	 /* 1 resumed session, 0 full handshake, -1 no TLS */
	/* With cert_info: the leaf certificate the server sent (also when it
	 * did not verify), else NULL. */
	const evc_cert_info_t *cert;
	/* Recursive crawls (the recursive option; `recursive` is false
	 * otherwise): how deep the URL was found (seeds are 0) and the final
	 * URL of the page it was found on (NULL for seeds). */
	bool recursive;
	int depth;
	const char *parent;
	/* With the links option: the links found on the page (absolute,
	 * normalised, without fragment), in order, NULL-terminated; else NULL. */
	const char *const *links;
	/* Bytes in url, which may hold NUL bytes when the input did (0: up to
	 * its first NUL). */
	size_t url_len;
	/* The response's Content-Encoding as sent ("gzip"), NULL when none:
	 * bytes are decoded only with the compressed option. */
	const char *content_encoding;
	/* The address of the last attempt's connection ("127.0.0.1", "::1"),
	 * NULL when none was made; the last response's HTTP version ("1.1",
	 * "1.0"), NULL when no head came; the redirects followed, in order
	 * (`redirects` of them; NULL when none); body bytes as received, before
	 * decoding; and when the fetch started (Unix time, s; 0 when it never
	 * did, a bad URL). */
	const char *remote_ip;
	const char *http_version;
	const evc_hop_t *redirect_chain;
	uint64_t wire_bytes;
	double started_at;
	/* With the record_headers option: its names (lower case), and each
	 * one's value in the last response (NULL when absent; header_values
	 * itself NULL when no head came); else both NULL. */
	const char *const *header_names;
	const char *const *header_values;
} evc_result_t;

/** r->user, for bindings that do not lay out evc_result_t. */
EVC_API void *evc_result_user(const evc_result_t *r);

/**
 * Write r as one JSON object (docs/design.md's record) followed by '\n' into buf.
 * Returns the length written (NUL-terminated), or the length needed when it
 * is >= cap, like snprintf.
 */
EVC_API size_t evc_result_to_json(const evc_result_t *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
