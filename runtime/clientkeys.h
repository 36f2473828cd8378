/*  clientkeys.h - the keys a cluster node's client endpoint takes, as its
    clients/ and operators/ directories hold them at one moment: an
    immutable set of Z85 public keys, each with its place (a client's, an
    operator's), and a one-slot box to hand a newer set to another thread.

    The authenticator (auth.c) reads the directories again when they
    change (clientkeys_stale: at each handshake and once a second), judges
    handshakes by its own set and posts a copy to the front (front_keys.c),
    which takes the newest at its next client message and judges every
    message by it: a key removed from both directories is refused on the
    connections it opened, and an operator moved to clients/ loses its
    acts, within about a second and without a restart.

    A set is read by one thread at a time: the one that holds it. The box
    moves sets between threads (an atomic exchange: the poster gives one
    up, the taker owns it); it holds at most one, the newest, and a set
    posted over one not yet taken destroys the older.
*/
#ifndef CLIENTKEYS_H_INCLUDED
#define CLIENTKEYS_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CLIENTKEYS_NONE,    //  in neither directory
    CLIENTKEYS_CLIENT,  //  in clients/ alone
    CLIENTKEYS_OPERATOR //  in operators/ (or in clients/ of a node without operators/)
} clientkeys_place_t;

typedef struct _clientkeys_t clientkeys_t;

#define CLIENTKEYS_NAME_MAX 63 //  bytes of a certificate's name (clientkeys_name)

//  The box between the authenticator and the front: zero-initialized is
//  empty.
typedef struct {
    _Atomic (clientkeys_t *) newest; //  posted, not yet taken; NULL: none
} clientkeys_box_t;

//  Reads the certificates (czmq's zcert files) of clients_dir and
//  operators_dir: the regular files named NAME.cert right in each (not
//  hidden, not in a subdirectory, as zcertstore would read them: one moved
//  aside is taken back; each other entry is warned of). operators_dir NULL, or a directory that
//  is not there and was not in before (the set read last, NULL at the
//  start; warned of): the node has none, and every key of clients_dir is
//  an operator's. An operators_dir that is there but cannot be read, or
//  gone since before had it, makes no client an operator (warned of). A
//  directory that is missing or cannot be read holds no key. The paths
//  are borrowed and must outlive the set and its copies. Returns NULL out
//  of memory.
clientkeys_t *clientkeys_load (const char *clients_dir, const char *operators_dir,
                               const clientkeys_t *before);

//  True if either directory changed since self was read: an entry added,
//  removed, renamed, or written again (its ctime, which neither cp -p nor
//  touch sets back, to the nanosecond). Known limit: the kernel's clock
//  for file times moves in ticks of a few ms, so a file written again
//  within a tick of its read, in place and to the same size, is seen at
//  the next change. Reads both directories' entries (a stat each), no
//  certificate.
bool clientkeys_stale (const clientkeys_t *self);

//  A copy of self, to post. NULL out of memory.
clientkeys_t *clientkeys_dup (const clientkeys_t *self);

//  Where the key public_txt (40 characters of Z85) is in self; NONE for
//  any other text, or for self NULL. O(log n), no allocation.
clientkeys_place_t clientkeys_place (const clientkeys_t *self, const char *public_txt);

//  The name of the certificate that holds the key public_txt in self:
//  its file's name without .cert ("ana" for operators/ana.cert), each
//  byte but printable ASCII as '?', at most CLIENTKEYS_NAME_MAX bytes;
//  the operator's file where the key is in both directories. Borrowed
//  from self; NULL if self holds no such key.
const char *clientkeys_name (const clientkeys_t *self, const char *public_txt);

//  How many keys self holds.
size_t clientkeys_count (const clientkeys_t *self);

void clientkeys_destroy (clientkeys_t **self_p);

//  Puts *keys_p in box, for another thread to take; *keys_p becomes NULL.
//  A set posted before and not taken is destroyed. Can't fail.
void clientkeys_post (clientkeys_box_t *box, clientkeys_t **keys_p);

//  The set posted last, now the caller's, or NULL if none was posted
//  since the last take. Cheap when none was: one atomic load.
clientkeys_t *clientkeys_take (clientkeys_box_t *box);

#endif
