/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "macro.h"
#include "valid.h"

static bool all_chars_in(const char *s, const char *extra) {
        for (; *s; s++)
                if (!isascii((unsigned char) *s) || !(isalnum((unsigned char) *s) || strchr(extra, *s)))
                        return false;
        return true;
}

/* Machine names as systemd accepts them, tightened to what the spec allows: 1-64 characters of letters,
 * digits, "-", "_", ".", not starting with "." or "-", no "..", and (like systemd) no trailing ".". The one
 * rule for every command, helper and the generator: a name becomes a file name in several directories, so
 * nothing that could leave them ("/", "..") or be read as an option ("-") gets through. */
const char *machine_name_invalid_reason(const char *s) {
        size_t l;

        if (isempty(s))
                return "it is empty";
        l = strlen(s);
        if (l > 64)
                return "it is longer than 64 characters";
        if (!all_chars_in(s, "-_."))
                return "only ASCII letters, digits, \"-\", \"_\" and \".\" may be used";
        if (s[0] == '.' || s[0] == '-')
                return "it must not start with \".\" or \"-\"";
        if (s[l - 1] == '.')
                return "it must not end with \".\"";
        if (strstr(s, ".."))
                return "it must not contain \"..\"";
        return NULL;
}

bool machine_name_is_valid(const char *s) {
        return !machine_name_invalid_reason(s);
}

/* A base's key in the cache, "debian-bookworm-amd64-minbase-1a2b3c4d": one file name, never a path. */
bool cache_key_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 200 || !all_chars_in(s, "-_.+"))
                return false;
        return s[0] != '.' && s[0] != '-' && !strstr(s, "..");
}

/* RFC 1123 host names: dot-separated labels of letters, digits and "-", no label starting or ending in "-". */
bool hostname_is_valid(const char *s) {
        size_t label = 0;
        char prev = '.';

        if (isempty(s) || strlen(s) > 64)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (prev == '.' || prev == '-')
                                return false;
                        label = 0;
                } else if (isascii((unsigned char) *p) && (isalnum((unsigned char) *p) || *p == '-')) {
                        if (*p == '-' && prev == '.')
                                return false;
                        if (++label > 63)
                                return false;
                } else
                        return false;
                prev = *p;
        }
        return prev != '.' && prev != '-';
}

/* "foo.target", "foo@bar.service": a name and one of systemd's unit type suffixes, no path characters. */
bool unit_name_is_valid(const char *s) {
        static const char *const suffixes[] = {
                ".service", ".socket", ".device", ".mount", ".automount", ".swap",
                ".target",  ".path",   ".timer",  ".slice", ".scope",
        };
        const char *dot;

        if (isempty(s) || strlen(s) > 255)
                return false;
        if (!all_chars_in(s, ":-_.\\@"))
                return false;
        dot = strrchr(s, '.');
        if (!dot || dot == s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(dot, suffixes[i]))
                        return s[0] != '@';
        return false;
}

/* Debian policy 5.6.1: lower case letters, digits, "+", "-", "."; at least two characters, starting
 * alphanumeric. An ":arch" qualifier is allowed for foreign packages. */
bool package_name_is_valid(const char *s) {
        _cleanup_free_ char *name = NULL;
        const char *colon;

        if (isempty(s))
                return false;
        colon = strchr(s, ':');
        name = colon ? strndup(s, colon - s) : strdup(s);
        if (!name)
                return false;
        if (colon && !architecture_is_known(colon + 1) && !streq(colon + 1, "any") &&
            !streq(colon + 1, "native"))
                return false;
        if (strlen(name) < 2 || !isalnum((unsigned char) name[0]))
                return false;
        for (const char *p = name; *p; p++)
                if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || strchr("+-.", *p)))
                        return false;
        return true;
}

bool component_name_is_valid(const char *s) {
        return !isempty(s) && strlen(s) <= 64 && all_chars_in(s, "-_./") && s[0] != '/' && s[0] != '.';
}

/* What useradd accepts on Debian by default: starts with a letter or "_", then letters, digits, "_", "-",
 * "."; at most 32 characters; no all-numeric names. */
bool user_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 32)
                return false;
        if (!(isalpha((unsigned char) s[0]) || s[0] == '_'))
                return false;
        return all_chars_in(s, "_-.");
}

/* A debootstrap script name: lower case word, digits, "-", "_", ".". */
bool distribution_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 64 || !isalnum((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || strchr("-_.", *p)))
                        return false;
        return true;
}

bool release_name_is_valid(const char *s) {
        return distribution_name_is_valid(s);
}

bool sha256_hex_is_valid(const char *s) {
        if (!s || strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!isxdigit((unsigned char) *s))
                        return false;
        return true;
}

/* Debian architecture names for Linux: what "dpkg-architecture -L" lists without an OS prefix (dpkg's
 * tupletable with every cputable CPU for "<cpu>"); tests/unit/test-valid.c compares the two. */
static const char *const architectures[] = {
        "alpha",      "amd64",      "arc",       "arm",         "arm64",      "arm64ilp32", "armeb",
        "armel",      "armhf",      "avr32",     "hppa",        "i386",       "ia64",       "loong64",
        "m32r",       "m68k",       "mips",      "mips64",      "mips64el",   "mips64r6",   "mips64r6el",
        "mipsel",     "mipsn32",    "mipsn32el", "mipsn32r6",   "mipsn32r6el", "mipsr6",    "mipsr6el",
        "nios2",      "or1k",       "powerpc",   "powerpcel",   "powerpcspe", "ppc64",      "ppc64el",
        "riscv64",    "s390",       "s390x",     "sh3",         "sh3eb",      "sh4",        "sh4eb",
        "sparc",      "sparc64",    "tilegx",    "x32",
};

size_t architectures_known(const char *const **ret) {
        *ret = architectures;
        return ELEMENTSOF(architectures);
}

bool architecture_is_known(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(architectures); i++)
                if (streq(s, architectures[i]))
                        return true;
        return false;
}

const char *architecture_list(void) {
        static char buf[1024];
        size_t n = 0;

        if (!buf[0])
                for (size_t i = 0; i < ELEMENTSOF(architectures) && n < sizeof buf; i++)
                        n += snprintf(buf + n, sizeof buf - n, "%s%s", i > 0 ? " " : "", architectures[i]);
        return buf;
}

bool url_is_valid(const char *s, bool allow_file) {
        const char *rest;

        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!isgraph((unsigned char) *p))
                        return false;
        if ((rest = startswith(s, "http://")) || (rest = startswith(s, "https://")))
                return *rest && *rest != '/';
        if (allow_file && (rest = startswith(s, "file://")))
                return rest[0] == '/' && rest[1];
        return false;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

int parse_timespan_sec(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                { "", 1 },         { "s", 1 },      { "sec", 1 },       { "m", 60 },    { "min", 60 },
                { "h", 3600 },     { "hour", 3600 }, { "d", 86400 },    { "day", 86400 }, { "days", 86400 },
                { "w", 604800 },   { "week", 604800 }, { "weeks", 604800 },
        };
        uint64_t total = 0;
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        /* a sum of parts, "1d 12h" */
        while (*p) {
                char *end;
                unsigned long long v;
                size_t n;
                bool found = false;

                p += strspn(p, " ");
                if (!*p)
                        break;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                errno = 0;
                v = strtoull(p, &end, 10);
                if (errno != 0)
                        return -EINVAL;
                n = strcspn(end, " 0123456789");
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].suffix) == n && strncmp(end, units[i].suffix, n) == 0) {
                                if (v > (UINT64_MAX - total) / units[i].factor)
                                        return -ERANGE;
                                total += v * units[i].factor;
                                found = true;
                                break;
                        }
                if (!found)
                        return -EINVAL;
                p = end + n;
        }
        *ret = total;
        return 0;
}
