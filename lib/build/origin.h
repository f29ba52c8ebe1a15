/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What a machine was built from, as recorded in state_dir/NAME.origin: one "key=value" a line. The first
 * line is "base=KEY" or "image=URL" (what "machinespawn list" shows), then "created=EPOCH", "format=2",
 * "tree=DEV:INO" (the tree this record belongs to, followed across renames), "distribution=", "release="
 * (the codename), "architecture=", "variant=", "packages=" (as the .mspawn listed them), "unlisted=" (packages
 * installed from Packages= that it no longer lists, left in the machine), one "release-declared=" (an alias
 * as written), "hook=run:SHA256" or "hook=copy:SHA256" per Run= or Copy= done. A record without "format="
 * was written before these fields were. */
typedef struct Origin {
        char *base, *image, *created, *tree;
        char *distribution, *release, *architecture, *variant;
        char *release_declared; /* Release= as written ("stable"), when it differs from the codename */
        char **packages;
        char **unlisted; /* once in Packages=, no longer, still installed */
        char **hooks;
        bool legacy;
} Origin;

void origin_done(Origin *o);

/* Unknown keys are skipped (a newer machinespawn may have written them); -EBADMSG for a line without "=". */
int origin_parse(const char *text, Origin *ret);
int origin_format(const Origin *o, char **ret);

/* A change of a key that needs a new tree. */
typedef struct OriginChange {
        const char *key; /* "Release=" */
        const char *old_value, *new_value; /* borrowed from the two records; "" for none */
} OriginChange;

typedef struct OriginDiff {
        OriginChange blocking[5];
        size_t n_blocking;
        char **added;    /* packages to install in place (not those unlisted before: they are still there) */
        char **removed;  /* packages no longer listed since the record was written */
        char **unlisted; /* the record's unlisted ones that are still not listed again (not in removed) */
        const char *alias_moved; /* Release= names an alias that now means another release: a warning */
} OriginDiff;

void origin_diff_done(OriginDiff *d);

/* built: the record; wanted: what the .mspawn says now, in the same terms (release resolved to a codename,
 * architecture and variant to their defaults). Pure. */
int origin_diff(const Origin *built, const Origin *wanted, OriginDiff *ret);

/* "Release= changed from bookworm to trixie: machine NAME cannot follow it in place; apply it with
 * \"machinespawn rebuild NAME\" (Keep= lists what it carries over) or set RebuildOnChange=yes." */
char *origin_change_message(const OriginChange *c, const char *name);

/* "run:HEX" or "copy:HEX": the SHA-256 of the hook's text. */
char *hook_id(const char *kind, const char *text);

/* The entries of hooks (in order) that the record has not seen done: new ones and changed ones. */
int hooks_pending(const Origin *o, const char *kind, char **hooks, char ***ret);

/* "DEV:INO" of the directory at path (never through a link): which tree a record belongs to. */
int origin_tree_id(const char *path, char **ret);

/* Reads a record; -ENOENT when there is none. */
int origin_read(const char *path, Origin *ret);
int origin_write(const char *path, const Origin *o);

/* Whether the record at path names the directory tree: 1 yes, 0 no (or no record), -errno when that cannot
 * be told (then nothing may be moved on a guess). */
int origin_matches_tree(const char *path, const char *tree);
