/*
 * Exclude filter: an ordered list of gitignore(5) patterns, deciding which
 * paths below a watched root are left out.
 *
 * The syntax and the matching are git's: a pattern without a slash (other
 * than a trailing one) matches a name at any depth, a leading or middle
 * slash anchors it, a trailing slash restricts it to directories, "*", "?",
 * "[...]" and "**" are globs, "!" re-includes, and the last matching rule
 * decides. Where git's own implementation departs from the manual page in
 * corner cases, the filter follows the implementation (git 2.39), so that
 * `git check-ignore` and vigil agree.
 *
 * Everything that can be worked out from a pattern alone is worked out when
 * it is added, so that vigil__filter_excluded, which runs for every entry of
 * every scanned directory, neither allocates nor parses.
 */
#ifndef VIGIL_FILTER_H
#define VIGIL_FILTER_H

#include <stddef.h>

typedef struct vigil__filter vigil__filter;

/* Creates an empty filter, which excludes nothing. Returns NULL on ENOMEM. */
vigil__filter *vigil__filter_new(void);

/* Frees the filter and every rule it holds. NULL is a no-op. */
void vigil__filter_free(vigil__filter *f);

/*
 * Adds one line of gitignore syntax as the newest rule.
 *
 * base is the directory, relative to the watched root and without leading
 * or trailing '/', that the pattern is relative to ("" or NULL for the root
 * itself): this is how a nested .gitignore in "sub/dir" is added. Such a
 * rule applies only to paths below "sub/dir/" and sees only the rest of the
 * path. Stray leading or trailing slashes in base are ignored. Git consults
 * a deeper .gitignore before a shallower one, so add the lines of a parent
 * directory's file before those of its subdirectories' files.
 *
 * The line may end in "\n" or "\r\n", which is dropped as git does when it
 * reads a file; so is a lone trailing "\r", as left by splitting a file at
 * "\n" only. A UTF-8 byte order mark is not skipped: strip it from the
 * first line of a file before passing that line. Blank lines, lines of
 * nothing but spaces and lines starting with '#' are accepted and add
 * nothing.
 *
 * Returns 0, -ENOMEM, or VIGIL_EPATTERN for a malformed pattern: an
 * unterminated "[" class, an unknown "[:name:]" class, a trailing lone
 * backslash, or a pattern that is empty once its "!", its leading '/' and
 * its trailing '/' are taken off ("!", "/", "!/", "//"). Git accepts these
 * silently but they can never match anything, so they are almost certainly
 * mistakes. A pattern longer than 65535 bytes, a NULL line and a line with
 * a line break inside are malformed too; a NULL filter gives -EINVAL. On
 * any error the filter is unchanged.
 */
int vigil__filter_add(vigil__filter *f, const char *line, const char *base);

/*
 * Decides whether a path is excluded.
 *
 * relpath is the path relative to the root, with no leading '/' and its
 * components joined by single '/', and len is its length in bytes (it need
 * not be NUL-terminated at len). is_dir says whether the entry is a
 * directory (a symbolic link to one is not). Returns 1 if the path is
 * excluded and 0 if not; an empty path and a NULL filter exclude nothing.
 *
 * The rules are tried newest first and the first that matches decides: an
 * ordinary rule excludes, a "!" rule includes. The caller guarantees that no
 * parent directory of relpath is excluded: excluded directories are pruned
 * and never descended into, which is also why git cannot re-include a file
 * whose directory is excluded. Matching is case-sensitive and byte-wise,
 * like git with core.ignoreCase off.
 *
 * The call does not allocate and only reads the filter, so threads may share
 * a filter that is no longer being added to. Its time is linear in the path
 * length for literal patterns, and for globs at most proportional to the
 * product of pattern and path lengths, whatever the pattern.
 */
int vigil__filter_excluded(const vigil__filter *f, const char *relpath, size_t len, int is_dir);

/*
 * The same decision with the "no rule matched" case told apart: returns 1
 * if the deciding rule excludes, 0 if it re-includes ("!"), -1 if no rule
 * matches. A caller that layers filters (the caller's own patterns over
 * ignore files) uses this to let a higher layer decide first.
 */
int vigil__filter_match(const vigil__filter *f, const char *relpath, size_t len, int is_dir);

/* Returns the number of rules held; blank lines and comments are not rules. */
size_t vigil__filter_count(const vigil__filter *f);

#endif /* VIGIL_FILTER_H */
