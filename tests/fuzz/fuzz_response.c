/*
 * libFuzzer harness for src/http/response.c, fed in every split: the input
 * (see fuzz_split.h) is an option byte, the sizes of the pieces the payload
 * is cut into, and the payload, the bytes of a response as a server might
 * send them. Each piece goes to evc__response_feed in an allocation of its
 * own; what is left after a complete message is fed once more (the peer
 * sent too much), and the connection's end follows when the parser still
 * wants bytes.
 *
 * The same bytes are also fed whole and one byte at a time (up to 2 KiB),
 * and the outcomes must agree: the result code and error message, the
 * status, and once the head is complete the kept headers; for a complete
 * response or one over the size limit also the body (its length and a hash
 * of it), and for a complete one keep-alive and how many bytes belonged to
 * it. The parser says the outcome does not depend on how bytes arrive; this
 * holds it to that. Also: no more body than the limit, a Content-Length
 * body exactly that long, a settled response stays settled, and nothing is
 * left allocated. Built and run by `make fuzz`; one input again:
 * build/fuzz/fuzz_response FILE.
 *
 * OPTS: bit 0 decode (gzip, deflate, br, zstd), bit 1 the request was HEAD,
 * bits 2-3 the body limit (none, 1, 100, 5000 bytes), bit 4 no body
 * callback, bit 5 the callback fails once 64 bytes have come.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/error.h"
#include "fuzz_split.h"
#include "http/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int rc;
	int status, http_major, http_minor;
	bool head_done, complete, keep_alive;
	int64_t content_length;
	char content_type[128], content_encoding[32], transfer_encoding[32];
	uint64_t location_hash, link_hash;
	int retry_after;
	uint64_t body_bytes, wire_body_bytes, delivered, body_hash;
	const char *error_msg;
	size_t used; /* bytes that belonged to the response */
};

struct sink {
	uint64_t delivered, hash;
	bool fail_after_64;
};

static int on_body(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;
	FUZZ_CHECK(len > 0);
	s->delivered += len;
	s->hash = fuzz_hash(s->hash, data, len);
	if (s->fail_after_64 && s->delivered >= 64)
		return -EIO;
	return 0;
}

static uint64_t hash_str(const char *s)
{
	return s ? fuzz_hash(FUZZ_HASH_INIT, s, strlen(s) + 1) : 0;
}

/* Feed payload in the pieces sp says (sp NULL: whole; one: byte by byte). */
static void run(struct outcome *o, uint8_t opts, const uint8_t *data, size_t size,
		struct fuzz_split *sp, bool one)
{
	static const uint64_t limits[] = {0, 1, 100, 5000};
	struct sink s = {.hash = FUZZ_HASH_INIT, .fail_after_64 = opts & 32};
	struct evc__response r;
	uint64_t limit = limits[(opts >> 2) & 3];

	evc__response_init(&r, opts & 2, opts & 1, limit, (opts & 16) ? NULL : on_body, &s);
	int rc = 0;
	size_t off = 0, used_total = 0;
	while (off < size && rc == 0) {
		size_t n = one ? 1 : sp ? fuzz_split_next(sp, size - off) : size - off;
		char *piece = fuzz_copy(data + off, n);
		size_t used = 12345;
		rc = evc__response_feed(&r, piece, n, &used);
		free(piece);
		FUZZ_CHECK(used <= n);
		FUZZ_CHECK(rc == 0 ? used == n : true);
		used_total += used;
		off += n;
	}
	if (rc == 1 && off < size) {
		/* More than the response: the connection must not be reused. */
		char *rest = fuzz_copy(data + off, size - off);
		size_t used = 12345;
		FUZZ_CHECK(evc__response_feed(&r, rest, size - off, &used) == 1);
		FUZZ_CHECK(used == 0 && !r.keep_alive);
		free(rest);
	}
	if (rc == 0)
		rc = evc__response_eof(&r);

	memset(o, 0, sizeof *o);
	o->rc = rc;
	o->status = r.status;
	o->http_major = r.http_major;
	o->http_minor = r.http_minor;
	o->head_done = r.head_done;
	o->complete = r.complete;
	o->keep_alive = r.keep_alive;
	o->content_length = r.content_length;
	memcpy(o->content_type, r.content_type, sizeof o->content_type);
	memcpy(o->content_encoding, r.content_encoding, sizeof o->content_encoding);
	memcpy(o->transfer_encoding, r.transfer_encoding, sizeof o->transfer_encoding);
	o->location_hash = hash_str(r.location);
	o->link_hash = hash_str(r.link);
	o->retry_after = r.retry_after;
	o->body_bytes = r.body_bytes;
	o->wire_body_bytes = r.wire_body_bytes;
	o->delivered = s.delivered;
	o->body_hash = s.hash;
	o->error_msg = r.error_msg;
	o->used = used_total;

	/* What holds for any one run. */
	FUZZ_CHECK(rc == 1 || rc == EVC_EPROTO || rc == EVC_ETOOLARGE || rc == -ENOMEM ||
		   rc == -EIO);
	FUZZ_CHECK(rc == 1 ? r.complete && r.error == 0 : !r.complete && r.error == rc);
	FUZZ_CHECK(rc != EVC_EPROTO || r.error_msg);
	FUZZ_CHECK(rc != -EIO || s.fail_after_64);
	FUZZ_CHECK(!limit || r.body_bytes <= limit);
	FUZZ_CHECK((opts & 16) || s.delivered == r.body_bytes);
	FUZZ_CHECK(!r.complete || r.head_done);
	FUZZ_CHECK(!r.head_done || (r.status >= 100 && r.status <= 999));
	FUZZ_CHECK(strlen(r.content_type) < sizeof r.content_type);
	FUZZ_CHECK(!r.location || (r.location[0] && strlen(r.location) <= 8192));
	FUZZ_CHECK(!r.link || strlen(r.link) <= 8192);
	FUZZ_CHECK(r.retry_after >= -1);
	FUZZ_CHECK(!(opts & 2) || !r.complete || r.body_bytes == 0);
	if (r.complete && !(opts & 1) && !(opts & 2) && !r.chunked && r.content_length >= 0 &&
	    r.status != 204 && r.status != 304)
		FUZZ_CHECK(r.body_bytes == (uint64_t)r.content_length);
	/* Undecoded, the body is what came, or (after an error) a prefix of it. */
	if (!(opts & 1) || !r.z_state)
		FUZZ_CHECK(rc == 1 ? r.body_bytes == r.wire_body_bytes
				   : r.body_bytes <= r.wire_body_bytes);
	/* Once settled, it stays so. */
	FUZZ_CHECK(evc__response_eof(&r) == rc);
	FUZZ_CHECK(evc__response_feed(&r, "x", 1, NULL) == rc);
	evc__response_free(&r);
	FUZZ_CHECK(r.location == NULL && r.link == NULL && r.z == NULL);
}

#define SAME(field) FUZZ_CHECK(a->field == b->field)

static bool bad_data(const struct outcome *o)
{
	return o->rc == EVC_EPROTO && o->error_msg && strncmp(o->error_msg, "bad ", 4) == 0;
}

static bool stopped_early(const struct outcome *o)
{
	return o->rc == EVC_ETOOLARGE || o->rc == -EIO;
}

static void same(const struct outcome *a, const struct outcome *b, uint8_t opts)
{
	/* A corrupt coded body: how much the decoder hands out before it sees
	 * the damage depends on how the input came (brotli keeps output back
	 * while it has input), so the size limit or a failing callback may be
	 * reached first in one run and not in the other. */
	if ((opts & 1) && ((bad_data(a) && stopped_early(b)) || (bad_data(b) && stopped_early(a))))
		return;
	SAME(rc);
	FUZZ_CHECK(a->error_msg == b->error_msg ||
		   (a->error_msg && b->error_msg && strcmp(a->error_msg, b->error_msg) == 0));
	SAME(status);
	SAME(head_done);
	SAME(complete);
	/* A head cut short by an error may hold more or less of its headers. */
	if (!a->head_done)
		return;
	SAME(http_major);
	SAME(http_minor);
	SAME(content_length);
	FUZZ_CHECK(strcmp(a->content_type, b->content_type) == 0);
	FUZZ_CHECK(strcmp(a->content_encoding, b->content_encoding) == 0);
	FUZZ_CHECK(strcmp(a->transfer_encoding, b->transfer_encoding) == 0);
	SAME(location_hash);
	SAME(link_hash);
	/* An HTTP date is counted from now: a second may pass between runs. */
	FUZZ_CHECK(a->retry_after == b->retry_after ||
		   (a->retry_after >= 0 && b->retry_after >= 0 &&
		    abs(a->retry_after - b->retry_after) <= 2));
	/* Where a body callback or a decoder fails depends on the pieces; the
	 * size limit and a complete response do not. */
	if (opts & 32 || (a->rc != 1 && a->rc != EVC_ETOOLARGE))
		return;
	SAME(body_bytes);
	SAME(delivered);
	SAME(body_hash);
	if (a->rc == 1) {
		SAME(keep_alive);
		SAME(wire_body_bytes);
		SAME(used);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_split sp;
	struct outcome whole, split, bytes;
	uint8_t opts;

	if (!fuzz_split_take(&data, &size, &opts, &sp))
		return 0;
	run(&whole, opts, data, size, NULL, false);
	run(&split, opts, data, size, &sp, false);
	same(&whole, &split, opts);
	if (size <= 2048) {
		run(&bytes, opts, data, size, NULL, true);
		same(&whole, &bytes, opts);
	}
	return 0;
}
