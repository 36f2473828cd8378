/*  storecopy.h - a private copy of a stopped node's store, for a reader
    that must leave the store as it found it (`shoal check`).

    Opening a LevelDB store writes to it: its log becomes a table, a new
    MANIFEST is written and the old one deleted, and shoal's journal adds
    its marks. A check must not change what it checks (it may be the
    evidence of a fault, or on a read-only disk), so it opens a copy:

    - the copy is a directory inside the store, DIR/.shoal-check-XXXXXX
      (the same file system, so no second copy of the data);
    - LevelDB's table files (*.ldb, *.sst) never change once written:
      they are hard links where the file system allows, else copies;
      every other file of the store is copied; LevelDB's LOCK and info
      logs are not;
    - while the copy lives, the store's LOCK is held as LevelDB holds it
      (an fcntl lock), read-only: a node running on the store makes
      storecopy_new fail with SHOAL_EBUSY, and a node cannot start on it
      until the copy is destroyed;
    - each copy's directory is flock'ed while it lives: a copy a killed
      reader left behind in DIR (its hard links keep tables the store has
      dropped) is removed by the next storecopy_new, or by the node's
      start (storecopy_remove_stale), and one another reader of the same
      store uses (two checks share the LOCK's read lock) is left alone;
    - a copy that cannot be made in DIR (read-only, full) is made under
      $TMPDIR, every file copied; a store file that is a link to a file
      elsewhere is copied. Every storecopy_new removes the copies there
      that no reader uses any more (of any store: a killed check's is a
      whole store's size).

    Threads: one object, one thread.
*/
#ifndef SHOAL_STORECOPY_H
#define SHOAL_STORECOPY_H

typedef struct _storecopy_t storecopy_t;

//  Copies the store in dir. Returns the copy, or NULL with *code (a
//  SHOAL_E… code: EBUSY a process holds the store, EIO a file could not
//  be read or written) and *error (to free with free(), naming dir).
storecopy_t *storecopy_new (const char *dir, int *code, char **error);

//  As storecopy_new, in the store's directory only (tables linked, no
//  second copy of the data): SHOAL_EIO where it cannot be made there. For
//  a look at a store that must not cost a copy of it elsewhere (a node's
//  start).
storecopy_t *storecopy_new_linked (const char *dir, int *code, char **error);

//  The copy's directory, to open; borrowed for the copy's life.
const char *storecopy_path (const storecopy_t *self);

//  message with each mention of the copy's directory replaced by the
//  store's, or NULL for NULL; frees message. The caller frees the result
//  with free(). So an error of a reader of the copy names the store.
char *storecopy_unname (const storecopy_t *self, char *message);

//  Removes the copies in dir that no reader uses any more. For a process
//  that holds the store (a node at its start). Can't fail.
void storecopy_remove_stale (const char *dir);

//  Removes the copy and lets go of the store's LOCK. Safe to call twice.
void storecopy_destroy (storecopy_t **self_p);

#endif
