/*
 * Response parser tests, in the spirit of picohttpparser's test.c.
 *
 * Each case states its exact outcome, and is then fed whole, split at every
 * point (every prefix, then the rest), and one byte at a time: every way must
 * give that same outcome. After a complete response the runner feeds what is
 * left (as a peer that sent too much would), and after an error it checks
 * that feed and eof report the same error again.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "evcrawl/error.h"
#include "http/response.h"

#define LOCATION_MAX_TEST (8 * 1024) /* response.h: at most 8 KiB of Location kept */

/* ---- body sink --------------------------------------------------------- */

struct sink {
	char *buf; /* every body byte, in order */
	size_t len, cap;
	uint64_t fail_at; /* return fail_code once this many bytes arrived (0: never) */
	int fail_code;
	bool failed;
	int calls_after_fail;
};

static int sink_body(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	assert_true(len > 0);
	if (s->failed)
		s->calls_after_fail++;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	if (s->fail_at && s->len >= s->fail_at) {
		s->failed = true;
		return s->fail_code;
	}
	return 0;
}

/* ---- cases --------------------------------------------------------------- */

struct tcase {
	const char *msg;
	size_t len; /* 0: strlen(msg) */
	bool head_request, decode, eof;
	uint64_t max_body;
	uint64_t fail_at; /* the sink fails with fail_code at this many bytes */
	int fail_code;

	/* expected outcome */
	int rc;	     /* of the last feed, or of eof when eof is set */
	size_t used; /* bytes of the response when rc == 1 (0: all of msg) */
	int status;
	const char *content_type;     /* NULL: "" */
	const char *content_encoding; /* NULL: "" */
	const char *location;
	int64_t content_length;
	const char *body; /* NULL: "" */
	size_t body_len;  /* 0: strlen(body) */
	bool keep_alive;
	const char *error_msg;
	int retry_after;
	int retry_slack; /* dates are relative to now: allow this many seconds less */
};

struct outcome {
	int rc;
	size_t used;
	struct sink sink;
};

static size_t msg_len(const struct tcase *tc)
{
	return tc->len ? tc->len : strlen(tc->msg);
}

static void assert_outcome(const struct tcase *tc, const struct evc__response *r,
			   const struct outcome *o)
{
	const char *body = tc->body ? tc->body : "";
	size_t body_len = tc->body_len ? tc->body_len : strlen(body);

	assert_int_equal(o->rc, tc->rc);
	if (tc->rc == 1)
		assert_int_equal(o->used, tc->used ? tc->used : msg_len(tc));
	assert_int_equal(r->status, tc->status);
	assert_string_equal(r->content_type, tc->content_type ? tc->content_type : "");
	assert_string_equal(r->content_encoding, tc->content_encoding ? tc->content_encoding : "");
	if (tc->location)
		assert_string_equal(r->location, tc->location);
	else
		assert_null(r->location);
	assert_int_equal(r->content_length, tc->content_length);
	assert_int_equal(r->body_bytes, body_len);
	assert_int_equal(o->sink.len, body_len);
	assert_memory_equal(o->sink.buf ? o->sink.buf : "", body, body_len);
	assert_int_equal(o->sink.calls_after_fail, 0);
	assert_int_equal(r->keep_alive, tc->keep_alive);
	assert_int_equal(r->complete, tc->rc == 1);
	assert_int_equal(r->head_done, tc->status != 0);
	assert_int_equal(r->error, tc->rc < 0 ? tc->rc : 0);
	if (tc->error_msg)
		assert_string_equal(r->error_msg, tc->error_msg);
	else
		assert_null(r->error_msg);
	assert_in_range(r->retry_after, tc->retry_after - tc->retry_slack, tc->retry_after);
}

/*
 * Feed msg as a first piece of `first` bytes and then pieces of `step`
 * bytes, the way recv() might hand them over, and check the outcome.
 */
static void run(const struct tcase *tc, size_t first, size_t step)
{
	struct evc__response r;
	struct outcome o = {0};
	size_t len = msg_len(tc), off = 0, piece = first, used;

	o.sink.fail_at = tc->fail_at;
	o.sink.fail_code = tc->fail_code;
	evc__response_init(&r, tc->head_request, tc->decode, tc->max_body, sink_body, &o.sink);
	while (off < len && !o.rc) {
		if (piece > len - off)
			piece = len - off;
		o.rc = evc__response_feed(&r, tc->msg + off, piece, &used);
		assert_true(used <= piece);
		if (!o.rc)
			assert_int_equal(used, piece);
		o.used += used;
		off += piece;
		piece = step;
	}
	if (!o.rc && tc->eof)
		o.rc = evc__response_eof(&r);
	if (o.rc == 1 && off < len) /* the peer sent more: no reuse */
		assert_int_equal(evc__response_feed(&r, tc->msg + off, len - off, &used), 1);
	if (o.rc < 0) { /* errors are sticky */
		assert_int_equal(evc__response_feed(&r, "HTTP/1.1 200 OK\r\n", 17, &used), o.rc);
		assert_int_equal(evc__response_eof(&r), o.rc);
	}
	assert_outcome(tc, &r, &o);
	evc__response_free(&r);
	free(o.sink.buf);
}

/* Every split point for small messages; for big ones both ends and a sample. */
static size_t next_split(size_t at, size_t len)
{
	if (len <= 16384 || at < 256 || at + 256 >= len)
		return at + 1;
	if (at + 256 + len / 512 >= len)
		return len - 256;
	return at + len / 512;
}

static void check_case(const struct tcase *tc)
{
	size_t len = msg_len(tc);

	run(tc, len, len);
	for (size_t at = 1; at < len; at = next_split(at, len))
		run(tc, at, len);
	run(tc, 1, 1);
}

/* ---- test data ------------------------------------------------------------- */

/* Deterministic text that compresses like a web page: a few ratios, not 1000. */
static char *make_text(size_t len)
{
	static const char *const words[] = {"the ",    "crawler ", "<div>", "</div>\n",
					    "event ",  "loop ",	   "gzip ", "chunk ",
					    "header ", "42 ",	   "body ", "href=\"/a/b\" "};
	char *s = malloc(len + 1);
	uint32_t x = 12345;
	size_t off = 0;

	assert_non_null(s);
	while (off < len) {
		x = x * 1103515245u + 12345u;
		const char *w = words[(x >> 16) % (sizeof(words) / sizeof(words[0]))];
		for (; *w && off < len; w++)
			s[off++] = *w;
	}
	s[len] = '\0';
	return s;
}

/* Compress with zlib: wbits 15+16 gzip, 15 zlib-wrapped, -15 raw deflate. */
static unsigned char *compress_as(const void *data, size_t len, int wbits, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap;
	unsigned char *out;

	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, len) + 32;
	out = malloc(cap);
	assert_non_null(out);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* head (a printf format) followed by body bytes, in one malloc'd buffer. */
static char *message(size_t *len, const void *body, size_t body_len, const char *fmt, ...)
{
	va_list ap;
	char *head, *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&head, fmt, ap);
	va_end(ap);
	assert_true(n > 0);
	msg = malloc((size_t)n + body_len + 1);
	assert_non_null(msg);
	memcpy(msg, head, (size_t)n);
	memcpy(msg + n, body, body_len);
	msg[(size_t)n + body_len] = '\0';
	*len = (size_t)n + body_len;
	free(head);
	return msg;
}

/* A 200 response with Content-Length and the given Content-Encoding. */
static char *encoded_message(size_t *len, const char *encoding, const void *body, size_t body_len)
{
	return message(len, body, body_len,
		       "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
		       "Content-Encoding: %s\r\nContent-Length: %zu\r\n\r\n",
		       encoding, body_len);
}

/* ---- framing ------------------------------------------------------------------ */

static void test_content_length_body(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
		   "Server: x\r\n\r\nhello, world",
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/plain",
	    .content_length = 12,
	    .body = "hello, world",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);

	struct tcase empty = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    .rc = 1,
	    .status = 200,
	    .content_length = 0,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&empty);
}

static void test_chunked_extensions_and_trailers(void **state)
{
	/*
	 * Trailers are not headers we keep: the Location in them is ignored.
	 * Extensions of every form are skipped (our framing, not llhttp 8.1's,
	 * which refuses quoted values and a second name=value pair).
	 */
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
		   "Trailer: X-Checksum\r\n\r\n"
		   "5;name=value;b=\"quoted; \\\"value\"\r\nhello\r\n"
		   "7;flag;other\r\n, world\r\n"
		   "a ; x=y\r\n0123456789\r\n"
		   "0;last=1\r\nX-Checksum: abc\r\nLocation: /from-trailer\r\n\r\n",
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/plain",
	    .content_length = -1,
	    .body = "hello, world0123456789",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
}

/* What a lenient reader accepts, and where it still refuses. */
static void test_lenient_and_strict(void **state)
{
	/* Bare LF line ends everywhere, as curl and browsers accept. */
	struct tcase lf = {
	    .msg = "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nhi",
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/plain",
	    .content_length = 2,
	    .body = "hi",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&lf);
	struct tcase lf_chunked = {
	    .msg = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n",
	    .rc = 1,
	    .status = 200,
	    .content_length = -1,
	    .body = "hello",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&lf_chunked);

	/* Content-Length beside chunked: the chunks count, the connection is
	 * not trusted again. */
	struct tcase both = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "5\r\nhello\r\n0\r\n\r\n",
	    .rc = 1,
	    .status = 200,
	    .content_length = 3,
	    .body = "hello",
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&both);

	struct tcase refused[] = {
	    {.msg = "HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nhi",
	     .error_msg = "invalid status code"},
	    {.msg = "HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nhi",
	     .error_msg = "control character in the response head"},
	    {.msg = "HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nhi",
	     .error_msg = "malformed line in response"}, /* llhttp's own refusal */
	    /* llhttp alone would take the CR for a line end and lose the head. */
	    {.msg = "HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nhi",
	     .error_msg = "control character in the response head"},
	    {.msg = "HTTP/1.1 200 OK\r\nX-A: v\r\n\rContent-Length: 2\r\n\r\nhi",
	     .error_msg = "control character in the response head"},
	    {.msg = "HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nhi",
	     .len = 41,
	     .error_msg = "control character in the response head"},
	    /* A blank before the colon does not hide a Transfer-Encoding. */
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding : gzip"
		    "\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
	     .status = 200,
	     .error_msg = "unsupported Transfer-Encoding"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
	     .status = 200,
	     .error_msg = "unsupported Transfer-Encoding"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nxx\r\n",
	     .status = 200,
	     .error_msg = "unsupported Transfer-Encoding"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "1000000000000000000\r\n",
	     .status = 200,
	     .error_msg = "chunk size too large"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
	     .status = 200,
	     .error_msg = "invalid chunk size"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhix\r\n",
	     .status = 200,
	     .body = "hi",
	     .error_msg = "no line end after chunk data"},
	    {.msg = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
	     .error_msg = "more than one Content-Length"},
	    {.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
		    "X-Sum: a\0b\r\n\r\n",
	     .len = 71,
	     .status = 200,
	     .body = "hi",
	     .error_msg = "NUL in a trailer"},
	    {.msg = "HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n",
	     .status = 302,
	     .location = "/a",
	     .error_msg = "more than one Location header"},
	    {.msg = "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhi",
	     .error_msg = "invalid Content-Length"},
	    {.msg = "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\nhi",
	     .error_msg = "invalid Content-Length"},
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct tcase *tc = &refused[i];
		tc->rc = EVC_EPROTO;
		tc->content_length = -1;
		tc->retry_after = -1;
		check_case(tc);
	}

	/* An endless chunk extension ends at 4 KiB, not at the timeout. */
	char ext[8192];
	int n =
	    snprintf(ext, sizeof ext, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
	memset(ext + n, 'e', sizeof ext - (size_t)n - 1);
	ext[sizeof ext - 1] = '\0';
	struct evc__response r;
	evc__response_init(&r, false, false, 0, NULL, NULL);
	assert_int_equal(evc__response_feed(&r, ext, sizeof ext - 1, NULL), EVC_EPROTO);
	assert_string_equal(r.error_msg, "chunk extension too long");
	evc__response_free(&r);
}

static void test_close_delimited_body(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>until the end</p>",
	    .eof = true,
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/html",
	    .content_length = -1,
	    .body = "<p>until the end</p>",
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&tc);

	/* Without the close, the same bytes are not a complete response. */
	tc.eof = false;
	tc.rc = 0;
	check_case(&tc);

	/* An empty close-delimited body. */
	struct tcase empty = {
	    .msg = "HTTP/1.1 200 OK\r\n\r\n",
	    .eof = true,
	    .rc = 1,
	    .status = 200,
	    .content_length = -1,
	    .retry_after = -1,
	};
	check_case(&empty);
}

static void test_body_cut_short(void **state)
{
	struct tcase cl = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	    .eof = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_length = 10,
	    .body = "abc",
	    .error_msg = "connection closed before the response was complete",
	    .retry_after = -1,
	};
	check_case(&cl);

	struct tcase chunked = {
	    .msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
	    .eof = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_length = -1,
	    .body = "helloab",
	    .error_msg = "connection closed before the last chunk",
	    .retry_after = -1,
	};
	check_case(&chunked);

	/* Chunked with only the last chunk's terminator missing. */
	chunked.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
	chunked.body = "ok";
	check_case(&chunked);

	struct tcase in_head = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Le",
	    .eof = true,
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "connection closed before the response was complete",
	    .retry_after = -1,
	};
	check_case(&in_head);
}

static void test_eof_before_any_byte(void **state)
{
	struct evc__response r;

	evc__response_init(&r, false, false, 0, NULL, NULL);
	assert_int_equal(evc__response_eof(&r), EVC_EPROTO);
	assert_string_equal(r.error_msg, "connection closed before the response was complete");
	assert_int_equal(evc__response_eof(&r), EVC_EPROTO);
	evc__response_free(&r);
}

static void test_interim_responses_are_skipped(void **state)
{
	/* What the 103 set (a Location, a Content-Type) is forgotten. */
	struct tcase tc = {
	    .msg = "HTTP/1.1 100 Continue\r\n\r\n"
		   "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n"
		   "Location: /early\r\nContent-Type: text/early\r\n\r\n"
		   "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal",
	    .rc = 1,
	    .status = 200,
	    .content_length = 4,
	    .body = "real",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
}

static void test_101_is_an_error(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: Upgrade\r\n\r\n\x81\x05hello",
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "unexpected 101 Switching Protocols",
	    .retry_after = -1,
	};
	check_case(&tc);
}

static void test_204_and_304_have_no_body(void **state)
{
	/* The next response in the same bytes is not ours, and not allowed. */
	static const char second[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	char msg[256];
	const char *head204 = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
	const char *head304 = "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n"
			      "Content-Type: text/html\r\n\r\n";

	snprintf(msg, sizeof(msg), "%s%s", head204, second);
	struct tcase tc204 = {
	    .msg = msg,
	    .rc = 1,
	    .used = strlen(head204),
	    .status = 204,
	    .content_length = -1,
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&tc204);

	/* Alone it leaves the connection reusable. */
	tc204.msg = head204;
	tc204.used = 0;
	tc204.keep_alive = true;
	check_case(&tc204);

	snprintf(msg, sizeof(msg), "%s%s", head304, second);
	struct tcase tc304 = {
	    .msg = msg,
	    .rc = 1,
	    .used = strlen(head304),
	    .status = 304,
	    .content_type = "text/html",
	    .content_length = 1234,
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&tc304);
}

static void test_head_response_has_no_body(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n",
	    .head_request = true,
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/html",
	    .content_length = 1234,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);

	tc.msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	tc.content_type = NULL;
	tc.content_length = -1;
	check_case(&tc);
}

static void test_keep_alive(void **state)
{
	struct tcase http10 = {
	    .msg = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	    .rc = 1,
	    .status = 200,
	    .content_length = 3,
	    .body = "abc",
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&http10);

	http10.msg = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc";
	http10.keep_alive = true;
	check_case(&http10);

	struct tcase close = {
	    .msg = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
	    .rc = 1,
	    .status = 200,
	    .content_length = 3,
	    .body = "abc",
	    .keep_alive = false,
	    .retry_after = -1,
	};
	check_case(&close);

	close.msg = "HTTP/1.1 200 OK\r\nCONNECTION:  Close \r\nContent-Length: 3\r\n\r\nabc";
	check_case(&close);
}

/* A response whose head is exactly head_len bytes, followed by "body". */
static char *head_of(size_t head_len, size_t *len)
{
	const char *start = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Pad: ";
	const char *end = "\r\n\r\nbody";
	size_t pad = head_len - strlen(start) - (strlen(end) - 4);
	char *msg = malloc(head_len + 5);

	assert_non_null(msg);
	strcpy(msg, start);
	memset(msg + strlen(start), 'a', pad);
	strcpy(msg + strlen(start) + pad, end);
	*len = strlen(msg);
	assert_int_equal(*len, head_len + 4);
	return msg;
}

static void test_head_size_limit(void **state)
{
	struct tcase ok = {
	    .rc = 1,
	    .status = 200,
	    .content_length = 4,
	    .body = "body",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	char *msg = head_of(EVC_MAX_HEAD, &ok.len);
	ok.msg = msg;
	check_case(&ok);
	free(msg);

	struct tcase big = {
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "response head larger than 64 KiB",
	    .retry_after = -1,
	};
	msg = head_of(EVC_MAX_HEAD + 1, &big.len);
	big.msg = msg;
	check_case(&big);
	free(msg);

	msg = head_of(70 * 1024, &big.len);
	big.msg = msg;
	check_case(&big);
	free(msg);

	/* An interim response's head does not count towards the final one's. */
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char *final = head_of(EVC_MAX_HEAD, &ok.len);
	msg = malloc(strlen(interim) + ok.len + 1);
	assert_non_null(msg);
	strcpy(msg, interim);
	strcpy(msg + strlen(interim), final);
	ok.len += strlen(interim);
	ok.msg = msg;
	check_case(&ok);
	free(msg);
	free(final);
}

static void test_malformed_responses(void **state)
{
	struct tcase bad_chunk = {
	    .msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_length = -1,
	    .error_msg = "invalid chunk size",
	    .retry_after = -1,
	};
	check_case(&bad_chunk);

	struct tcase garbage = {
	    .msg = "SSH-2.0-OpenSSH_9.2\r\n",
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "not an HTTP/1.x response",
	    .retry_after = -1,
	};
	check_case(&garbage);

	struct tcase bad_length = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nhello, world",
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "invalid Content-Length",
	    .retry_after = -1,
	};
	check_case(&bad_length);
}

/* ---- headers ---------------------------------------------------------------------- */

static void test_header_case_and_spaces(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 301 Moved Permanently\r\n"
		   "cOnTeNt-TyPe:   text/html; charset=UTF-8 \t \r\n"
		   "lOcAtIoN: \t /new/place?q=a b \t\r\n"
		   "CONTENT-length:  0  \r\n"
		   "X-Location: /not-this\r\n\r\n",
	    .rc = 1,
	    .status = 301,
	    .content_type = "text/html; charset=UTF-8",
	    .location = "/new/place?q=a b",
	    .content_length = 0,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
}

static void test_long_values(void **state)
{
	char ct[300], loc[LOCATION_MAX_TEST + 2];
	char *msg;
	struct tcase tc = {
	    .rc = 1,
	    .status = 302,
	    .content_length = 0,
	    .keep_alive = true,
	    .retry_after = -1,
	};

	/* Content-Type is cut to its buffer. */
	memset(ct, 'c', 200);
	ct[200] = '\0';
	msg = message(&tc.len, "", 0,
		      "HTTP/1.1 302 Found\r\nContent-Type: %s\r\n"
		      "Content-Length: 0\r\n\r\n",
		      ct);
	ct[127] = '\0';
	tc.msg = msg;
	tc.content_type = ct;
	check_case(&tc);
	free(msg);
	tc.content_type = NULL;

	/* Location is kept up to 8 KiB, and longer is an error. */
	memset(loc, 'l', LOCATION_MAX_TEST);
	loc[LOCATION_MAX_TEST] = '\0';
	msg = message(&tc.len, "", 0,
		      "HTTP/1.1 302 Found\r\nLocation: %s  \r\n"
		      "Content-Length: 0\r\n\r\n",
		      loc);
	tc.msg = msg;
	tc.location = loc;
	check_case(&tc);
	free(msg);

	strcat(loc, "l");
	msg = message(&tc.len, "", 0,
		      "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
		      "Content-Length: 0\r\n\r\n",
		      loc);
	struct tcase too_long = {
	    .msg = msg,
	    .len = tc.len,
	    .rc = EVC_EPROTO,
	    .content_length = -1,
	    .error_msg = "Location header too long",
	    .retry_after = -1,
	};
	check_case(&too_long);
	free(msg);
}

static void retry_after_case(const char *value, int expect, int slack)
{
	size_t len;
	char *msg = message(&len, "", 0,
			    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\n"
			    "Content-Length: 0\r\n\r\n",
			    value);
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .rc = 1,
	    .status = 503,
	    .content_length = 0,
	    .keep_alive = true,
	    .retry_after = expect,
	    .retry_slack = slack,
	};
	check_case(&tc);
	free(msg);
}

static void date_in(int seconds, const char *fmt, char *buf, size_t size)
{
	time_t t = time(NULL) + seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	assert_true(strftime(buf, size, fmt, &tm) > 0);
}

static void test_retry_after(void **state)
{
	char date[64];

	retry_after_case("120", 120, 0);
	retry_after_case("  0  ", 0, 0);
	retry_after_case("99999999999999", INT_MAX, 0);
	retry_after_case("soon", -1, 0);
	retry_after_case("12s", -1, 0);
	retry_after_case("Sun, 06 Nov 1994 08:49:37 GMT", 0, 0); /* past: no wait */

	/* A date two minutes ahead; a second may tick while the cases run. */
	date_in(120, "%a, %d %b %Y %H:%M:%S GMT", date, sizeof(date));
	retry_after_case(date, 120, 2);
	date_in(3600, "%A, %d-%b-%y %H:%M:%S GMT", date, sizeof(date)); /* RFC 850 */
	retry_after_case(date, 3600, 2);
	date_in(60, "%a %b %e %H:%M:%S %Y", date, sizeof(date)); /* asctime */
	retry_after_case(date, 60, 2);
	retry_after_case("Sun, 32 Nov 1994 08:49:37 GMT", -1, 0);
}

/* ---- decoding ------------------------------------------------------------------------ */

#define TEXT_LEN 6000

static void decoded_case(const char *encoding, int wbits)
{
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, wbits, &zlen);
	char *msg = encoded_message(&len, encoding, z, zlen);
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = encoding,
	    .content_length = (int64_t)zlen,
	    .body = text,
	    .body_len = TEXT_LEN,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
	free(msg);
	free(z);
	free(text);
}

static void test_gzip_decoded(void **state)
{
	decoded_case("gzip", 15 + 16);
	decoded_case("x-gzip", 15 + 16);
	decoded_case("GZIP", 15 + 16);
}

static void test_deflate_decoded(void **state)
{
	decoded_case("deflate", 15);  /* zlib-wrapped, as the RFC says */
	decoded_case("deflate", -15); /* raw, as many servers send */
}

static void test_gzip_chunked_decoded(void **state)
{
	char *text = make_text(TEXT_LEN);
	size_t zlen, len = 0;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	char *msg = malloc(zlen * 2 + 512);
	const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			   "Content-Encoding: gzip\r\n\r\n";

	assert_non_null(msg);
	len = (size_t)sprintf(msg, "%s", head);
	for (size_t off = 0; off < zlen; off += 700) {
		size_t n = zlen - off < 700 ? zlen - off : 700;
		len += (size_t)sprintf(msg + len, "%zx\r\n", n);
		memcpy(msg + len, z + off, n);
		len += n;
		len += (size_t)sprintf(msg + len, "\r\n");
	}
	len += (size_t)sprintf(msg + len, "0\r\n\r\n");
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = 1,
	    .status = 200,
	    .content_encoding = "gzip",
	    .content_length = -1,
	    .body = text,
	    .body_len = TEXT_LEN,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
	free(msg);
	free(z);
	free(text);
}

/* Undecoded, the body is the compressed bytes as they came. */
static void test_not_decoded(void **state)
{
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	char *msg = encoded_message(&len, "gzip", z, zlen);
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .decode = false,
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "gzip",
	    .content_length = (int64_t)zlen,
	    .body = (const char *)z,
	    .body_len = zlen,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
	free(msg);

	/* A coding we cannot decode is an error once its body comes. */
	msg = encoded_message(&len, "x-unknown", z, zlen);
	tc.msg = msg;
	tc.len = len;
	tc.decode = true;
	tc.content_encoding = "x-unknown";
	tc.rc = EVC_EPROTO;
	tc.body = NULL;
	tc.body_len = 0;
	tc.keep_alive = false;
	tc.error_msg = "unsupported Content-Encoding";
	check_case(&tc);
	free(msg);

	/* A repeated Content-Encoding is a list: gzip twice is not decoded
	 * once and mislabelled, it is refused. */
	msg = message(&len, z, zlen,
		      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Encoding: gzip \r\n"
		      "Content-Length: %zu\r\n\r\n",
		      zlen);
	tc.msg = msg;
	tc.len = len;
	tc.content_type = NULL;
	tc.content_encoding = "gzip, gzip";
	check_case(&tc);
	free(msg);
	free(z);
	free(text);
}

/* br and zstd, whole and truncated; a zstd frame asking for a window over
 * 8 MiB is refused before any allocation. */
static void test_br_and_zstd_decoded(void **state)
{
	char *text = make_text(TEXT_LEN);
	size_t blen = BrotliEncoderMaxCompressedSize(TEXT_LEN), len;
	uint8_t *b = malloc(blen);
	assert_non_null(b);
	assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, TEXT_LEN, (const uint8_t *)text,
					  &blen, b));
	size_t zcap = ZSTD_compressBound(TEXT_LEN);
	uint8_t *z = malloc(zcap);
	assert_non_null(z);
	size_t zlen = ZSTD_compress(z, zcap, text, TEXT_LEN, 3);
	assert_false(ZSTD_isError(zlen));

	struct {
		const char *coding;
		const uint8_t *data;
		size_t len;
	} cases[] = {{"br", b, blen}, {"zstd", z, zlen}, {"ZSTD", z, zlen}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *msg = encoded_message(&len, cases[i].coding, cases[i].data, cases[i].len);
		struct tcase tc = {
		    .msg = msg,
		    .len = len,
		    .decode = true,
		    .rc = 1,
		    .status = 200,
		    .content_type = "text/html",
		    .content_encoding = cases[i].coding,
		    .content_length = (int64_t)cases[i].len,
		    .body = text,
		    .body_len = TEXT_LEN,
		    .keep_alive = true,
		    .retry_after = -1,
		};
		check_case(&tc);
		free(msg);

		/* Cut short by 3 bytes: what decoded, then the error. */
		msg = encoded_message(&len, cases[i].coding, cases[i].data, cases[i].len - 3);
		struct evc__response r;
		struct sink sk = {0};
		evc__response_init(&r, false, true, 0, sink_body, &sk);
		assert_int_equal(evc__response_feed(&r, msg, len, NULL), EVC_EPROTO);
		assert_string_equal(r.error_msg, "truncated compressed data");
		assert_true(sk.len < TEXT_LEN);
		evc__response_free(&r);
		free(sk.buf);
		free(msg);
	}

	/* A zstd frame header with Window_Descriptor 0xa0: a 1 GiB window. */
	static const uint8_t huge[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00};
	char *msg = encoded_message(&len, "zstd", huge, sizeof huge);
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "zstd",
	    .content_length = sizeof huge,
	    .error_msg = "zstd window larger than 8 MiB",
	    .retry_after = -1,
	};
	check_case(&tc);
	free(msg);
	free(b);
	free(z);
	free(text);
}

/* Several gzip members decode one after the other (RFC 1952); zero padding
 * after the last is ignored; "none" is no coding. */
static void test_gzip_members_and_padding(void **state)
{
	size_t alen, blen, len;
	unsigned char *a = compress_as("first member\n", 13, 15 + 16, &alen);
	unsigned char *b = compress_as("second\n", 7, 15 + 16, &blen);
	unsigned char body[256];
	memcpy(body, a, alen);
	memcpy(body + alen, b, blen);
	memset(body + alen + blen, 0, 8);
	/* A lone first magic byte after a member, its second in the next read
	 * (check_case splits at every byte): padding either way. */
	body[alen + blen] = 0x1f;
	for (size_t pad = 0; pad <= 8; pad += 1) {
		if (pad == 2)
			pad = 8;
		char *msg = encoded_message(&len, "gzip", body, alen + blen + pad);
		struct tcase tc = {
		    .msg = msg,
		    .len = len,
		    .decode = true,
		    .rc = 1,
		    .status = 200,
		    .content_type = "text/html",
		    .content_encoding = "gzip",
		    .content_length = (int64_t)(alen + blen + pad),
		    .body = "first member\nsecond\n",
		    .keep_alive = true,
		    .retry_after = -1,
		};
		check_case(&tc);
		free(msg);
	}
	char *msg = encoded_message(&len, "none", "as is", 5);
	struct tcase none = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = 1,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "none",
	    .content_length = 5,
	    .body = "as is",
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&none);
	free(msg);
	free(a);
	free(b);
}

static void test_corrupt_gzip(void **state)
{
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	struct tcase tc = {
	    .decode = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "gzip",
	    .content_length = (int64_t)zlen,
	    .error_msg = "bad gzip/deflate data",
	    .retry_after = -1,
	};

	/* Reserved flag bits in the gzip header: rejected before any output. */
	z[3] = 0xe0;
	char *msg = encoded_message(&len, "gzip", z, zlen);
	tc.msg = msg;
	tc.len = len;
	check_case(&tc);
	free(msg);
	z[3] = 0;

	/* A wrong CRC: all of the text, then the error. */
	z[zlen - 8] ^= 0xff;
	msg = encoded_message(&len, "gzip", z, zlen);
	tc.msg = msg;
	tc.body = text;
	tc.body_len = TEXT_LEN;
	check_case(&tc);
	free(msg);

	/* Not compressed at all. */
	msg = encoded_message(&len, "deflate", "plain text, not deflate", 23);
	struct tcase plain = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "deflate",
	    .content_length = 23,
	    .error_msg = "bad gzip/deflate data",
	    .retry_after = -1,
	};
	check_case(&plain);
	free(msg);
	free(z);
	free(text);
}

static void test_truncated_gzip(void **state)
{
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	/* Without the last 4 bytes (ISIZE) all text decodes, but the stream never ends. */
	char *msg = encoded_message(&len, "gzip", z, zlen - 4);
	struct tcase tc = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "gzip",
	    .content_length = (int64_t)zlen - 4,
	    .body = text,
	    .body_len = TEXT_LEN,
	    .error_msg = "truncated compressed data",
	    .retry_after = -1,
	};
	check_case(&tc);
	free(msg);

	/* One byte of a body is not even a header. */
	msg = encoded_message(&len, "deflate", z, 1);
	struct tcase one = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "deflate",
	    .content_length = 1,
	    .error_msg = "truncated compressed data",
	    .retry_after = -1,
	};
	check_case(&one);
	free(msg);

	/* Delimited by close: the stream must have ended when the peer closes. */
	msg = message(&len, z, zlen - 4, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n");
	struct tcase closed = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .eof = true,
	    .rc = EVC_EPROTO,
	    .status = 200,
	    .content_encoding = "gzip",
	    .content_length = -1,
	    .body = text,
	    .body_len = TEXT_LEN,
	    .error_msg = "truncated compressed data",
	    .retry_after = -1,
	};
	check_case(&closed);
	free(msg);

	/* The whole stream, then the close: complete. */
	msg = message(&len, z, zlen, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n");
	closed.msg = msg;
	closed.len = len;
	closed.rc = 1;
	closed.error_msg = NULL;
	check_case(&closed);
	free(msg);
	free(z);
	free(text);
}

static void test_empty_gzip_body(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
	    .decode = true,
	    .rc = 1,
	    .status = 200,
	    .content_encoding = "gzip",
	    .content_length = 0,
	    .keep_alive = true,
	    .retry_after = -1,
	};
	check_case(&tc);
}

/* ---- limits and the body callback -------------------------------------------------- */

static void test_max_body(void **state)
{
	struct tcase plain = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz",
	    .max_body = 10,
	    .rc = EVC_ETOOLARGE,
	    .status = 200,
	    .content_length = 26,
	    .body = "abcdefghij",
	    .error_msg = "body larger than the size limit",
	    .retry_after = -1,
	};
	check_case(&plain);

	/* Exactly at the limit is fine. */
	plain.max_body = 26;
	plain.rc = 1;
	plain.body = "abcdefghijklmnopqrstuvwxyz";
	plain.error_msg = NULL;
	plain.keep_alive = true;
	check_case(&plain);

	/* The limit is on decoded bytes. */
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	char *msg = encoded_message(&len, "gzip", z, zlen);
	struct tcase decoded = {
	    .msg = msg,
	    .len = len,
	    .decode = true,
	    .max_body = 5000,
	    .rc = EVC_ETOOLARGE,
	    .status = 200,
	    .content_type = "text/html",
	    .content_encoding = "gzip",
	    .content_length = (int64_t)zlen,
	    .body = text,
	    .body_len = 5000,
	    .error_msg = "body larger than the size limit",
	    .retry_after = -1,
	};
	assert_true(zlen < 5000);
	check_case(&decoded);
	free(msg);
	free(z);
	free(text);
}

static void test_body_callback_error_stops(void **state)
{
	struct tcase tc = {
	    .msg = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij",
	    .fail_at = 10,
	    .fail_code = -EIO,
	    .rc = -EIO,
	    .status = 200,
	    .content_length = 20,
	    .body = "0123456789",
	    .retry_after = -1,
	};
	/* The sink fails on the call that brings the 10th byte; it may bring more. */
	struct evc__response r;
	struct sink s = {.fail_at = 10, .fail_code = -EIO};

	evc__response_init(&r, false, false, 0, sink_body, &s);
	assert_int_equal(evc__response_feed(&r, tc.msg, strlen(tc.msg), NULL), -EIO);
	assert_int_equal(r.error, -EIO);
	assert_null(r.error_msg);
	assert_int_equal(r.body_bytes, 20);
	assert_int_equal(evc__response_feed(&r, "x", 1, NULL), -EIO);
	assert_int_equal(evc__response_eof(&r), -EIO);
	assert_int_equal(s.calls_after_fail, 0);
	evc__response_free(&r);
	free(s.buf);

	/* Failing on the last byte gives the same outcome however bytes arrive. */
	tc.fail_at = 20;
	tc.body = "0123456789abcdefghij";
	check_case(&tc);
}

/* Checks each byte against the pattern as it streams by; keeps nothing. */
struct counter {
	uint64_t bytes;
	int calls;
	bool mismatch;
};

static int count_body(void *arg, const char *data, size_t len)
{
	struct counter *c = arg;

	for (size_t i = 0; i < len; i++)
		c->mismatch |= (unsigned char)data[i] != (unsigned char)((c->bytes + i) * 7);
	c->bytes += len;
	c->calls++;
	return 0;
}

static void feed_in_pieces(struct evc__response *r, const char *msg, size_t len, size_t piece)
{
	size_t off = 0, used;
	int rc = 0;

	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		rc = evc__response_feed(r, msg + off, n, &used);
		assert_int_equal(used, n);
		off += n;
		assert_int_equal(rc, off == len ? 1 : 0);
	}
}

static void test_1mib_body_in_4k_pieces(void **state)
{
	const size_t body_len = 1024 * 1024;
	unsigned char *body = malloc(body_len);
	struct counter c = {0};
	struct evc__response r;
	size_t len;

	assert_non_null(body);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (unsigned char)(i * 7);
	char *msg = message(&len, body, body_len, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			    body_len);
	evc__response_init(&r, false, false, 0, count_body, &c);
	feed_in_pieces(&r, msg, len, 4096);
	assert_int_equal(r.body_bytes, body_len);
	assert_int_equal(c.bytes, body_len);
	assert_false(c.mismatch);
	assert_int_equal(c.calls, 257); /* one per piece holding body bytes */
	assert_true(r.keep_alive);
	evc__response_free(&r);
	free(msg);

	/* Decoded: 1 MiB out of a few KiB in, through the fixed output buffer. */
	size_t zlen;
	unsigned char *z = compress_as(body, body_len, 15 + 16, &zlen);
	msg = encoded_message(&len, "gzip", z, zlen);
	memset(&c, 0, sizeof(c));
	evc__response_init(&r, false, true, 0, count_body, &c);
	feed_in_pieces(&r, msg, len, 4096);
	assert_int_equal(r.body_bytes, body_len);
	assert_int_equal(c.bytes, body_len);
	assert_false(c.mismatch);
	assert_null(r.z); /* freed when the body ended */
	evc__response_free(&r);
	free(msg);
	free(z);
	free(body);
}

static void test_reuse_after_free(void **state)
{
	static const char msg[] = "HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n";
	struct evc__response r;

	for (int i = 0; i < 3; i++) {
		evc__response_init(&r, false, true, 0, NULL, NULL);
		assert_int_equal(evc__response_feed(&r, msg, strlen(msg), NULL), 1);
		assert_string_equal(r.location, "/a");
		evc__response_free(&r);
		assert_null(r.location);
	}

	/* Freed in the middle of a gzip body: the decoder goes too. */
	char *text = make_text(TEXT_LEN);
	size_t zlen, len;
	unsigned char *z = compress_as(text, TEXT_LEN, 15 + 16, &zlen);
	char *gz = encoded_message(&len, "gzip", z, zlen);
	evc__response_init(&r, false, true, 0, NULL, NULL);
	assert_int_equal(evc__response_feed(&r, gz, len - 10, NULL), 0);
	assert_non_null(r.z);
	evc__response_free(&r);
	assert_null(r.z);
	free(gz);
	free(z);
	free(text);
}

/* Link headers are kept for link discovery: repeats joined with ", ", a
 * 1xx's dropped, every split point giving the same value. */
static void test_link_headers(void **state)
{
	const char *msg = "HTTP/1.1 103 Early Hints\r\nLink: </early.css>; rel=preload\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nLink: </a>; rel=next\r\nContent-Length: 0\r\n"
			  "link:   </b>; rel=\"alternate\"  \r\n\r\n";
	size_t len = strlen(msg);
	for (size_t split = 1; split < len; split++) {
		struct evc__response r;
		size_t used;
		evc__response_init(&r, false, false, 0, NULL, NULL);
		assert_int_equal(evc__response_feed(&r, msg, split, &used), 0);
		assert_int_equal(evc__response_feed(&r, msg + split, len - split, &used), 1);
		assert_string_equal(r.link, "</a>; rel=next, </b>; rel=\"alternate\"");
		evc__response_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_link_headers),
	    cmocka_unit_test(test_content_length_body),
	    cmocka_unit_test(test_chunked_extensions_and_trailers),
	    cmocka_unit_test(test_close_delimited_body),
	    cmocka_unit_test(test_body_cut_short),
	    cmocka_unit_test(test_eof_before_any_byte),
	    cmocka_unit_test(test_interim_responses_are_skipped),
	    cmocka_unit_test(test_101_is_an_error),
	    cmocka_unit_test(test_204_and_304_have_no_body),
	    cmocka_unit_test(test_head_response_has_no_body),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_head_size_limit),
	    cmocka_unit_test(test_malformed_responses),
	    cmocka_unit_test(test_header_case_and_spaces),
	    cmocka_unit_test(test_long_values),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_gzip_decoded),
	    cmocka_unit_test(test_deflate_decoded),
	    cmocka_unit_test(test_gzip_chunked_decoded),
	    cmocka_unit_test(test_not_decoded),
	    cmocka_unit_test(test_br_and_zstd_decoded),
	    cmocka_unit_test(test_lenient_and_strict),
	    cmocka_unit_test(test_gzip_members_and_padding),
	    cmocka_unit_test(test_corrupt_gzip),
	    cmocka_unit_test(test_truncated_gzip),
	    cmocka_unit_test(test_empty_gzip_body),
	    cmocka_unit_test(test_max_body),
	    cmocka_unit_test(test_body_callback_error_stops),
	    cmocka_unit_test(test_1mib_body_in_4k_pieces),
	    cmocka_unit_test(test_reuse_after_free),
	};
	return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
