/*
 * dnslookup: many DNS lookups at once, like adnshost or massdns in miniature.
 *
 *   dnslookup [--server IP:PORT[,IP:PORT...]] [--timeout MS] [NAME...]
 *
 * Names come from the arguments, or from stdin (one per line) when there are
 * none. All lookups are started at once on one evcrawl loop (c-ares
 * underneath, no thread per lookup); answers are printed in input order as
 * soon as every earlier name has its answer:
 *
 *   h01.test 127.0.0.1
 *   multi.test 127.0.0.2 127.0.0.3
 *   nx.test error: Domain name not found
 *
 * Exit status: 0 when every name resolved, 1 when any did not, 2 on a usage
 * or setup error.
 *
 * What it shows: the loop and the resolver without the crawler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evcrawl/evcrawl.h>

struct lookup {
	char *name;
	char *answer; /* "addr addr ..." or "error: ...", NULL while pending */
	int failed;
	struct app *app;
};

struct app {
	evc_loop_t *loop;
	struct lookup *l;
	size_t n, printed, pending;
};

/* "127.0.0.1 ::1 ..." for an answer; the caller frees it. */
static char *format_addrs(const evc_addrs_t *addrs)
{
	size_t cap = (size_t)addrs->count * (INET6_ADDRSTRLEN + 1) + 1, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (unsigned i = 0; i < addrs->count; i++) {
		const evc_sockaddr_t *a = &addrs->addr[i];
		const void *bytes = a->sa.sa_family == AF_INET6 ? (const void *)&a->in6.sin6_addr
								: (const void *)&a->in4.sin_addr;
		if (len)
			s[len++] = ' ';
		if (!inet_ntop(a->sa.sa_family, bytes, s + len, (socklen_t)(cap - len)))
			strcpy(s + len, "?");
		len += strlen(s + len);
	}
	return s;
}

/* Print every finished lookup that is next in input order. */
static void print_ready(struct app *a)
{
	while (a->printed < a->n && a->l[a->printed].answer) {
		struct lookup *l = &a->l[a->printed++];
		printf("%s %s\n", l->name, l->answer);
	}
	fflush(stdout);
}

/* One answer. addrs is borrowed: what we keep of it is copied as text. */
static void on_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct lookup *l = arg;
	struct app *a = l->app;
	if (status == 0) {
		l->answer = format_addrs(addrs);
	} else {
		l->failed = 1;
		size_t n = strlen(errmsg) + sizeof "error: ";
		if ((l->answer = malloc(n)))
			snprintf(l->answer, n, "error: %s", errmsg);
	}
	if (!l->answer) { /* out of memory: still report the name */
		l->failed = 1;
		l->answer = strdup("error: out of memory");
	}
	print_ready(a);
	/* c-ares may keep its sockets open for a while; we are done now. */
	if (--a->pending == 0)
		evc_loop_stop(a->loop);
}

static int add_name(struct app *a, const char *name, size_t *cap)
{
	if (a->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		struct lookup *l = realloc(a->l, *cap * sizeof *l);
		if (!l)
			return -1;
		a->l = l;
	}
	a->l[a->n] = (struct lookup){.name = strdup(name), .app = a};
	return a->l[a->n++].name ? 0 : -1;
}

static int read_names(struct app *a, int argc, char **argv, int first)
{
	size_t cap = 0;
	for (int i = first; i < argc; i++)
		if (add_name(a, argv[i], &cap) < 0)
			return -1;
	if (first < argc)
		return 0;
	char *line = NULL;
	size_t len = 0;
	ssize_t n;
	while ((n = getline(&line, &len, stdin)) >= 0) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] && line[0] != '#' && add_name(a, line, &cap) < 0) {
			free(line);
			return -1;
		}
	}
	free(line);
	return ferror(stdin) ? -1 : 0;
}

static void free_names(struct app *a)
{
	for (size_t k = 0; k < a->n; k++) {
		free(a->l[k].name);
		free(a->l[k].answer);
	}
	free(a->l);
}

int main(int argc, char **argv)
{
	evc_resolver_opts_t ro = {0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 < argc && strcmp(argv[i], "--server") == 0) {
			ro.servers = argv[i + 1];
		} else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0) {
			ro.timeout_ms = (unsigned)atoi(argv[i + 1]);
		} else {
			fprintf(stderr, "usage: dnslookup [--server IP:PORT] [--timeout MS] "
					"[NAME...]\n");
			return 2;
		}
	}

	struct app a = {0};
	if (read_names(&a, argc, argv, i) < 0) {
		perror("dnslookup: reading names");
		free_names(&a);
		return 2;
	}
	evc_resolver_t *r = NULL;
	int rc = evc_loop_new(&a.loop, NULL);
	if (rc == 0) {
		rc = evc_resolver_new(&r, a.loop, &ro);
		if (rc < 0)
			evc_loop_free(a.loop);
	}
	if (rc < 0) {
		if (rc == -EINVAL && ro.servers)
			fprintf(stderr, "dnslookup: bad --server '%s'\n", ro.servers);
		else
			fprintf(stderr, "dnslookup: cannot start: %s\n", evc_strerror(rc));
		free_names(&a);
		return 2;
	}

	/* Every lookup starts now; callbacks come later, from the loop. */
	for (size_t k = 0; k < a.n; k++) {
		rc = evc_resolve(r, a.l[k].name, 0, on_resolved, &a.l[k], NULL);
		if (rc < 0) {
			a.l[k].failed = 1;
			a.l[k].answer = strdup("error: out of memory");
		} else {
			a.pending++;
		}
	}
	print_ready(&a); /* in case every lookup failed to start */
	if (a.pending > 0) {
		rc = evc_loop_run(a.loop, EVC_RUN_DEFAULT);
		if (rc < 0)
			fprintf(stderr, "dnslookup: loop failed: %s\n", evc_strerror(rc));
	}

	int failed = rc < 0;
	for (size_t k = 0; k < a.n; k++)
		failed |= a.l[k].failed;
	free_names(&a);
	evc_resolver_free(r);
	evc_loop_free(a.loop);
	return failed ? 1 : 0;
}
