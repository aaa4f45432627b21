/*
 * --resume FILE: go on from an earlier run's records.
 *
 * FILE holds JSONL records (an earlier run's stdout, or an earlier
 * --resume). Every complete line's "url" is remembered (as a 64-bit
 * fingerprint of its bytes, the seen-set's); input lines with a record are
 * then skipped, and the new records are appended to FILE. A last line
 * without its newline (the run was killed while writing it) is cut off
 * first, so FILE stays a file of whole records. A record of kind
 * "cancelled" (the run was interrupted with the URL in flight) does not
 * count: that URL is fetched again and gets a second record.
 *
 * The url is always the first field (the writer's fixed order, which
 * `jq -c` keeps), so a line is read up to the end of that string, never
 * parsed whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/utf8.h"

static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The bytes of the record's url (JSON unescaped) into out (at least as
 * large as the line). Returns the length, or -1 when the line is not a
 * record of ours.
 */
static ssize_t record_url(const char *line, size_t len, char *out)
{
	const char *p = line, *end = line + len;
	size_t n = 0;
	/* {"url":" with any blanks between (as `jq -c` or json.dumps write). */
	static const char *const lead[] = {"{", "\"url\"", ":", "\""};
	for (size_t i = 0; i < sizeof lead / sizeof lead[0]; i++) {
		size_t k = strlen(lead[i]);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) < k || memcmp(p, lead[i], k) != 0)
			return -1;
		p += k;
	}
	while (p < end && *p != '"') {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		if (++p == end)
			return -1;
		char c = *p++;
		unsigned cp, lo;
		switch (c) {
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (hex4(p, end, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && hex4(p + 2, end, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n += put_utf8(out + n, cp);
			break;
		default: /* \" \\ \/ */
			out[n++] = c;
		}
	}
	return p < end ? (ssize_t)n : -1;
}

/* "kind":"cancelled", blanks allowed around the colon. */
static bool cancelled(const char *line, size_t len)
{
	static const char key[] = "\"kind\"", val[] = "\"cancelled\"";
	const char *end = line + len, *p = line;
	while ((p = memmem(p, (size_t)(end - p), key, sizeof key - 1)) != NULL) {
		p += sizeof key - 1;
		const char *v = p;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v == end || *v++ != ':')
			continue;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if ((size_t)(end - v) >= sizeof val - 1 && memcmp(v, val, sizeof val - 1) == 0)
			return true;
	}
	return false;
}

/* Remember one complete line's URL. */
static int take_line(struct resume *r, const char *line, size_t len, char *scratch)
{
	ssize_t n = record_url(line, len, scratch);
	if (n < 0) {
		r->foreign++;
		return 0;
	}
	if (cancelled(line, len)) {
		r->cancelled++;
		return 0;
	}
	r->records++;
	return evc__seen_add(&r->done, evc__seen_fingerprint(scratch, (size_t)n)) < 0 ? -ENOMEM : 0;
}

int resume_open(struct resume *r, const char *path)
{
	r->path = path;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* Lines are read into buf; one longer than buf (no record is) is
	 * skipped whole. */
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap), *scratch = malloc(cap);
	off_t pos = 0, good = 0; /* good: just after the last newline */
	bool skipping = false;
	int rc = buf && scratch ? 0 : -ENOMEM;
	while (rc == 0) {
		ssize_t got = read(fd, buf + have, cap - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		have += (size_t)got;
		size_t start = 0;
		for (char *nl; rc == 0 && (nl = memchr(buf + start, '\n', have - start));) {
			size_t end = (size_t)(nl - buf);
			if (!skipping)
				rc = take_line(r, buf + start, end - start, scratch);
			skipping = false;
			start = end + 1;
			good = pos + (off_t)start;
		}
		pos += (off_t)start;
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == cap) { /* a line over 1 MiB: not one of ours */
			pos += (off_t)have;
			have = 0;
			skipping = true;
		}
	}
	free(buf);
	free(scratch);
	if (rc == 0) {
		off_t size = lseek(fd, 0, SEEK_END);
		if (size > good) { /* a torn last record: cut it off */
			r->torn = true;
			if (ftruncate(fd, good) < 0 || lseek(fd, good, SEEK_SET) < 0)
				rc = -errno;
		}
	}
	/* From now on records go to the end of FILE. */
	if (rc == 0 && (fcntl(fd, F_SETFL, O_APPEND) < 0 || dup2(fd, STDOUT_FILENO) < 0))
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * The line as the record writer spells it: invalid UTF-8 becomes U+FFFD
 * there, so the same here, or such a line would never match its record.
 */
bool resume_has(const struct resume *r, const char *line, size_t len)
{
	if (!r->done.n)
		return false;
	const unsigned char *s = (const unsigned char *)line;
	size_t i = 0;
	while (i < len && s[i] < 0x80)
		i++;
	if (i == len) /* ASCII, as nearly every URL is */
		return evc__seen_has(&r->done, evc__seen_fingerprint(line, len));
	char *out = malloc(len * 3 + 1);
	if (!out)
		return false;
	size_t n = 0;
	for (i = 0; i < len;) {
		size_t k = s[i] < 0x80 ? 1 : evc__utf8_len(s + i, len - i);
		if (k) {
			memcpy(out + n, s + i, k);
			n += k;
			i += k;
		} else {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	bool has = evc__seen_has(&r->done, evc__seen_fingerprint(out, n));
	free(out);
	return has;
}

void resume_free(struct resume *r)
{
	evc__seen_free(&r->done);
}
