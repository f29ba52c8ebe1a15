/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "diag.h"

/* [User] ExportApps= and ExportBins=: a machine's applications and programs on the host, for its user.
 *
 * Apps: the machine's desktop entries (and their icons) go, under their own desktop file IDs, into a
 * directory of the machine's own, STATE_DIR/export/NAME/share/{applications,icons}, which a file in the
 * user's ~/.config/environment.d/ appends to XDG_DATA_DIRS. Not renamed copies in ~/.local/share: the IDs
 * stay the apps' own, so that a Wayland compositor matches the app ID the app reports with its entry and
 * icon. Every Exec= becomes "machinespawn enter NAME -- ..." (the user, in the machine, started if needed).
 *
 * Bins: a wrapper script per program in the user's ~/.local/bin.
 *
 * machinespawn-prepare rewrites all of it at each start from the .mspawn as it is then, and removes what a
 * key no longer names; machine removal removes everything (STATE_DIR/export/NAME/exported lists what was
 * put in the user's home). A file in the home that machinespawn did not write is never touched. */

/* Pure: the desktop entry text of the machine, rewritten for the host. Only the [Desktop Entry] and
 * [Desktop Action ...] groups and the keys of the specification are kept (what a launcher on the host
 * would act on otherwise, such as X-KDE-SubstituteUID, is dropped, and so are TryExec=, DBusActivatable=
 * and URL=); Exec= gets "LAUNCHER enter MACHINE -- " in front; an Icon= that is an absolute path becomes
 * icon_dir/BASENAME. *ret_icon gets the original Icon= of [Desktop Entry] (a name or a path in the
 * machine), or NULL. -EBADMSG for text that is not a desktop entry: a NUL, a control character, invalid
 * UTF-8, a line that is neither comment, group nor key=value, a first group other than [Desktop Entry], a
 * Type= other than Application. */
int desktop_entry_rewrite(const char *text, size_t size, const char *launcher, const char *machine,
                          const char *icon_dir, char **ret, char **ret_icon);

/* Pure: the wrapper script that runs path in the machine with the arguments it was given. Every word is
 * single-quoted for sh. */
int export_wrapper_text(const char *launcher, const char *machine, const char *path, char **ret);
/* Quotes s for sh: 'it'\''s'. */
char *shell_quote(const char *s);

/* Whether text is a file machinespawn wrote for this machine (a wrapper or the environment.d file). */
bool export_file_is_ours(const char *text, const char *machine);

typedef struct ExportUser {
        const char *name;
        const char *home;
        uid_t uid;
        gid_t gid;
} ExportUser;

typedef struct ExportPaths {
        const char *state_dir; /* /var/lib/machinespawn: export/NAME below it */
        const char *launcher;  /* BIN_DIR/machinespawn */
} ExportPaths;

/* Rewrites the exports of machine name (its tree open at root_fd, or -1 when there is none yet) for user
 * (NULL: no [User], everything exported before is removed). Missing apps and programs are warnings in d;
 * a file in the home that is not ours is a warning and stays. */
int export_sync(const ExportPaths *p, const char *name, int root_fd, const ExportUser *user, char **apps,
                char **bins, Diagnostics *d);

/* Everything exported for machine name. */
int export_remove(const char *state_dir, const char *name, Diagnostics *d);
