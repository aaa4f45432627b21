/*
 * One HTTP/1.x response on llhttp, with gzip/deflate decoding as bytes stream.
 *
 * llhttp calls back with spans of the caller's buffer; we keep only the few
 * headers the crawler needs and hand body bytes straight to on_body (through
 * one thread-local buffer when inflating), so nothing grows with the body.
 * Every message stops the parser with HPE_PAUSED in on_message_complete, which
 * tells feed() exactly where it ended: the end of a 1xx interim response (the
 * final response's head is counted from there), or the end of the response.
 */
#include "http/response.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <zlib.h>

#include "evcrawl/error.h"

#define LOCATION_MAX (8 * 1024)

/* Which kept header the current field is (r->field). */
enum {
	H_NONE,
	H_CONTENT_TYPE,
	H_CONTENT_ENCODING,
	H_LOCATION,
	H_RETRY_AFTER,
	H_LINK,
};

/* r->z_state: where decoding of this body stands. */
enum {
	DEC_NONE,	  /* bytes pass through as they are */
	DEC_WANT_GZIP,	  /* gzip/x-gzip: decoder made on the first body byte */
	DEC_WANT_DEFLATE, /* deflate: zlib-wrapped, or raw as many servers send */
	DEC_RUNNING,	  /* r->z is live */
	DEC_DONE,	  /* stream ended and r->z freed; later bytes are ignored */
};

/*
 * The first two body bytes are held back: they decide whether a "deflate"
 * body has a zlib header, and are replayed into a raw inflater if not.
 */
struct decoder {
	z_stream zs;
	unsigned char head[2];
	unsigned nhead;
	bool may_be_raw;
};

static int on_header_field(llhttp_t *p, const char *at, size_t len);
static int on_header_field_complete(llhttp_t *p);
static int on_header_value(llhttp_t *p, const char *at, size_t len);
static int on_header_value_complete(llhttp_t *p);
static int on_headers_complete(llhttp_t *p);
static int on_body(llhttp_t *p, const char *at, size_t len);
static int on_message_complete(llhttp_t *p);

/* Constant, so every thread may share it without any set-up step. */
static const llhttp_settings_t settings = {
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Record the first error; every later call reports it again. */
static int fail(struct evc__response *r, int code, const char *msg)
{
	if (!r->error) {
		r->error = code;
		r->error_msg = msg;
	}
	return r->error;
}

/* ---- body delivery and decoding ---------------------------------------- */

static int emit(struct evc__response *r, const char *data, size_t len)
{
	r->body_bytes += len;
	if (r->on_body) {
		int err = r->on_body(r->arg, data, len);
		if (err < 0)
			return fail(r, err, NULL);
	}
	return 0;
}

/* Deliver up to max_body, so the outcome does not depend on how bytes arrived. */
static int deliver(struct evc__response *r, const char *data, size_t len)
{
	if (r->max_body && len > r->max_body - r->body_bytes) {
		size_t room = r->max_body - r->body_bytes;
		int err = room ? emit(r, data, room) : 0;
		return err ? err : fail(r, EVC_ETOOLARGE, "body larger than the size limit");
	}
	return emit(r, data, len);
}

static void decoder_free(struct evc__response *r)
{
	struct decoder *d = r->z;

	if (d) {
		inflateEnd(&d->zs);
		free(d);
		r->z = NULL;
	}
}

static int decoder_start(struct evc__response *r)
{
	struct decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return fail(r, -ENOMEM, NULL);
	/* 15 + 32: a 32 KiB window, and gzip or zlib header detected by zlib. */
	if (inflateInit2(&d->zs, 15 + 32) != Z_OK) {
		free(d);
		return fail(r, -ENOMEM, NULL);
	}
	d->may_be_raw = r->z_state == DEC_WANT_DEFLATE;
	r->z = d;
	r->z_state = DEC_RUNNING;
	return 0;
}

/*
 * Inflate in[0..len) through the thread-local buffer into deliver(). Returns
 * deliver()'s error or 0, and zlib's last code in *zret.
 */
static int inflate_span(struct evc__response *r, const unsigned char *in, size_t len, int *zret)
{
	static __thread unsigned char out[64 * 1024];
	struct decoder *d = r->z;
	size_t got;
	int err;

	*zret = Z_OK;
	while (len && *zret == Z_OK) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		d->zs.next_in = (unsigned char *)in;
		d->zs.avail_in = n;
		do {
			d->zs.next_out = out;
			d->zs.avail_out = sizeof(out);
			*zret = inflate(&d->zs, Z_NO_FLUSH);
			got = sizeof(out) - d->zs.avail_out;
			if (got && (err = deliver(r, (const char *)out, got)))
				return err;
		} while (*zret == Z_OK && (d->zs.avail_in || !d->zs.avail_out));
		in += n - d->zs.avail_in;
		len -= n - d->zs.avail_in;
	}
	return 0;
}

/* Turn zlib's verdict into ours; a finished stream frees the decoder at once. */
static int inflate_result(struct evc__response *r, int zret)
{
	switch (zret) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: wait for more input */
		return 0;
	case Z_STREAM_END:
		decoder_free(r);
		r->z_state = DEC_DONE;
		return 0;
	case Z_MEM_ERROR:
		return fail(r, -ENOMEM, NULL);
	default:
		return fail(r, EVC_EPROTO, "bad gzip/deflate data");
	}
}

/*
 * The held-back first two bytes. zlib judges a header from exactly these, so
 * a "deflate" body they reject is restarted as raw deflate, which is what
 * many servers send under that name.
 */
static int inflate_head(struct evc__response *r)
{
	struct decoder *d = r->z;
	int zret, err;

	err = inflate_span(r, d->head, sizeof(d->head), &zret);
	if (!err && zret == Z_DATA_ERROR && d->may_be_raw) {
		if (inflateReset2(&d->zs, -15) != Z_OK)
			return fail(r, EVC_EPROTO, "bad gzip/deflate data");
		err = inflate_span(r, d->head, sizeof(d->head), &zret);
	}
	return err ? err : inflate_result(r, zret);
}

static int decode(struct evc__response *r, const char *at, size_t len)
{
	struct decoder *d;
	int zret, err;

	if (r->z_state == DEC_DONE)
		return 0; /* trailing bytes after the compressed stream */
	if (r->z_state != DEC_RUNNING && (err = decoder_start(r)))
		return err;
	d = r->z;
	if (d->nhead < sizeof(d->head)) {
		while (len && d->nhead < sizeof(d->head)) {
			d->head[d->nhead++] = (unsigned char)*at++;
			len--;
		}
		if (d->nhead < sizeof(d->head))
			return 0;
		err = inflate_head(r);
		if (err || r->z_state == DEC_DONE || !len)
			return err;
	}
	err = inflate_span(r, (const unsigned char *)at, len, &zret);
	return err ? err : inflate_result(r, zret);
}

static bool token_is(const char *s, size_t len, const char *token)
{
	return strlen(token) == len && !strncasecmp(s, token, len);
}

/* Decode only the single codings zlib knows; anything else passes through. */
static int decoding_for(const char *encoding)
{
	size_t len = strlen(encoding);

	if (token_is(encoding, len, "gzip") || token_is(encoding, len, "x-gzip"))
		return DEC_WANT_GZIP;
	if (token_is(encoding, len, "deflate"))
		return DEC_WANT_DEFLATE;
	return DEC_NONE;
}

/* ---- Retry-After --------------------------------------------------------- */

static bool parse_digits(const char **s, int min, int max, int *out)
{
	const char *p = *s;
	int v = 0, n = 0;

	while (n < max && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n < min)
		return false;
	*s = p;
	*out = v;
	return true;
}

static bool parse_month(const char **s, int *mon)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++) {
		if (!strncasecmp(*s, names + 3 * i, 3)) {
			*mon = i;
			*s += 3;
			return true;
		}
	}
	return false;
}

static bool parse_clock(const char **s, struct tm *tm)
{
	const char *p = *s;

	if (!parse_digits(&p, 2, 2, &tm->tm_hour) || *p++ != ':' ||
	    !parse_digits(&p, 2, 2, &tm->tm_min) || *p++ != ':' ||
	    !parse_digits(&p, 2, 2, &tm->tm_sec))
		return false;
	*s = p;
	return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/*
 * The three HTTP-date forms: "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate),
 * "Sunday, 06-Nov-94 08:49:37 GMT" (RFC 850) and "Sun Nov  6 08:49:37 1994"
 * (asctime). Whatever follows the time in the first two is not checked, as
 * the value may have been cut to fit field_buf.
 */
static bool parse_http_date(const char *p, time_t *out)
{
	struct tm tm = {0};
	int year;

	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	if (*p == ',') {
		p = skip_spaces(p + 1);
		if (!parse_digits(&p, 1, 2, &tm.tm_mday) || (*p != ' ' && *p != '-'))
			return false;
		p++;
		if (!parse_month(&p, &tm.tm_mon) || (*p != ' ' && *p != '-'))
			return false;
		p++;
		if (!parse_digits(&p, 2, 4, &year) || *p++ != ' ' || !parse_clock(&p, &tm))
			return false;
		if (year < 100) /* RFC 850's two-digit year */
			year += year < 70 ? 2000 : 1900;
	} else {
		p = skip_spaces(p);
		if (!parse_month(&p, &tm.tm_mon))
			return false;
		p = skip_spaces(p);
		if (!parse_digits(&p, 1, 2, &tm.tm_mday) || *p++ != ' ' || !parse_clock(&p, &tm))
			return false;
		p = skip_spaces(p);
		if (!parse_digits(&p, 4, 4, &year))
			return false;
	}
	if (tm.tm_mday < 1 || tm.tm_mday > 31)
		return false;
	tm.tm_year = year - 1900;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

/* Seconds to wait, from delta-seconds or a date; -1 when unreadable. */
static int parse_retry_after(const char *s)
{
	const char *p = s;
	long long secs = 0;
	time_t when;

	while (*p >= '0' && *p <= '9') {
		if (secs < INT_MAX)
			secs = secs * 10 + (*p - '0');
		p++;
	}
	if (p != s && !*p)
		return secs > INT_MAX ? INT_MAX : (int)secs;
	if (p != s || !parse_http_date(s, &when))
		return -1;
	secs = (long long)when - (long long)time(NULL);
	if (secs < 0)
		return 0;
	return secs > INT_MAX ? INT_MAX : (int)secs;
}

/* ---- headers -------------------------------------------------------------- */

static struct evc__response *resp(llhttp_t *p)
{
	return p->data;
}

/* Append to a fixed buffer, dropping what does not fit; keeps it terminated. */
static void append_cut(char *buf, size_t size, size_t *len, const char *at, size_t n)
{
	size_t room = size - 1 - *len;

	if (n > room)
		n = room;
	memcpy(buf + *len, at, n);
	*len += n;
	buf[*len] = '\0';
}

static void trim_end(char *buf, size_t *len)
{
	while (*len && (buf[*len - 1] == ' ' || buf[*len - 1] == '\t'))
		(*len)--;
	buf[*len] = '\0';
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct evc__response *r = resp(p);

	/* Names longer than field_buf are none of ours: only count them. */
	if (r->field_len + len < sizeof(r->field_buf))
		memcpy(r->field_buf + r->field_len, at, len);
	r->field_len += len;
	return 0;
}

static int kept_field(const char *name, size_t len)
{
	if (token_is(name, len, "content-type"))
		return H_CONTENT_TYPE;
	if (token_is(name, len, "content-encoding"))
		return H_CONTENT_ENCODING;
	if (token_is(name, len, "location"))
		return H_LOCATION;
	if (token_is(name, len, "retry-after"))
		return H_RETRY_AFTER;
	if (token_is(name, len, "link"))
		return H_LINK;
	return H_NONE;
}

/*
 * Decide where the value goes. The first of a repeated header wins, except
 * Content-Encoding, whose repeats form a list ("gzip, gzip") that we then
 * leave undecoded rather than decode once and mislabel. Trailers are ignored.
 */
static int on_header_field_complete(llhttp_t *p)
{
	struct evc__response *r = resp(p);
	int field = H_NONE;

	if (!r->head_done && r->field_len < sizeof(r->field_buf))
		field = kept_field(r->field_buf, r->field_len);
	r->field_len = 0;
	r->value_len = 0;
	if ((field == H_CONTENT_TYPE && r->content_type[0]) || (field == H_LOCATION && r->location))
		field = H_NONE;
	if (field == H_RETRY_AFTER && r->retry_after >= 0)
		field = H_NONE;
	if (field == H_LINK && r->link) { /* repeats form one list */
		size_t n = strlen(r->link);
		if (n + 2 < LOCATION_MAX) {
			char *l = realloc(r->link, n + 3);
			if (l) {
				memcpy(l + n, ", ", 3);
				r->link = l;
			}
		}
		r->value_len = strlen(r->link);
	}
	if (field == H_CONTENT_ENCODING && r->content_encoding[0]) {
		r->value_len = strlen(r->content_encoding);
		append_cut(r->content_encoding, sizeof(r->content_encoding), &r->value_len, ", ",
			   2);
	}
	r->field = field;
	return 0;
}

/*
 * Past LOCATION_MAX only whitespace may follow (trim_end drops it anyway),
 * so it is not stored; anything else makes the value too long.
 */
static int append_location(struct evc__response *r, const char *at, size_t len)
{
	size_t room = LOCATION_MAX - r->value_len;
	char *loc;

	for (size_t i = room; i < len; i++) {
		if (at[i] != ' ' && at[i] != '\t') {
			free(r->location); /* never leave a cut URL to follow */
			r->location = NULL;
			return fail(r, EVC_EPROTO, "Location header too long");
		}
	}
	if (len > room)
		len = room;
	if (!len)
		return 0;
	loc = realloc(r->location, r->value_len + len + 1);
	if (!loc)
		return fail(r, -ENOMEM, NULL);
	memcpy(loc + r->value_len, at, len);
	r->value_len += len;
	loc[r->value_len] = '\0';
	r->location = loc;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct evc__response *r = resp(p);

	switch (r->field) {
	case H_CONTENT_TYPE:
		append_cut(r->content_type, sizeof(r->content_type), &r->value_len, at, len);
		break;
	case H_CONTENT_ENCODING:
		append_cut(r->content_encoding, sizeof(r->content_encoding), &r->value_len, at,
			   len);
		break;
	case H_LOCATION:
		return append_location(r, at, len) ? HPE_USER : 0;
	case H_RETRY_AFTER:
		append_cut(r->field_buf, sizeof(r->field_buf), &r->value_len, at, len);
		break;
	case H_LINK: {
		/* Only for finding links: past LOCATION_MAX the rest is dropped. */
		size_t room = r->value_len < LOCATION_MAX ? LOCATION_MAX - r->value_len : 0;
		size_t n = len < room ? len : room;
		char *l = n ? realloc(r->link, r->value_len + n + 1) : NULL;
		if (l) {
			memcpy(l + r->value_len, at, n);
			r->value_len += n;
			l[r->value_len] = '\0';
			r->link = l;
		}
		break;
	}
	}
	return 0;
}

/* llhttp drops the whitespace before a value; the whitespace after is ours. */
static int on_header_value_complete(llhttp_t *p)
{
	struct evc__response *r = resp(p);

	switch (r->field) {
	case H_CONTENT_TYPE:
		trim_end(r->content_type, &r->value_len);
		break;
	case H_CONTENT_ENCODING:
		trim_end(r->content_encoding, &r->value_len);
		break;
	case H_LOCATION:
		if (r->location)
			trim_end(r->location, &r->value_len);
		if (r->location && !r->location[0]) {
			free(r->location);
			r->location = NULL;
		}
		break;
	case H_RETRY_AFTER:
		trim_end(r->field_buf, &r->value_len);
		r->retry_after = parse_retry_after(r->field_buf);
		break;
	case H_LINK:
		if (r->link)
			trim_end(r->link, &r->value_len);
		break;
	}
	r->field = H_NONE;
	r->value_len = 0;
	return 0;
}

/* Forget what an interim 1xx response set; the final one starts afresh. */
static void reset_head(struct evc__response *r)
{
	r->content_type[0] = '\0';
	r->content_encoding[0] = '\0';
	free(r->location);
	r->location = NULL;
	free(r->link);
	r->link = NULL;
	r->retry_after = -1;
	r->head_bytes = 0;
}

/*
 * Returning 1 tells llhttp that no body follows whatever the headers say:
 * interim responses, 204, 304, and any response to HEAD.
 */
static int on_headers_complete(llhttp_t *p)
{
	struct evc__response *r = resp(p);
	int status = p->status_code;

	if (status == 101) {
		fail(r, EVC_EPROTO, "unexpected 101 Switching Protocols");
		return HPE_USER;
	}
	if (status / 100 == 1)
		return 1;
	r->status = status;
	r->http_major = p->http_major;
	r->http_minor = p->http_minor;
	r->head_done = true;
	r->content_length = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
	if (r->decode)
		r->z_state = decoding_for(r->content_encoding);
	return r->head_request || status == 204 || status == 304;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct evc__response *r = resp(p);
	int err;

	err = r->z_state == DEC_NONE ? deliver(r, at, len) : decode(r, at, len);
	return err ? HPE_USER : 0;
}

/* Pause after every message: feed() learns from the pause where it ended. */
static int on_message_complete(llhttp_t *p)
{
	struct evc__response *r = resp(p);

	if (!r->head_done) {
		reset_head(r); /* an interim response */
		return HPE_PAUSED;
	}
	if (r->z_state == DEC_RUNNING) {
		fail(r, EVC_EPROTO, "truncated gzip/deflate data");
		return HPE_USER;
	}
	r->keep_alive = llhttp_should_keep_alive(p);
	r->complete = true;
	return HPE_PAUSED;
}

/* ---- feeding --------------------------------------------------------------- */

/* A short fixed text for each way llhttp can reject a response. */
static const char *parse_error_msg(llhttp_errno_t err)
{
	switch (err) {
	case HPE_INVALID_CHUNK_SIZE:
		return "invalid chunk size";
	case HPE_INVALID_CONTENT_LENGTH:
		return "invalid Content-Length";
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return "Content-Length together with Transfer-Encoding";
	case HPE_INVALID_TRANSFER_ENCODING:
		return "invalid Transfer-Encoding";
	case HPE_INVALID_CONSTANT:
	case HPE_INVALID_VERSION:
		return "not an HTTP/1.x response";
	case HPE_INVALID_STATUS:
		return "invalid status code";
	case HPE_INVALID_HEADER_TOKEN:
		return "invalid header";
	case HPE_CR_EXPECTED:
	case HPE_LF_EXPECTED:
	case HPE_STRICT:
	case HPE_UNEXPECTED_SPACE:
		return "malformed line in response";
	case HPE_PAUSED_UPGRADE:
	case HPE_PAUSED_H2_UPGRADE:
		return "unexpected protocol upgrade";
	default:
		return "malformed HTTP response";
	}
}

/*
 * Run llhttp over a prefix of data and say in *used how much it took.
 * Until the head is complete it sees no more than the head may still grow
 * by, so a head over EVC_MAX_HEAD is caught at exactly that byte however
 * the bytes arrive. Returns 0 (go on), 1 (complete) or an error.
 */
static int execute(struct evc__response *r, const char *data, size_t len, size_t *used)
{
	size_t n = len;
	llhttp_errno_t err;

	*used = 0;
	if (!r->head_done) {
		if (r->head_bytes >= EVC_MAX_HEAD)
			return fail(r, EVC_EPROTO, "response head larger than 64 KiB");
		if (n > EVC_MAX_HEAD - r->head_bytes)
			n = EVC_MAX_HEAD - r->head_bytes;
	}
	err = llhttp_execute(&r->parser, data, n);
	if (err == HPE_OK) {
		if (!r->head_done)
			r->head_bytes += n;
		*used = n;
		return 0;
	}
	*used = (size_t)(llhttp_get_error_pos(&r->parser) - data);
	if (err != HPE_PAUSED)
		return r->error ? r->error : fail(r, EVC_EPROTO, parse_error_msg(err));
	if (r->complete)
		return 1;
	llhttp_resume(&r->parser); /* after an interim response; its head is forgotten */
	return 0;
}

void evc__response_init(struct evc__response *r, bool head_request, bool decode, uint64_t max_body,
			evc__body_cb on_body_cb, void *arg)
{
	memset(r, 0, sizeof(*r));
	llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
	r->parser.data = r;
	r->content_length = -1;
	r->retry_after = -1;
	r->max_body = max_body;
	r->on_body = on_body_cb;
	r->arg = arg;
	r->decode = decode;
	r->head_request = head_request;
}

int evc__response_feed(struct evc__response *r, const char *data, size_t len, size_t *used)
{
	size_t off = 0, n, ignored;
	int rc = 0;

	if (!used)
		used = &ignored;
	*used = 0;
	if (r->error)
		return r->error;
	if (r->complete) {
		if (len)
			r->keep_alive = false;
		return 1;
	}
	while (off < len && !rc) {
		rc = execute(r, data + off, len - off, &n);
		off += n;
	}
	*used = off;
	if (rc == 1 && off < len)
		r->keep_alive = false; /* the peer sent more than one response */
	return rc;
}

int evc__response_eof(struct evc__response *r)
{
	if (r->error)
		return r->error;
	if (r->complete)
		return 1;
	/* Completes a close-delimited body through on_message_complete. */
	llhttp_finish(&r->parser);
	if (r->error)
		return r->error;
	if (r->complete)
		return 1;
	return fail(r, EVC_EPROTO, "connection closed before the response was complete");
}

void evc__response_free(struct evc__response *r)
{
	free(r->location);
	r->location = NULL;
	free(r->link);
	r->link = NULL;
	decoder_free(r);
}
