/* ct-attack's two surfaces (attack.h): the probe's one report line, the
 * hunt's steps and facts; and the markers both look for. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack.h"
#include "report.h"

#define MAX_MARKER 512

static char *markers[MAX_MARKERS];
static size_t marker_len[MAX_MARKERS];
static int n_markers;
static size_t max_len = 1;

static long total_hits;
static unsigned long total_bytes;
static char refusal[64]; /* the probe's first refused step */
static int refusal_err;
static char items[64 * 1024];
static size_t items_len;
static char facts[8 * 1024];
static size_t facts_len;

const char *ename(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "errno?";
}

void step(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!attack.hunt)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("{\"step\":\"%s\"}\n", msg);
	fflush(stdout);
}

void item(const char *fmt, ...)
{
	va_list ap;

	if (!attack.hunt || items_len + 512 > sizeof(items))
		return;
	va_start(ap, fmt);
	items_len += snprintf(items + items_len, sizeof(items) - items_len, "%s{",
			      items_len ? "," : "");
	items_len += vsnprintf(items + items_len, sizeof(items) - items_len, fmt, ap);
	items_len += snprintf(items + items_len, sizeof(items) - items_len, "}");
	va_end(ap);
}

void fact(const char *fmt, ...)
{
	va_list ap;

	if (!attack.hunt || facts_len + 1024 > sizeof(facts))
		return;
	facts[facts_len++] = ',';
	va_start(ap, fmt);
	facts_len += vsnprintf(facts + facts_len, sizeof(facts) - facts_len, fmt, ap);
	va_end(ap);
}

const char *per_marker(const struct scanner *sc)
{
	static char out[MAX_MARKERS * 24];
	size_t len = 0;

	out[len++] = '[';
	for (int m = 0; m < n_markers; m++)
		len += snprintf(out + len, sizeof(out) - len, "%s%ld", m ? "," : "", sc->per[m]);
	snprintf(out + len, sizeof(out) - len, "]");
	return out;
}

void item_err(const char *what_failed, int err)
{
	item("\"what\":\"%s\",\"err\":\"%s\"", what_failed, ename(err));
}

void refused(const char *what_failed, int err)
{
	item_err(what_failed, err);
	if (!refusal[0]) {
		snprintf(refusal, sizeof(refusal), "%s", what_failed);
		refusal_err = err;
	}
}

void took(unsigned long bytes, long hits)
{
	total_bytes += bytes;
	total_hits += hits;
}

int finish(void)
{
	if (attack.hunt) {
		printf("{\"vector\":\"%s\",\"pid\":%d,\"hits\":%ld,\"items\":[%s]%s}\n",
		       attack.vector, (int)attack.pid, total_hits, items, facts);
		return 0;
	}
	what = attack.vector;
	pid = attack.pid;
	if (refusal[0])
		return report_err(refusal, refusal_err);
	return report_result((long)total_bytes, total_hits > 0);
}

/* "hex:" + an even number of hex digits: those bytes (a binary marker,
 * such as a private key's scalar); returns their count, or 0. */
static size_t hex_marker(const char *line, size_t n, unsigned char *out)
{
	if (n < 6 || (n - 4) % 2 || strncmp(line, "hex:", 4) != 0)
		return 0;
	for (size_t i = 4; i < n; i += 2) {
		unsigned v;

		if (sscanf(line + i, "%2x", &v) != 1)
			return 0;
		out[(i - 4) / 2] = (unsigned char)v;
	}
	return (n - 4) / 2;
}

void read_markers(void)
{
	char line[MAX_MARKER + 2];

	if (!attack.hunt) {
		markers[0] = MARK;
		marker_len[0] = max_len = strlen(MARK);
		n_markers = 1;
		return;
	}
	while (n_markers < MAX_MARKERS && fgets(line, sizeof(line), stdin)) {
		size_t n = strcspn(line, "\n");

		if (n == 0)
			continue;
		unsigned char bytes[MAX_MARKER / 2];
		size_t b = hex_marker(line, n, bytes);

		if (b) {
			markers[n_markers] = malloc(b);
			if (markers[n_markers])
				memcpy(markers[n_markers], bytes, b);
			explicit_bzero(bytes, sizeof(bytes));
			n = b;
		} else {
			markers[n_markers] = strndup(line, n);
		}
		if (!markers[n_markers])
			break;
		marker_len[n_markers] = n;
		if (n > max_len)
			max_len = n;
		n_markers++;
	}
	explicit_bzero(line, sizeof(line));
}

/* Markers that end in the last `n` bytes of p[0..tail+n), added to per[]. */
static long count_new(const unsigned char *p, size_t tail, size_t n, long *per)
{
	size_t len = tail + n;
	long hits = 0;

	for (int m = 0; m < n_markers; m++) {
		const unsigned char *s = p, *end = p + len;
		size_t ml = marker_len[m];

		while ((size_t)(end - s) >= ml) {
			const unsigned char *h = memmem(s, end - s, markers[m], ml);

			if (!h)
				break;
			if ((size_t)(h - p) + ml > tail) {
				hits++;
				per[m]++;
			}
			s = h + 1;
		}
	}
	return hits;
}

void feed(struct scanner *sc, const void *data, size_t n)
{
	static unsigned char window[CHUNK + MAX_MARKER];

	while (n > 0) {
		size_t take = n < CHUNK ? n : CHUNK;
		size_t len, keep;

		memcpy(window + sc->tail, data, take);
		sc->hits += count_new(window, sc->tail, take, sc->per);
		sc->bytes += take;
		len = sc->tail + take;
		keep = max_len - 1 < len ? max_len - 1 : len;
		memmove(window, window + len - keep, keep);
		sc->tail = keep;
		data = (const unsigned char *)data + take;
		n -= take;
	}
}
