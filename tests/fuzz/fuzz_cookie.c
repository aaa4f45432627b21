/*
 * libFuzzer harness for src/crawl/cookies.c. The payload's lines are
 * Set-Cookie values received from one of a few URLs (the option byte
 * picks which, line by line), or, with bit 7 of OPTS, a cookie file to
 * load. Then: every Cookie header built for the URLs must be "name=value"
 * pairs joined by "; " with no control character; the jar never holds more
 * than its limit; a jar written to a file and read back writes the same
 * file again. Built and run by `make fuzz`.
 *
 * OPTS: bits 0-1 the first URL, bit 6 the file round trip (slow: it
 * writes and fsyncs a file), bit 7 the payload is a cookie file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "crawl/cookies.h"
#include "fuzz_split.h"
#include "util/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const urls[] = {"http://www.example.co.uk/dir/page",
				   "https://a.b.example.com/x/y/z?q=1", "http://127.0.0.1:8080/",
				   "https://co.uk/"};
#define NURLS (sizeof urls / sizeof urls[0])

/* A Cookie header as it must look. */
static void check_header(const char *h, size_t len)
{
	FUZZ_CHECK(strlen(h) == len);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)h[i] >= 0x20 && h[i] != 0x7f);
	const char *p = h;
	while (*p) {
		size_t n = strcspn(p, ";");
		FUZZ_CHECK(memchr(p, '=', n) && p[0] != '=');
		p += n;
		if (*p) {
			FUZZ_CHECK(p[1] == ' ');
			p += 2;
		}
	}
}

/* The jar written to a file (in a private temporary directory); its text. */
static char *saved(evc_cookie_jar_t *jar, const char *path)
{
	FUZZ_CHECK(evc_cookie_jar_save(jar, path) == 0);
	FILE *f = fopen(path, "r");
	FUZZ_CHECK(f != NULL);
	char *text = NULL;
	size_t cap = 0;
	FUZZ_CHECK(getdelim(&text, &cap, '\0', f) >= 0 || feof(f));
	fclose(f);
	return text;
}

static char dir[64], path[96];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/evc-fuzz-cookie.XXXXXX");
		FUZZ_CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof path, "%s/jar.txt", dir);
		atexit(remove_dir);
	}
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	data++, size--;
	evc_cookie_jar_t *jar;
	FUZZ_CHECK(evc_cookie_jar_new(&jar) == 0);
	struct evc__url u[NURLS];
	for (size_t i = 0; i < NURLS; i++)
		FUZZ_CHECK(evc__url_parse(&u[i], urls[i], strlen(urls[i])) == 0);
	int64_t now = (int64_t)time(NULL);

	if (opts & 0x80) { /* a cookie file, through a memfd */
		int fd = memfd_create("cookies", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
		char fdpath[64];
		snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
		unsigned bad;
		FUZZ_CHECK(evc_cookie_jar_load(jar, fdpath, &bad) == 0);
		close(fd);
	} else { /* Set-Cookie lines, each from the next URL */
		size_t k = opts & 3;
		for (size_t at = 0; at < size;) {
			const uint8_t *nl = memchr(data + at, '\n', size - at);
			size_t n = nl ? (size_t)(nl - (data + at)) : size - at;
			char *line = malloc(n + 1); /* exactly its size: ASan sees overreads */
			memcpy(line, data + at, n);
			line[n] = '\0';
			int rc = evc__cookies_set(jar, &u[k++ % NURLS], line, n, now);
			FUZZ_CHECK(rc >= EVC__COOKIE_NOMEM && rc <= EVC__COOKIE_DELETED);
			free(line);
			at += n + 1;
		}
	}
	FUZZ_CHECK(evc_cookie_jar_count(jar) <= EVC__COOKIES_MAX);
	char h[16384];
	for (size_t i = 0; i < NURLS; i++)
		check_header(h, evc__cookies_header(jar, &u[i], now, h, sizeof h));

	/* Written, read back, written again: the same file (unless the clock
	 * moved on meanwhile, which may expire a cookie). */
	if (!(opts & 0x40))
		goto done;
	char *first = saved(jar, path);
	evc_cookie_jar_t *again;
	FUZZ_CHECK(evc_cookie_jar_new(&again) == 0);
	unsigned bad;
	FUZZ_CHECK(evc_cookie_jar_load(again, path, &bad) == 0);
	FUZZ_CHECK(bad == 0);
	char *second = saved(again, path);
	if ((int64_t)time(NULL) == now)
		FUZZ_CHECK(strcmp(first, second) == 0);
	free(first);
	free(second);
	evc_cookie_jar_free(again);
done:
	for (size_t i = 0; i < NURLS; i++)
		evc__url_free(&u[i]);
	evc_cookie_jar_free(jar);
	return 0;
}
