/* Request bytes: the fixed header block, and one request line + Host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evcrawl/error.h"
#include "http/request.h"

bool evc__header_name_ok(const char *name, size_t len)
{
	/* RFC 9110 token characters. */
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

struct header {
	const char *name;
	size_t name_len;
	const char *value; /* NULL: removed */
	size_t value_len;
};

/* Set (or remove, value NULL) a header in the list, replacing one of the
 * same name. */
static void set_header(struct header *list, size_t *n, const char *name, size_t name_len,
		       const char *value, size_t value_len)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i].name_len == name_len &&
		    strncasecmp(list[i].name, name, name_len) == 0) {
			list[i].name = name; /* the user's spelling */
			list[i].value = value;
			list[i].value_len = value_len;
			return;
		}
	}
	list[(*n)++] = (struct header){name, name_len, value, value_len};
}

int evc__request_headers(char **out, const char *user_agent, const char *const *headers,
			 bool compressed, const char **bad)
{
	size_t nuser = 0;
	while (headers && headers[nuser])
		nuser++;
	struct header *list = calloc(nuser + 4, sizeof *list);
	if (!list)
		return -ENOMEM;
	size_t n = 0;
	char ua[64];
	if (!user_agent) {
		snprintf(ua, sizeof ua, "evcrawl/%s", evc_version());
		user_agent = ua;
	}
	if (strpbrk(user_agent, "\r\n")) { /* no header injection through -A */
		if (bad)
			*bad = user_agent;
		free(list);
		return -EINVAL;
	}
	set_header(list, &n, "User-Agent", 10, user_agent, strlen(user_agent));
	set_header(list, &n, "Accept", 6, "*/*", 3);
	if (compressed)
		set_header(list, &n, "Accept-Encoding", 15, "gzip, deflate, br, zstd", 23);
	set_header(list, &n, "Connection", 10, "keep-alive", 10);

	for (size_t i = 0; i < nuser; i++) {
		const char *h = headers[i], *colon = strchr(h, ':');
		size_t name_len = colon ? (size_t)(colon - h) : 0;
		if (!colon || !evc__header_name_ok(h, name_len) || strpbrk(h, "\r\n") ||
		    (name_len == 4 && strncasecmp(h, "Host", 4) == 0)) {
			if (bad)
				*bad = h;
			free(list);
			return -EINVAL;
		}
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vlen = strlen(v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		set_header(list, &n, h, name_len, vlen ? v : NULL, vlen);
	}

	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += list[i].name_len + list[i].value_len + 4;
	char *block = malloc(total), *p = block;
	if (!block) {
		free(list);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!list[i].value)
			continue;
		memcpy(p, list[i].name, list[i].name_len);
		p += list[i].name_len;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, list[i].value, list[i].value_len);
		p += list[i].value_len;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p = '\0';
	free(list);
	*out = block;
	return 0;
}

static char *put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

int evc__request_build(char *buf, size_t cap, const char *method, const struct evc__url *u,
		       const char *fixed, size_t fixed_len, const struct evc__request_extra *x)
{
	static const struct evc__request_extra none;
	if (!x)
		x = &none;
	char host[300], clen[80] = "";
	size_t host_len = evc__url_host_header(u, host, sizeof host);
	const char *target = x->absolute ? u->href : u->target;
	size_t mlen = strlen(method), tlen = strlen(target);
	size_t lines_len = x->lines ? strlen(x->lines) : 0;
	if (x->body)
		snprintf(clen, sizeof clen, "Content-Length: %zu\r\n%s%s%s", x->body_len,
			 x->ctype ? "Content-Type: " : "", x->ctype ? x->ctype : "",
			 x->ctype ? "\r\n" : "");
	size_t clen_len = strlen(clen);
	size_t need = mlen + 1 + tlen + 11 + 6 + host_len + 2 + fixed_len + lines_len + clen_len +
		      2 + (x->body ? x->body_len : 0);
	if (host_len >= sizeof host || need > cap)
		return EVC_ETOOLARGE;
	char *p = put(buf, method, mlen);
	*p++ = ' ';
	p = put(p, target, tlen);
	p = put(p, " HTTP/1.1\r\nHost: ", 17);
	p = put(p, host, host_len);
	p = put(p, "\r\n", 2);
	p = put(p, fixed, fixed_len);
	p = put(p, x->lines ? x->lines : "", lines_len);
	p = put(p, clen, clen_len);
	p = put(p, "\r\n", 2);
	if (x->body)
		p = put(p, x->body, x->body_len);
	return (int)(p - buf);
}
