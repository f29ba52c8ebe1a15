/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <limits.h>
#include <strings.h>

#include "alloc-util.h"
#include "distro-info.h"
#include "strv.h"

void distro_release_done(DistroRelease *r) {
        free(r->distribution);
        free(r->codename);
        free(r->version);
        *r = (DistroRelease) {};
}

static int distro_release_copy(const DistroRelease *from, DistroRelease *ret) {
        DistroRelease d = *from;

        d.distribution = strdup(from->distribution);
        d.codename = strdup(from->codename);
        d.version = from->version ? strdup(from->version) : NULL;
        if (!d.distribution || !d.codename || (from->version && !d.version)) {
                distro_release_done(&d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

typedef struct Row {
        char *version, *series;
        char created[11], release[11], eol[11];
} Row;

/* The end-of-life columns that say how long a release stays on its distribution's regular mirrors, most
 * telling first; a row takes the first one it has a date in. Debian's LTS is served from the regular
 * mirrors, its ELTS ("eol-elts") from a separate, third-party archive: so eol-lts, not eol-elts. Ubuntu keeps
 * an LTS release on archive.ubuntu.com through ESM and Legacy support (their extra packages come from
 * esm.ubuntu.com) and moves it to old-releases only after those end. */
static const char *const eol_columns[] = { "eol-legacy", "eol-esm", "eol-lts", "eol" };

typedef struct Columns {
        int eol[ELEMENTSOF(eol_columns)]; /* -1: no such column */
} Columns;

/* The header names the columns: find the end-of-life ones by name, as their number varies by distribution. */
static void parse_header(const char *line, Columns *ret) {
        Columns c;
        const char *p = line;

        for (size_t i = 0; i < ELEMENTSOF(eol_columns); i++)
                c.eol[i] = -1;
        for (int idx = 0;; idx++) {
                size_t n = strcspn(p, ",\r\n");
                for (size_t i = 0; i < ELEMENTSOF(eol_columns); i++)
                        if (strlen(eol_columns[i]) == n && strncmp(p, eol_columns[i], n) == 0)
                                c.eol[i] = idx;
                p += n;
                if (*p != ',')
                        break;
                p++;
        }
        *ret = c;
}

static void rows_free(Row *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(rows[i].version);
                free(rows[i].series);
        }
        free(rows);
}

/* Splits one CSV line of distro-info-data (no quoting is used there) into its fields. */
static int parse_row(const char *line, const Columns *cols, Row *ret) {
        _cleanup_strv_free_ char **f = NULL;
        const char *p = line;
        Row row = {};
        int r;

        f = calloc(1, sizeof(char *));
        if (!f)
                return -ENOMEM;
        for (;;) {
                size_t n = strcspn(p, ",\r\n");
                char *v = strndup(p, n);
                if (!v)
                        return -ENOMEM;
                r = strv_push(&f, v);
                if (r < 0)
                        return r;
                p += n;
                if (*p != ',')
                        break;
                p++;
        }
        if (strv_length(f) < 4 || isempty(f[2]))
                return -EBADMSG;

        row.version = strdup(f[0]);
        row.series = strdup(f[2]);
        if (!row.version || !row.series) {
                free(row.version);
                free(row.series);
                return -ENOMEM;
        }
        snprintf(row.created, sizeof row.created, "%s", f[3]);
        snprintf(row.release, sizeof row.release, "%s", strv_length(f) > 4 ? f[4] : "");
        for (size_t i = 0; i < ELEMENTSOF(cols->eol); i++)
                if (cols->eol[i] >= 0 && (size_t) cols->eol[i] < strv_length(f) && !isempty(f[cols->eol[i]])) {
                        snprintf(row.eol, sizeof row.eol, "%s", f[cols->eol[i]]);
                        break;
                }
        *ret = row;
        return 0;
}

static int load_rows_uncached(const char *dir, const char *distribution, Row **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t sz = 0, n = 0, allocated = 0;
        Row *rows = NULL;
        bool header = true;
        Columns cols;

        parse_header("", &cols);

        if (asprintf(&path, "%s/%s.csv", dir, distribution) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ENOENT : negative_errno();

        for (;;) {
                Row row;
                int r;

                errno = 0;
                if (getline(&line, &sz, f) < 0) {
                        /* the end, or a read that failed: never a list of releases cut short */
                        if (!ferror(f) && errno != ENOMEM)
                                break;
                        r = errno > 0 ? -errno : -EIO;
                        rows_free(rows, n);
                        return r;
                }
                if (header) { /* "version,codename,series,created,release,eol,..." */
                        header = false;
                        parse_header(line, &cols);
                        continue;
                }
                r = parse_row(line, &cols, &row);
                if (r == -ENOMEM) {
                        rows_free(rows, n);
                        return r;
                }
                if (r < 0)
                        continue; /* not a row of releases */
                if (GREEDY_REALLOC(rows, allocated, n + 1) < 0) {
                        free(row.version);
                        free(row.series);
                        rows_free(rows, n);
                        return -ENOMEM;
                }
                rows[n++] = row;
        }

        *ret = rows;
        *ret_n = n;
        return 0;
}

/* The generator resolves a release for every machine: read each CSV once per process. The cache owns the
 * rows; callers borrow them. */
static struct {
        char *dir, *distribution;
        Row *rows;
        size_t n;
} row_cache[4];

static int load_rows(const char *dir, const char *distribution, const Row **ret, size_t *ret_n) {
        size_t slot = ELEMENTSOF(row_cache);
        Row *rows;
        size_t n;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(row_cache); i++) {
                if (row_cache[i].dir && streq(row_cache[i].dir, dir) && streq(row_cache[i].distribution, distribution)) {
                        *ret = row_cache[i].rows;
                        *ret_n = row_cache[i].n;
                        return 0;
                }
                if (!row_cache[i].dir && slot == ELEMENTSOF(row_cache))
                        slot = i;
        }

        r = load_rows_uncached(dir, distribution, &rows, &n);
        if (r < 0)
                return r;
        if (slot == ELEMENTSOF(row_cache)) { /* full: evict the oldest */
                free(row_cache[0].dir);
                free(row_cache[0].distribution);
                rows_free(row_cache[0].rows, row_cache[0].n);
                memmove(row_cache, row_cache + 1, sizeof(row_cache[0]) * (ELEMENTSOF(row_cache) - 1));
                slot = ELEMENTSOF(row_cache) - 1;
        }
        row_cache[slot].dir = strdup(dir);
        row_cache[slot].distribution = strdup(distribution);
        if (!row_cache[slot].dir || !row_cache[slot].distribution) {
                free(row_cache[slot].dir);
                free(row_cache[slot].distribution);
                row_cache[slot].dir = row_cache[slot].distribution = NULL;
                rows_free(rows, n);
                return -ENOMEM;
        }
        row_cache[slot].rows = rows;
        row_cache[slot].n = n;
        *ret = rows;
        *ret_n = n;
        return 0;
}

static void parse_version(const char *v, unsigned *major, unsigned *minor) {
        char *end;
        unsigned long a, b = 0;

        *major = *minor = UINT_MAX;
        if (isempty(v) || !isdigit((unsigned char) v[0]))
                return;
        a = strtoul(v, &end, 10);
        if (*end == '.')
                b = strtoul(end + 1, NULL, 10);
        *major = (unsigned) a;
        *minor = (unsigned) b;
}

/* "22.04 LTS" is "22.04"; Debian's point releases ("12.5") name their major release. */
static bool version_matches(const Row *row, const char *release) {
        size_t n = strcspn(row->version, " ");
        unsigned ma, mi, ra, ri;

        if (n == 0)
                return false;
        if (strlen(release) == n && strncmp(row->version, release, n) == 0)
                return true;
        if (strchr(row->version, '.') || !isdigit((unsigned char) release[0]))
                return false;
        parse_version(row->version, &ma, &mi);
        parse_version(release, &ra, &ri);
        return ma != UINT_MAX && ma == ra && strspn(release, "0123456789.") == strlen(release);
}

/* "2024-06-30" as the start of that day (UTC); 0 for none or garbage. */
static time_t parse_date(const char *s) {
        struct tm tm = {};
        const char *end;

        if (isempty(s))
                return 0;
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end)
                return 0;
        return timegm(&tm);
}

static bool is_released(const Row *row, const char *today) {
        return row->release[0] && strcmp(row->release, today) <= 0;
}

/* Debian's suite aliases, computed from release dates as of today. */
static const Row *resolve_alias(const Row *rows, size_t n, const char *alias, const char *today) {
        const Row *released[3] = {};
        const Row *testing = NULL;

        for (size_t i = 0; i < n; i++) {
                if (streq(rows[i].series, "sid") || streq(rows[i].series, "experimental"))
                        continue;
                if (is_released(rows + i, today)) {
                        /* rows are in release order: shift the window of the three newest */
                        released[2] = released[1];
                        released[1] = released[0];
                        released[0] = rows + i;
                } else if (!testing && strcmp(rows[i].created, today) <= 0)
                        testing = rows + i;
        }

        if (streq(alias, "stable"))
                return released[0];
        if (streq(alias, "oldstable"))
                return released[1];
        if (streq(alias, "oldoldstable"))
                return released[2];
        if (streq(alias, "testing"))
                return testing;
        return NULL;
}

int distro_release_resolve(const char *dir, const char *distribution, const char *release, time_t now,
                           DistroRelease *ret, char **ret_known) {
        const Row *rows = NULL, *hit = NULL;
        size_t n = 0;
        char today[32];
        struct tm tm;
        int r;

        if (isempty(distribution) || isempty(release))
                return -EINVAL;

        r = load_rows(dir, distribution, &rows, &n);
        if (r < 0)
                return r;

        /* A thousand machines of one release ask the same question: answer the last one from memory. */
        static struct {
                const Row *rows;
                char *release;
                time_t day;
                DistroRelease result;
        } memo;
        if (memo.rows == rows && memo.day == now / 86400 && streq_ptr(memo.release, release))
                return distro_release_copy(&memo.result, ret);

        gmtime_r(&now, &tm);
        snprintf(today, sizeof today, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);

        for (size_t i = 0; i < n && !hit; i++)
                if (strcasecmp(rows[i].series, release) == 0)
                        hit = rows + i;
        for (size_t i = 0; i < n && !hit; i++)
                if (version_matches(rows + i, release))
                        hit = rows + i;
        if (!hit && streq(distribution, "debian")) {
                if (streq(release, "unstable")) {
                        for (size_t i = 0; i < n && !hit; i++)
                                if (streq(rows[i].series, "sid"))
                                        hit = rows + i;
                } else
                        hit = resolve_alias(rows, n, release, today);
        }

        if (!hit) {
                if (ret_known) {
                        _cleanup_strv_free_ char **l = NULL;
                        for (size_t i = 0; i < n; i++)
                                if (strv_extend(&l, rows[i].series) < 0)
                                        return -ENOMEM;
                        *ret_known = strv_join(l, " ");
                        if (!*ret_known)
                                return -ENOMEM;
                }
                return -ESRCH;
        }

        DistroRelease d = {
                .distribution = strdup(distribution),
                .codename = strdup(hit->series),
                .version = isempty(hit->version) ? NULL : strndup(hit->version, strcspn(hit->version, " ")),
                .released = is_released(hit, today),
        };
        parse_version(d.version, &d.major, &d.minor);
        d.end_of_life = parse_date(hit->eol);
        if (!d.distribution || !d.codename || (!d.version && !isempty(hit->version))) {
                distro_release_done(&d);
                return -ENOMEM;
        }

        distro_release_done(&memo.result);
        free(memo.release);
        memo.rows = NULL;
        memo.release = strdup(release);
        if (memo.release && distro_release_copy(&d, &memo.result) >= 0) {
                memo.rows = rows;
                memo.day = now / 86400;
        }

        *ret = d;
        return 0;
}

int distro_release_compare_version(const DistroRelease *a, unsigned major, unsigned minor) {
        if (a->major != major)
                return a->major < major ? -1 : 1;
        if (a->minor != minor)
                return a->minor < minor ? -1 : 1;
        return 0;
}
