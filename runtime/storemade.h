/*  storemade.h - what a node's start made of a new store, so that a start
    refused after the store was made (an endpoint taken, a projection
    thread that cannot start; `shoal node` loads its modules before the
    store is opened, shoal_node_options_t.before_open) can take it back
    and leave the data directory as it found it (shoal_node_discard).

    Contract: a note is taken before journal_open, only of a data
    directory that is missing or empty (nothing but . and ..): then
    everything in it after journal_open is the store's, and the undo may
    remove it all. A directory that holds anything else (a user's files,
    lost+found, a store) is never noted, and nothing in it is ever
    removed: a start refused there leaves the store it made (and LevelDB
    renames a file named LOG there to LOG.old, as at any open).

    The note works by handle, not by path: it opens the deepest directory
    of the path that is there, storemade_made opens the ones journal_open
    made below it (O_NOFOLLOW) and checks that the data directory's path
    still leads to the same directory, and the undo removes only through
    those handles (unlinkat), each made directory only if it is still the
    one opened (same st_dev and st_ino) and empty. A relative path, a
    module that calls chdir, a rename or a symlink swapped in after
    storemade_made send nothing elsewhere.

    The undo runs under the store's lock: it takes the fcntl write lock on
    DIR/LOCK that LevelDB takes (journal_repair.c takes it too), removes
    every other name, then LOCK while it still holds it. If another
    process holds the lock (a start that came in when the node closed the
    store), nothing is removed, and the log says so. Known limits: a file
    another program puts in the directory between the note and the undo
    goes too; so does one put there between the check that it is empty
    and journal_open.

    The note must be destroyed before the node serves anything: a store
    that acknowledged a write is never removed (shoal_node_start destroys
    it, shoal_node_run asserts it).

    Threads: the node's (the thread that made it).
*/
#ifndef STOREMADE_H_INCLUDED
#define STOREMADE_H_INCLUDED

typedef struct _storemade_t storemade_t;

//  Notes dir before a store may be made there: opens the deepest
//  directory of its path that is there. Returns the note, or NULL when
//  dir is there and not empty, cannot be read or opened, its missing part
//  names . or .., or when out of memory: then there is nothing to undo.
storemade_t *storemade_note (const char *dir);

//  Tells the note that journal_open made a store in dir (the path given
//  to storemade_note, from the same working directory): opens the
//  directories it made below the noted one, without following symlinks,
//  and checks that dir leads to the same directory. If it cannot, there
//  is no telling where the store went: destroys the note (nothing will be
//  undone). Nothing to do for NULL.
void storemade_made (storemade_t **self_p, const char *dir);

//  Removes the store's CURRENT file. The caller still holds the store
//  open (LevelDB's lock): a node started on the directory from now on
//  refuses what is left as a damaged store instead of opening one about
//  to go. Nothing to do for NULL or before storemade_made.
void storemade_drop_current (storemade_t *self);

//  Removes what the start made, the caller having closed the store: under
//  the store's lock, every name in the data directory (a directory only
//  if empty), LOCK last; then the directories journal_open made, from the
//  data directory up, each only if empty and still the one made. Syncs
//  the directories it changed. Skips all of it if another process holds
//  the lock. Then destroys the note. Nothing to do for NULL.
void storemade_undo (storemade_t **self_p);

//  Forgets the note (the start went well, or made nothing), closing its
//  handles. Safe to call twice.
void storemade_destroy (storemade_t **self_p);

#endif
