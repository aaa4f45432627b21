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

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

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
	H_TRANSFER_ENCODING,
	H_SET_COOKIE,
};

#define WANTED_MAX 4096 /* bytes kept of a wanted header's value */
/* A Set-Cookie longer than this is dropped whole: the cookie store takes
 * at most 4 KiB of name and value and 1 KiB per attribute anyway. */
#define SET_COOKIE_MAX	 8192
#define SET_COOKIE_COUNT 50 /* Set-Cookie headers kept per response */

/* r->z_state: where decoding of this body stands. */
enum {
	DEC_NONE,    /* bytes pass through as they are */
	DEC_WANT,    /* r->coding: decoder made on the first body byte */
	DEC_RUNNING, /* r->z is live */
	DEC_DONE,    /* stream ended and r->z freed; later bytes are ignored */
};

/* r->coding: the Content-Encoding being decoded. */
enum {
	CODING_GZIP = 1, /* gzip, x-gzip */
	CODING_DEFLATE,	 /* zlib-wrapped, or raw as many servers send */
	CODING_BR,
	CODING_ZSTD,
	CODING_UNKNOWN, /* anything else: an error once a body byte comes */
};

/*
 * One decoder for whichever coding the body has. For zlib the first two
 * body bytes are held back: they decide whether a "deflate" body has a
 * zlib header, and are replayed into a raw inflater if not.
 */
struct decoder {
	z_stream zs;
	bool zs_live;
	unsigned char head[2];
	unsigned nhead;
	bool may_be_raw;
	BrotliDecoderState *br;
	ZSTD_DCtx *zstd;
	bool frame_done; /* the stream (zstd frame, gzip member) ended; another may follow */
	bool held_1f;	 /* gzip: a first magic byte after a member, its second not yet here */
};

/* Decoded bytes go through this buffer; one per thread, never on the heap. */
static __thread unsigned char dec_out[64 * 1024];

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
		if (d->zs_live)
			inflateEnd(&d->zs);
		if (d->br)
			BrotliDecoderDestroyInstance(d->br);
		ZSTD_freeDCtx(d->zstd);
		free(d);
		r->z = NULL;
	}
}

static int decoder_start(struct evc__response *r)
{
	struct decoder *d = calloc(1, sizeof(*d));
	bool ok = false;

	if (!d)
		return fail(r, -ENOMEM, NULL);
	r->z = d;
	switch (r->coding) {
	case CODING_GZIP:
	case CODING_DEFLATE:
		/* 15 + 32: a 32 KiB window, and gzip or zlib header detected by zlib. */
		ok = d->zs_live = inflateInit2(&d->zs, 15 + 32) == Z_OK;
		d->may_be_raw = r->coding == CODING_DEFLATE;
		break;
	case CODING_BR:
		ok = (d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL)) != NULL;
		break;
	case CODING_ZSTD:
		/* At most an 8 MiB window, as RFC 8878 asks of HTTP decoders: a
		 * frame may not make us allocate more. */
		ok = (d->zstd = ZSTD_createDCtx()) != NULL &&
		     !ZSTD_isError(ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, 23));
		break;
	}
	if (!ok) {
		decoder_free(r);
		return fail(r, -ENOMEM, NULL);
	}
	r->z_state = DEC_RUNNING;
	return 0;
}

static void decoder_done(struct evc__response *r)
{
	decoder_free(r);
	r->z_state = DEC_DONE;
}

/*
 * Inflate in[0..len) through dec_out into deliver(), up to the end of the
 * stream. Returns deliver()'s error or 0; zlib's last code in *zret and
 * the bytes taken in *used (fewer than len only after the stream's end).
 */
static int inflate_span(struct evc__response *r, const unsigned char *in, size_t len, int *zret,
			size_t *used)
{
	struct decoder *d = r->z;
	size_t got;
	int err;

	*zret = Z_OK;
	*used = 0;
	while (len && *zret == Z_OK) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		d->zs.next_in = (unsigned char *)in;
		d->zs.avail_in = n;
		do {
			d->zs.next_out = dec_out;
			d->zs.avail_out = sizeof(dec_out);
			*zret = inflate(&d->zs, Z_NO_FLUSH);
			got = sizeof(dec_out) - d->zs.avail_out;
			if (got && (err = deliver(r, (const char *)dec_out, got)))
				return err;
		} while (*zret == Z_OK && (d->zs.avail_in || !d->zs.avail_out));
		in += n - d->zs.avail_in;
		len -= n - d->zs.avail_in;
		*used += n - d->zs.avail_in;
	}
	return 0;
}

/* Turn zlib's verdict into ours. */
static int inflate_result(struct evc__response *r, int zret)
{
	switch (zret) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: wait for more input */
		return 0;
	case Z_STREAM_END: /* a gzip body may hold more members: see decode_zlib */
		((struct decoder *)r->z)->frame_done = true;
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
	size_t used;

	err = inflate_span(r, d->head, sizeof(d->head), &zret, &used);
	if (!err && zret == Z_DATA_ERROR && d->may_be_raw) {
		if (inflateReset2(&d->zs, -15) != Z_OK)
			return fail(r, EVC_EPROTO, "bad gzip/deflate data");
		err = inflate_span(r, d->head, sizeof(d->head), &zret, &used);
	}
	return err ? err : inflate_result(r, zret);
}

/*
 * After a whole stream: a gzip body may hold another member (RFC 1952; gzip
 * -d decodes them all), which starts with the gzip magic. Anything else
 * after it (zero padding, junk) is ignored, as gzip -d does; so is
 * whatever follows a deflate stream.
 */
static int next_member(struct evc__response *r, const char **at, size_t *len)
{
	struct decoder *d = r->z;
	const unsigned char *p = (const unsigned char *)*at;
	unsigned char first = d->held_1f ? 0x1f : p[0];
	const unsigned char *second = d->held_1f ? p : *len > 1 ? p + 1 : NULL;
	if (!d->held_1f && first == 0x1f && !second) { /* the magic split: wait */
		d->held_1f = true;
		*at += 1;
		*len -= 1;
		return 0;
	}
	if (r->coding != CODING_GZIP || first != 0x1f || *second != 0x8b) {
		decoder_done(r);
		return 0;
	}
	if (inflateReset(&d->zs) != Z_OK)
		return fail(r, EVC_EPROTO, "bad gzip/deflate data");
	d->frame_done = false;
	if (d->held_1f) { /* the byte held back starts the member */
		int zret;
		size_t used;
		d->held_1f = false;
		static const unsigned char magic1 = 0x1f;
		int err = inflate_span(r, &magic1, 1, &zret, &used);
		return err ? err : inflate_result(r, zret);
	}
	return 0;
}

static int decode_zlib(struct evc__response *r, const char *at, size_t len)
{
	struct decoder *d = r->z;
	int zret, err;
	size_t used;

	if (d->nhead < sizeof(d->head)) {
		while (len && d->nhead < sizeof(d->head)) {
			d->head[d->nhead++] = (unsigned char)*at++;
			len--;
		}
		if (d->nhead < sizeof(d->head))
			return 0;
		if ((err = inflate_head(r)))
			return err;
	}
	while (len) {
		if (d->frame_done && ((err = next_member(r, &at, &len)) || r->z_state == DEC_DONE))
			return err;
		if (!len)
			return 0;
		err = inflate_span(r, (const unsigned char *)at, len, &zret, &used);
		if (err || (err = inflate_result(r, zret)))
			return err;
		at += used;
		len -= used;
	}
	return 0;
}

static int decode_br(struct evc__response *r, const char *at, size_t len)
{
	struct decoder *d = r->z;
	const uint8_t *in = (const uint8_t *)at;
	size_t avail_in = len;

	for (;;) {
		uint8_t *out = dec_out;
		size_t avail_out = sizeof(dec_out);
		BrotliDecoderResult res =
		    BrotliDecoderDecompressStream(d->br, &avail_in, &in, &avail_out, &out, NULL);
		size_t got = sizeof(dec_out) - avail_out;
		int err = got ? deliver(r, (const char *)dec_out, got) : 0;
		if (err)
			return err;
		switch (res) {
		case BROTLI_DECODER_RESULT_SUCCESS:
			decoder_done(r); /* bytes after the stream are ignored */
			return 0;
		case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
			return 0;
		case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
			break;
		default:
			return fail(r, EVC_EPROTO, "bad br data");
		}
	}
}

static int decode_zstd(struct evc__response *r, const char *at, size_t len)
{
	struct decoder *d = r->z;
	ZSTD_inBuffer in = {at, len, 0};

	for (;;) {
		ZSTD_outBuffer out = {dec_out, sizeof(dec_out), 0};
		size_t ret = ZSTD_decompressStream(d->zstd, &out, &in);
		if (ZSTD_isError(ret))
			return fail(r, EVC_EPROTO,
				    ZSTD_getErrorCode(ret) ==
					    ZSTD_error_frameParameter_windowTooLarge
					? "zstd window larger than 8 MiB"
					: "bad zstd data");
		int err = out.pos ? deliver(r, (const char *)dec_out, out.pos) : 0;
		if (err)
			return err;
		d->frame_done = ret == 0;
		/* Done with this input once it is all read and the output had room. */
		if (in.pos == in.size && out.pos < out.size)
			return 0;
	}
}

static int decode(struct evc__response *r, const char *at, size_t len)
{
	int err;

	if (r->z_state == DEC_DONE)
		return 0; /* trailing bytes after the compressed stream */
	if (r->coding == CODING_UNKNOWN)
		return fail(r, EVC_EPROTO, "unsupported Content-Encoding");
	if (r->z_state != DEC_RUNNING && (err = decoder_start(r)))
		return err;
	switch (r->coding) {
	case CODING_BR:
		return decode_br(r, at, len);
	case CODING_ZSTD:
		return decode_zstd(r, at, len);
	default:
		return decode_zlib(r, at, len);
	}
}

/* Body bytes as they come off the wire (after any chunked framing). */
static int body_bytes(struct evc__response *r, const char *at, size_t len)
{
	r->wire_body_bytes += len;
	return r->z_state == DEC_NONE ? deliver(r, at, len) : decode(r, at, len);
}

/* The body ended: a coded stream that has not must not pass as whole. */
static int body_end(struct evc__response *r)
{
	if (r->z_state == DEC_RUNNING && !((struct decoder *)r->z)->frame_done)
		return fail(r, EVC_EPROTO, "truncated compressed data");
	if (r->z_state == DEC_RUNNING)
		decoder_done(r); /* the decoder's memory goes with the body */
	return 0;
}

static bool token_is(const char *s, size_t len, const char *token)
{
	return strlen(token) == len && !strncasecmp(s, token, len);
}

/* Which decoder a Content-Encoding needs; 0 for none ("" or identity). A
 * list of codings ("gzip, gzip") is not decoded: CODING_UNKNOWN. */
static int coding_for(const char *encoding)
{
	size_t len = strlen(encoding);

	if (!len || token_is(encoding, len, "identity") || token_is(encoding, len, "none"))
		return 0;
	if (token_is(encoding, len, "gzip") || token_is(encoding, len, "x-gzip"))
		return CODING_GZIP;
	if (token_is(encoding, len, "deflate"))
		return CODING_DEFLATE;
	if (token_is(encoding, len, "br"))
		return CODING_BR;
	if (token_is(encoding, len, "zstd"))
		return CODING_ZSTD;
	return CODING_UNKNOWN;
}

/* ---- chunked framing --------------------------------------------------------
 *
 * Ours rather than llhttp's: Debian's llhttp 8.1 refuses chunk extensions
 * with values (";a=b", quoted strings), which servers do send and curl and
 * browsers accept. Extensions are skipped whatever they hold (up to 4 KiB per
 * line), a bare LF ends a line as CRLF does, and trailers are read and
 * dropped (up to the head limit in all).
 */
enum {
	CH_SIZE,	/* hex digits of the chunk size */
	CH_EXT,		/* after the size: extensions, up to LF */
	CH_DATA,	/* ch_left bytes of data */
	CH_DATA_END,	/* CRLF (or LF) after the data */
	CH_DATA_LF,	/* the LF of that CRLF */
	CH_TRAILER,	/* at the start of a trailer line (or the final one) */
	CH_TRAILER_MID, /* inside a trailer line */
	CH_END_LF,	/* the LF of the final CRLF */
};

#define CHUNK_LINE_MAX 4096

static int chunk_line_end(struct evc__response *r)
{
	if (!r->ch_digits)
		return fail(r, EVC_EPROTO, "invalid chunk size");
	r->ch_state = r->ch_left ? CH_DATA : CH_TRAILER;
	r->ch_line = 0;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Feed chunked body bytes. 0: go on, 1: the last chunk and the trailers
 * ended (at *used), or an error. */
static int chunked_feed(struct evc__response *r, const char *data, size_t len, size_t *used)
{
	size_t i = 0;
	int err = 0;

	while (i < len && !err) {
		char c = data[i];
		int h;
		switch (r->ch_state) {
		case CH_SIZE:
			if ((h = hex_value(c)) >= 0) {
				if (r->ch_left >> 56)
					return fail(r, EVC_EPROTO, "chunk size too large");
				r->ch_left = r->ch_left << 4 | (uint64_t)h;
				r->ch_digits++;
			} else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
				r->ch_state = CH_EXT;
			} else if (c == '\n') {
				err = chunk_line_end(r);
			} else {
				return fail(r, EVC_EPROTO, "invalid chunk size");
			}
			i++;
			break;
		case CH_EXT:
			if (c == '\n')
				err = chunk_line_end(r);
			else if (++r->ch_line > CHUNK_LINE_MAX)
				return fail(r, EVC_EPROTO, "chunk extension too long");
			i++;
			break;
		case CH_DATA: {
			size_t n = len - i < r->ch_left ? len - i : (size_t)r->ch_left;
			err = body_bytes(r, data + i, n);
			i += n;
			r->ch_left -= n;
			if (!r->ch_left)
				r->ch_state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
		case CH_DATA_LF:
			if (c == '\r' && r->ch_state == CH_DATA_END) {
				r->ch_state = CH_DATA_LF;
			} else if (c == '\n') {
				r->ch_state = CH_SIZE;
				r->ch_digits = 0;
			} else {
				return fail(r, EVC_EPROTO, "no line end after chunk data");
			}
			i++;
			break;
		case CH_TRAILER:
		case CH_TRAILER_MID:
		case CH_END_LF:
			if (++r->ch_trailers > EVC_MAX_HEAD)
				return fail(r, EVC_EPROTO, "trailers larger than 64 KiB");
			if (c == '\0') /* as in the head: a trailer is a header field */
				return fail(r, EVC_EPROTO, "NUL in a trailer");
			i++;
			if (c == '\n' && r->ch_state != CH_TRAILER_MID) {
				*used = i;
				return body_end(r) ? r->error : 1;
			}
			if (c == '\n')
				r->ch_state = CH_TRAILER;
			else if (c == '\r' && r->ch_state == CH_TRAILER)
				r->ch_state = CH_END_LF;
			else if (r->ch_state == CH_END_LF)
				return fail(r, EVC_EPROTO, "malformed trailer");
			else
				r->ch_state = CH_TRAILER_MID;
			break;
		}
	}
	*used = i;
	return err;
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
	if (token_is(name, len, "transfer-encoding"))
		return H_TRANSFER_ENCODING;
	if (token_is(name, len, "set-cookie"))
		return H_SET_COOKIE;
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

	/* "Transfer-Encoding : gzip": llhttp reads it as Transfer-Encoding
	 * (it keeps the blanks in the name, but not in its semantics), so we
	 * must too, or its checks are bypassed. */
	while (r->field_len && r->field_len <= sizeof(r->field_buf) &&
	       (r->field_buf[r->field_len - 1] == ' ' || r->field_buf[r->field_len - 1] == '\t'))
		r->field_len--;
	if (!r->head_done && r->field_len < sizeof(r->field_buf))
		field = kept_field(r->field_buf, r->field_len);
	/* A wanted header may be a kept one too: its value goes to both. */
	r->wanted_field = -1;
	for (unsigned i = 0; !r->head_done && i < r->nwant && r->wanted_field < 0; i++)
		if (r->field_len < sizeof(r->field_buf) &&
		    token_is(r->field_buf, r->field_len, r->want[i]))
			r->wanted_field = (int)i;
	r->wanted_len = 0;
	if (r->wanted_field >= 0 && r->wanted[r->wanted_field]) { /* repeats: one list */
		char **v = &r->wanted[r->wanted_field];
		size_t n = strlen(*v);
		char *l = n + 2 < WANTED_MAX ? realloc(*v, n + 3) : NULL;
		if (l) {
			memcpy(l + n, ", ", 3);
			*v = l;
		}
		r->wanted_len = strlen(*v);
	}
	r->field_len = 0;
	r->value_len = 0;
	if (field == H_LOCATION && r->location)
		r->extra_locations++; /* which one to follow? see on_headers_complete */
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
	if (field == H_SET_COOKIE) { /* each one apart: an Expires date holds a comma */
		if (!r->keep_set_cookie || r->n_set_cookie >= SET_COOKIE_COUNT)
			field = H_NONE;
		r->set_cookie_start = r->set_cookie_len;
		r->set_cookie_drop = false;
	}
	if (field == H_TRANSFER_ENCODING && r->transfer_encoding[0]) {
		r->value_len = strlen(r->transfer_encoding);
		append_cut(r->transfer_encoding, sizeof(r->transfer_encoding), &r->value_len, ", ",
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

	/* Values are checked as they come too (scan_head would refuse them
	 * anyway, later): a NUL must never reach a kept value. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)at[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(r, EVC_EPROTO, "control character in the response head")
				   ? HPE_USER
				   : 0;
	}
	if (r->wanted_field >= 0) { /* a wanted header: past WANTED_MAX dropped */
		char **v = &r->wanted[r->wanted_field];
		size_t room = r->wanted_len < WANTED_MAX ? WANTED_MAX - r->wanted_len : 0;
		size_t n = len < room ? len : room;
		char *l = realloc(*v, r->wanted_len + n + 1);
		if (l) {
			memcpy(l + r->wanted_len, at, n);
			r->wanted_len += n;
			l[r->wanted_len] = '\0';
			*v = l;
		}
	}
	switch (r->field) {
	case H_CONTENT_TYPE:
		append_cut(r->content_type, sizeof(r->content_type), &r->value_len, at, len);
		break;
	case H_CONTENT_ENCODING:
		append_cut(r->content_encoding, sizeof(r->content_encoding), &r->value_len, at,
			   len);
		break;
	case H_TRANSFER_ENCODING:
		append_cut(r->transfer_encoding, sizeof(r->transfer_encoding), &r->value_len, at,
			   len);
		break;
	case H_LOCATION:
		return append_location(r, at, len) ? HPE_USER : 0;
	case H_SET_COOKIE: {
		size_t have = r->set_cookie_len - r->set_cookie_start;
		if (r->set_cookie_drop || have + len > SET_COOKIE_MAX) {
			r->set_cookie_drop = true;
			break;
		}
		char *l = realloc(r->set_cookie, r->set_cookie_len + len + 1);
		if (!l) {
			r->set_cookie_drop = true;
			break;
		}
		memcpy(l + r->set_cookie_len, at, len);
		r->set_cookie_len += len;
		r->set_cookie = l;
		break;
	}
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
	case H_TRANSFER_ENCODING:
		trim_end(r->transfer_encoding, &r->value_len);
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
	case H_SET_COOKIE:
		while (r->set_cookie_len > r->set_cookie_start &&
		       (r->set_cookie[r->set_cookie_len - 1] == ' ' ||
			r->set_cookie[r->set_cookie_len - 1] == '\t'))
			r->set_cookie_len--;
		if (r->set_cookie_drop || r->set_cookie_len == r->set_cookie_start) {
			r->set_cookie_len = r->set_cookie_start; /* too long, or empty */
		} else {
			r->set_cookie[r->set_cookie_len++] = '\0'; /* room made by realloc */
			r->n_set_cookie++;
		}
		break;
	}
	if (r->wanted_field >= 0 && r->wanted[r->wanted_field])
		trim_end(r->wanted[r->wanted_field], &r->wanted_len);
	r->wanted_field = -1;
	r->field = H_NONE;
	r->value_len = 0;
	return 0;
}

/* Forget what an interim 1xx response set; the final one starts afresh. */
static void reset_head(struct evc__response *r)
{
	r->content_type[0] = '\0';
	r->content_encoding[0] = '\0';
	r->transfer_encoding[0] = '\0';
	r->extra_locations = 0;
	for (unsigned i = 0; i < r->nwant; i++) {
		free(r->wanted[i]);
		r->wanted[i] = NULL;
	}
	free(r->location);
	r->location = NULL;
	free(r->link);
	r->link = NULL;
	free(r->set_cookie);
	r->set_cookie = NULL;
	r->set_cookie_len = 0;
	r->n_set_cookie = 0;
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

	if (status / 100 == 1 && status != 101)
		return 1; /* interim: skipped (its head is checked at its end) */
	/*
	 * The final head is complete: pause here, so that execute() checks its
	 * bytes (scan_head) before any body byte is delivered. A problem found
	 * now is reported after that check, so that a bad byte anywhere in the
	 * head is always what is reported, however the bytes arrived.
	 */
	r->head_pause = true;
	if (status == 101) {
		r->head_problem = "unexpected 101 Switching Protocols";
		return HPE_PAUSED;
	}
	if (status < 100) {
		r->head_problem = "invalid status code";
		return HPE_PAUSED;
	}
	r->status = status;
	r->http_major = p->http_major;
	r->http_minor = p->http_minor;
	r->head_done = true;
	r->content_length = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
	if (r->extra_locations && status / 100 == 3) {
		/* Two places to go, and no way to tell which is meant (curl and
		 * browsers refuse it too): neither. */
		r->head_problem = "more than one Location header";
		return HPE_PAUSED;
	}
	if (r->head_request || status == 204 || status == 304) {
		p->flags |= F_SKIPBODY; /* as returning 1 would: no body follows */
		return HPE_PAUSED;
	}
	if (r->transfer_encoding[0] &&
	    !token_is(r->transfer_encoding, strlen(r->transfer_encoding), "chunked")) {
		r->head_problem = "unsupported Transfer-Encoding";
		return HPE_PAUSED;
	}
	if (r->decode && (r->coding = coding_for(r->content_encoding)))
		r->z_state = DEC_WANT;
	if (p->flags & F_CHUNKED) {
		/* Our framing takes over (see chunked_feed): llhttp ends the
		 * message here, and a Content-Length beside it is ignored, as
		 * RFC 9112 says, but the connection is not trusted again. */
		r->chunked = true;
		r->chunked_keep = !(p->flags & F_CONTENT_LENGTH) && llhttp_should_keep_alive(p);
		p->flags |= F_SKIPBODY;
	}
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct evc__response *r = resp(p);
	int err;

	err = body_bytes(r, at, len);
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
	if (r->chunked) /* never reached: chunked_feed() reads the body */
		return HPE_PAUSED;
	if (body_end(r))
		return HPE_USER;
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
		return "more than one Content-Length"; /* CL with chunked is allowed (lenient) */
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
 * What llhttp lets through in a head, even strict: a bare CR (taken as a
 * line end, so "HTTP/1.1 200 O\rK\r\nContent-Length: 2" would lose its
 * headers), and, in the lenient mode we use for bare LF line ends, control
 * characters (NUL above all) in values and the reason phrase. The bytes
 * llhttp took as head (see execute) are checked here, a CR at the end of
 * one read being judged with the next. Returns 0 or the error.
 */
static int scan_head(struct evc__response *r, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (r->scan_cr && c != '\n') /* a bare CR is one of them */
			return fail(r, EVC_EPROTO, "control character in the response head");
		r->scan_cr = c == '\r';
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return fail(r, EVC_EPROTO, "control character in the response head");
	}
	return 0;
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
	if (r->chunked && r->head_done) {
		int rc = chunked_feed(r, data, len, used);
		if (rc == 1) {
			r->keep_alive = r->chunked_keep;
			r->complete = true;
		}
		return rc;
	}
	bool in_head = !r->head_done;
	if (in_head) {
		if (r->head_bytes >= EVC_MAX_HEAD)
			return fail(r, EVC_EPROTO, "response head larger than 64 KiB");
		if (n > EVC_MAX_HEAD - r->head_bytes)
			n = EVC_MAX_HEAD - r->head_bytes;
	}
	err = llhttp_execute(&r->parser, data, n);
	size_t took = err == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&r->parser) - data);
	/* While in the head, llhttp stops at its end (on_headers_complete
	 * pauses), so what it took is exactly head: checked before any body
	 * byte is delivered. */
	if (in_head && scan_head(r, data, took)) {
		/* A bad head is no head, whether llhttp finished it in this read
		 * or not: the outcome cannot depend on how bytes arrived. */
		r->head_done = false;
		r->status = 0;
		r->content_length = -1;
		return r->error;
	}
	if (err == HPE_PAUSED && r->head_pause) { /* the final head ended here */
		r->head_pause = false;
		*used = took;
		if (r->head_problem)
			return fail(r, EVC_EPROTO, r->head_problem);
		llhttp_resume(&r->parser);
		/* On at once, also with no byte left: a message without a body
		 * ends right here. */
		size_t more;
		int rc = execute(r, data + took, len - took, &more);
		*used = took + more;
		return rc;
	}
	if (err == HPE_OK) {
		if (!r->head_done)
			r->head_bytes += n;
		*used = n;
		return 0;
	}
	*used = took;
	if (err != HPE_PAUSED)
		return r->error ? r->error : fail(r, EVC_EPROTO, parse_error_msg(err));
	if (r->complete)
		return 1;
	if (r->chunked)
		return 0;	   /* the head ended at *used; the chunks come next */
	llhttp_resume(&r->parser); /* after an interim response; its head is forgotten */
	return 0;
}

void evc__response_init(struct evc__response *r, bool head_request, bool decode, uint64_t max_body,
			evc__body_cb on_body_cb, void *arg)
{
	memset(r, 0, sizeof(*r));
	llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
	/* Bare LF line ends, as curl and browsers accept (values are checked
	 * in on_header_value instead), and Content-Length beside chunked. */
	llhttp_set_lenient_headers(&r->parser, 1);
	llhttp_set_lenient_chunked_length(&r->parser, 1);
	r->parser.data = r;
	r->wanted_field = -1;
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
	if (r->chunked && r->head_done)
		return fail(r, EVC_EPROTO, "connection closed before the last chunk");
	/* Completes a close-delimited body through on_message_complete. */
	llhttp_finish(&r->parser);
	if (r->error)
		return r->error;
	if (r->complete)
		return 1;
	return fail(r, EVC_EPROTO, "connection closed before the response was complete");
}

int evc__response_want(struct evc__response *r, const char *const *names, unsigned n)
{
	if (!n)
		return 0;
	if (!(r->wanted = calloc(n, sizeof *r->wanted)))
		return -ENOMEM;
	r->want = names;
	r->nwant = n;
	return 0;
}

void evc__response_free(struct evc__response *r)
{
	for (unsigned i = 0; r->wanted && i < r->nwant; i++)
		free(r->wanted[i]);
	free(r->wanted);
	r->wanted = NULL;
	r->nwant = 0;
	free(r->location);
	r->location = NULL;
	free(r->link);
	r->link = NULL;
	free(r->set_cookie);
	r->set_cookie = NULL;
	r->set_cookie_len = 0;
	r->n_set_cookie = 0;
	decoder_free(r);
}
