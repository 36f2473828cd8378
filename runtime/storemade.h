/*  storemade.h - what a node's start made of a new store, so that a start
    refused after the store was made (a module that fails, an option for
    no module, an endpoint taken) can take it back and leave the data
    directory as it found it (shoal_node_discard).

    Contract: a note is taken before journal_open, of a directory that
    holds no store: the topmost directory of its path that is missing
    (journal_open makes it and those below), or the names the directory
    holds. Undoing it removes only names that are not in the note, and
    only directories it noted as missing, each only if empty. A directory
    that held a store is never noted, so nothing of a store that was there
    before is ever removed. Known limit: a file another program puts in
    the directory between the note and the undo goes too.

    Threads: the node's (the thread that made it).
*/
#ifndef STOREMADE_H_INCLUDED
#define STOREMADE_H_INCLUDED

typedef struct _storemade_t storemade_t;

//  Notes what dir holds now, before a store may be made there. Returns
//  the note, or NULL when dir holds a store (or the remains of one, which
//  journal_open refuses) or when out of memory: then there is nothing to
//  undo.
storemade_t *storemade_note (const char *dir);

//  Removes what was made since the note: in the directory, every name the
//  note does not hold (files; a directory only if empty), then the
//  directories the note found missing, from the data directory up, each
//  only if empty; syncs what it changed. The caller has closed the store.
//  Then destroys the note. Nothing to do for NULL.
void storemade_undo (storemade_t **self_p);

//  Forgets the note (the start went well, or made nothing). Safe to call
//  twice.
void storemade_destroy (storemade_t **self_p);

#endif
