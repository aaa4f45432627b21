/*
 * One HTTP/1.x response, parsed with llhttp as bytes arrive.
 *
 * The same parser serves every I/O mode: the event loop engine and the
 * blocking/threaded ones feed it whatever recv() returned. It keeps only the
 * headers the crawler uses, never the body: body bytes (decoded when
 * Content-Encoding is gzip, deflate, br or zstd and decoding was asked for) go
 * straight to a callback. Memory does not grow with the body.
 */
#ifndef EVC_RESPONSE_H
#define EVC_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#define EVC_MAX_HEAD (64 * 1024) /* a response head larger than this is an error */

/* Receives body bytes. Return 0 to go on, or a negative code to stop the
 * response with that error (e.g. a sink's write failed). */
typedef int (*evc__body_cb)(void *arg, const char *data, size_t len);

struct evc__response {
	llhttp_t parser;

	/* Filled as the head arrives (1xx interim responses are skipped). */
	int status; /* 0 until the final response's head is complete */
	int http_major, http_minor;
	bool head_done;		/* final head complete */
	bool complete;		/* whole message received */
	bool keep_alive;	/* valid once complete: connection may be reused */
	int64_t content_length; /* -1 when absent */
	char content_type[128]; /* "" when absent; cut to fit */
	char content_encoding[32];
	char transfer_encoding[32];
	char *location;		  /* malloc'd, NULL when absent; at most 8 KiB kept */
	unsigned extra_locations; /* Location headers after the first */
	/* evc__response_want(): the values of those headers (NULL when absent;
	 * repeats joined with ", "; at most 4 KiB each), in names' order. */
	const char *const *want;
	unsigned nwant;
	char **wanted;
	int wanted_field;	  /* the current field is want[wanted_field]; -1: none */
	bool scan_cr;		  /* scan_head(): the last head byte was a CR */
	bool head_pause;	  /* llhttp paused at the end of the final head */
	const char *head_problem; /* what is wrong with that head, reported after scan_head */
	size_t wanted_len;
	int retry_after; /* seconds (delta or HTTP date), -1 when absent */
	char *link;	 /* Link headers, joined with ", " (malloc'd, NULL when
			    none; at most 8 KiB kept, the rest dropped) */
	/* With keep_set_cookie (set after init; the cookie store wants them):
	 * each Set-Cookie value, NUL-terminated, back to back in set_cookie
	 * (malloc'd), n_set_cookie of them, never joined (an Expires date
	 * holds a comma). At most 50 per response; one longer than 8 KiB is
	 * dropped. An interim (1xx) response's are forgotten. */
	bool keep_set_cookie;
	char *set_cookie;
	size_t set_cookie_len;
	unsigned n_set_cookie;
	size_t set_cookie_start; /* private: where the current one began */
	bool set_cookie_drop;	 /* private: the current one is dropped */

	uint64_t body_bytes;	  /* delivered to on_body (decoded) */
	uint64_t wire_body_bytes; /* body bytes as received (before decoding) */
	uint64_t max_body;	  /* 0: no limit */

	int error;	       /* sticky negative code once failed */
	const char *error_msg; /* static text for the record, or NULL */

	/* private */
	evc__body_cb on_body;
	void *arg;
	bool decode;	   /* decode gzip/deflate bodies */
	bool head_request; /* the request was HEAD: no body follows */
	size_t head_bytes;
	int field; /* which kept header the current field is, or 0 */
	char field_buf[64];
	size_t field_len;
	size_t value_len;
	void *z; /* the decoder, allocated only for encoded bodies */
	int z_state;
	int coding;
	bool chunked;	   /* our chunked framing reads the body */
	bool chunked_keep; /* no Content-Length came with it, nor Connection: close */
	int ch_state;
	unsigned ch_digits;
	uint64_t ch_left;
	size_t ch_line, ch_trailers;
};

/**
 * Prepare r for one response. decode: inflate gzip/deflate bodies (the
 * request sent Accept-Encoding). max_body: limit on decoded body bytes (0:
 * none). on_body may be NULL (bytes are only counted).
 */
void evc__response_init(struct evc__response *r, bool head_request, bool decode, uint64_t max_body,
			evc__body_cb on_body, void *arg);

/**
 * Feed bytes received from the peer. Returns 0 when more are needed, 1 when
 * the response is complete, or a negative code (EVC_EPROTO with error_msg
 * set, EVC_ETOOLARGE, -ENOMEM, or on_body's code). *used (may be NULL) gets
 * how many bytes belonged to this response; bytes after a complete message
 * mean the peer sent more than asked and the connection is not reusable
 * (keep_alive is cleared).
 */
int evc__response_feed(struct evc__response *r, const char *data, size_t len, size_t *used);

/**
 * The peer closed the connection. Returns 1 when that completes the message
 * (a body delimited by close), or EVC_EPROTO ("connection closed before the
 * response was complete"); 1 again if it was already complete.
 */
int evc__response_eof(struct evc__response *r);

/**
 * Also keep the values of these headers (case-insensitive names, at most 63
 * bytes; names must outlive r) in r->wanted. Call after init. Returns 0 or
 * -ENOMEM.
 */
int evc__response_want(struct evc__response *r, const char *const *names, unsigned n);

/** Release the location and the decoder; r may be initialised again. */
void evc__response_free(struct evc__response *r);

#endif
