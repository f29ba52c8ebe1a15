/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Names [User] ExportApps= and ExportBins= accept. Both end up as file names on the host, so the sets are
 * narrow on purpose. */

/* A desktop file ID as found directly in share/applications/ ("org.gnome.Calculator", with or without
 * ".desktop"): ASCII letters, digits, "_", "-", "." and "+"; not starting with "." or "-"; no "..";
 * at most 200 characters. */
bool desktop_id_is_valid(const char *s);

/* An absolute path of a program in the machine ("/usr/bin/htop"): components of ASCII letters, digits,
 * "_", "-", ".", "+" and "@", none of them "." or "..", no empty ones, at most 1024 characters. Its last
 * component names the wrapper on the host. */
bool export_bin_path_is_valid(const char *s);
