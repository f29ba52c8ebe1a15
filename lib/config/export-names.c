/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "export-names.h"
#include "macro.h"

static bool char_is_name(char c, const char *extra) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != 0 && strchr(extra, c));
}

bool desktop_id_is_valid(const char *s) {
        size_t n;

        if (isempty(s) || s[0] == '.' || s[0] == '-' || strstr(s, ".."))
                return false;
        n = strlen(s);
        if (n > 200)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!char_is_name(s[i], "_-.+"))
                        return false;
        return true;
}

bool export_bin_path_is_valid(const char *s) {
        size_t n;

        if (isempty(s) || s[0] != '/')
                return false;
        n = strlen(s);
        if (n > 1024)
                return false;
        for (const char *p = s + 1;;) {
                size_t k = strcspn(p, "/");
                if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (size_t i = 0; i < k; i++)
                        if (!char_is_name(p[i], "_-.+@"))
                                return false;
                if (!p[k])
                        return true;
                p += k + 1;
        }
}
