/*  storemade.c - what a node's start made of a new store, and taking it
    back. See storemade.h.
*/
#include "storemade.h"
#include "dirsync.h"
#include "journal.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _storemade_t {
    char dir[PATH_MAX]; //  the data directory
    char top[PATH_MAX]; //  the topmost directory of its path that was missing, "" if none
    zhashx_t *names;    //  the names dir held, NULL when it was missing
};

//  True if path is missing (not merely unreadable).
static bool s_missing (const char *path)
{
    struct stat st;
    return stat (path, &st) != 0 && errno == ENOENT;
}

//  Copies the parent of path into parent (PATH_MAX bytes).
static void s_parent (const char *path, char *parent)
{
    char copy[PATH_MAX];
    snprintf (copy, sizeof copy, "%s", path);
    snprintf (parent, PATH_MAX, "%s", dirname (copy));
}

storemade_t *storemade_note (const char *dir)
{
    if (!dir || strlen (dir) >= PATH_MAX || journal_holds_store (dir))
        return NULL;
    storemade_t *self = calloc (1, sizeof (storemade_t));
    if (!self)
        return NULL;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    if (s_missing (dir)) {
        snprintf (self->top, sizeof self->top, "%s", dir);
        char parent[PATH_MAX];
        for (s_parent (self->top, parent); strcmp (parent, self->top) != 0 && s_missing (parent);
             s_parent (self->top, parent))
            snprintf (self->top, sizeof self->top, "%s", parent);
        return self;
    }
    DIR *handle = opendir (dir);
    self->names = handle ? zhashx_new () : NULL;
    if (!self->names) { //  journal_open will say why it cannot read dir
        if (handle)
            closedir (handle);
        free (self);
        return NULL;
    }
    struct dirent *entry;
    while ((entry = readdir (handle)))
        zhashx_insert (self->names, entry->d_name, self);
    closedir (handle);
    return self;
}

//  Removes the names of the directory that the note does not hold: all
//  of them for a directory that was missing. A directory among them goes
//  only if empty (nothing made there is one).
static void s_remove_new_names (storemade_t *self)
{
    DIR *handle = opendir (self->dir);
    zlist_t *made = handle ? zlist_new () : NULL;
    if (!made) {
        if (handle)
            closedir (handle);
        return;
    }
    zlist_autofree (made);
    struct dirent *entry; //  listed first: readdir is not told of removals
    while ((entry = readdir (handle)))
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0 &&
            !(self->names && zhashx_lookup (self->names, entry->d_name)))
            zlist_append (made, entry->d_name);
    closedir (handle);
    for (const char *name = zlist_first (made); name; name = zlist_next (made)) {
        char path[sizeof self->dir + 1 + NAME_MAX + 1];
        snprintf (path, sizeof path, "%s/%s", self->dir, name);
        if (unlink (path) != 0 && (errno == EISDIR || errno == EPERM))
            rmdir (path);
    }
    zlist_destroy (&made);
}

void storemade_undo (storemade_t **self_p)
{
    storemade_t *self = *self_p;
    if (!self)
        return;
    s_remove_new_names (self);
    if (!self->top[0])
        dirsync_sync (self->dir, NULL);
    else {
        //  From the data directory up to the topmost one made, each only
        //  if empty; the first one kept (or the parent of the topmost) is
        //  synced, its entry of the one removed below it gone for good.
        char path[PATH_MAX], parent[PATH_MAX];
        snprintf (path, sizeof path, "%s", self->dir);
        bool removed = rmdir (path) == 0;
        while (removed && strcmp (path, self->top) != 0) {
            s_parent (path, parent);
            snprintf (path, sizeof path, "%s", parent);
            removed = rmdir (path) == 0;
        }
        if (removed)
            s_parent (path, parent);
        dirsync_sync (removed ? parent : path, NULL);
    }
    storemade_destroy (self_p);
}

void storemade_destroy (storemade_t **self_p)
{
    storemade_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->names);
    free (self);
    *self_p = NULL;
}
