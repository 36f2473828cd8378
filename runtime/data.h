/*  data.h - the insides of shoal_data_t (a parsed msgpack map that a
    handler reads fields from) and shoal_rec_t (a msgpack map being built).
    Internal to the runtime. Objects belong to the thread that made them.
*/
#ifndef DATA_H_INCLUDED
#define DATA_H_INCLUDED

#include "shoal.h"
#include <msgpack.h>

//  A data parsed by data_init. Nested views (shoal_data_map) are not this
//  struct: a `const shoal_data_t *` handed to a module points at a
//  msgpack_object of type MAP, either object below (its first member) or
//  one inside it; a `const shoal_array_t *` points at one of type ARRAY.
//  shoal_array_t is never defined: the pointer is only converted back.
struct _shoal_data_t {
    msgpack_object object;     //  the parsed map, in the thread's zone; first
    const msgpack_object *map; //  &object, or NULL when empty
    bool holds_zone;           //  counted among the zone's users
};

//  A container opened inside a rec, its header patched when it ends.
typedef struct {
    size_t header;  //  offset of its 32-bit header in buffer
    uint32_t count; //  pairs (map) or values (array) written
    uint32_t map;   //  a map's number, as rec_key_t has it
    bool is_array;  //  values take no key
} rec_open_t;

//  A key written into one of a rec's maps, kept so that no map is given a
//  key twice: that is misuse (SHOAL_EINVAL, rec_misuse names the key).
typedef struct {
    uint64_t id;     //  the map's number (0: the rec itself, then 1, 2... as they were
                     //  opened) above a 32-bit hash of the key: keys of one id may be equal
    uint32_t offset; //  where the key's bytes are in buffer
    uint32_t len;    //  bytes of the key
} rec_key_t;

struct _shoal_rec_t {
    msgpack_sbuffer buffer;                 //  map32 header (count patched at finish) + pairs
    uint32_t count;                         //  pairs written in the top map
    int error;                              //  what finishing now fails with: the first
                                            //  failure, or SHOAL_EINVAL while open > 0
    int failed;                             //  sticky: first failure, 0 if none
    const char *misuse;                     //  what the first failure was, static text
    int open;                               //  containers open inside the top map
    rec_open_t stack[SHOAL_DATA_DEPTH - 1]; //  open containers, innermost last
    uint32_t maps;                          //  maps opened inside the top map
    rec_key_t *keys;                        //  every key written in a map, owned
    uint32_t key_count;                     //  keys written
    uint32_t key_max;                       //  room in keys
    uint32_t *table;                        //  past a few keys, their indexes by id, owned
    uint32_t table_size;                    //  slots of table in use, a power of two
    uint32_t table_max;                     //  slots table has room for
    uint32_t table_keys;                    //  keys the table holds (the first ones)
    char twice[96];                         //  misuse's text for a key written twice
    bool sealed;                            //  rec_seal: writes fail, and are counted
    uint32_t late;                          //  writes tried since the seal
    uint32_t *late_sink;                    //  counts them too, if not NULL (rec_seal's)
};

//  Parses bytes (a msgpack map; NULL/0 = empty map). The bytes must
//  outlive data: its strings point into them. Returns 0, SHOAL_EFORMAT or SHOAL_ENOMEM (then data
//  reads as empty). Every data_init, failed or not, needs its data_close. Parsed objects live in
//  one arena per thread (a msgpack zone, freed when the thread ends), emptied whenever no data of
//  the thread is open: no allocation per message once it has grown.
int data_init (shoal_data_t *self, const uint8_t *bytes, size_t size);
//  As data_init, for bytes this process encoded itself (rec_finish's, not
//  read from the disk or the network): without the walk that bounds a
//  container's header before msgpack-c sizes it.
int data_init_own (shoal_data_t *self, const uint8_t *bytes, size_t size);
void data_close (shoal_data_t *self);

//  Starts an empty map. Can't fail (allocates on first write).
void rec_init (shoal_rec_t *self);
//  Empties the map, keeping its memory.
void rec_reset (shoal_rec_t *self);
void rec_close (shoal_rec_t *self);
//  Seals a rec once finished and copied: every later write fails (as
//  after a misuse) and is counted, in the rec and in *late_sink (may be
//  NULL), so that its owner can tell that fields meant for it went
//  nowhere (viewrecs.h). rec_reset unseals it.
void rec_seal (shoal_rec_t *self, uint32_t *late_sink);
//  Frees what self holds (as rec_close), keeping it usable: a sealed rec
//  of a large pool gives its memory back until rec_reset reuses it.
void rec_release (shoal_rec_t *self);
//  Swaps the memory of a and b (their buffers and key tables), not what
//  they hold: a rec about to be reset takes a sealed one's warm buffers.
void rec_swap_memory (shoal_rec_t *a, shoal_rec_t *b);
//  True if a write was tried into self after its seal.
bool rec_written_late (const shoal_rec_t *self);
//  Patches the count and returns the encoded map, borrowed until the next
//  write, reset or close. NULL if a write failed (then *size is 0).
const uint8_t *rec_finish (shoal_rec_t *self, size_t *size);
//  What was wrong with what was written, for a turn's or an apply's
//  reason ("a field written wrongly with shoal_rec_*: a NULL string"),
//  while error is set; NULL when nothing was or out of memory. Borrowed
//  until the next write, reset or close.
const char *rec_misuse (const shoal_rec_t *self);
//  True the first time it is called for (owner, what) in this process,
//  false after: a misuse a module repeats on every turn or query (a key
//  written twice in its snapshot or view) is logged once per type, not
//  per turn. owner is an actor type; what is a short static word of what
//  misused it ("snapshot", "view"), compared by pointer. Lock-free: any
//  thread. Known limit: holds 256 pairs, and false past them; one process
//  for all its nodes.
bool rec_misuse_once (const void *owner, const char *what);
//  Appends pre-encoded msgpack bytes as the value of key.
void rec_raw (shoal_rec_t *self, const char *key, const uint8_t *value, size_t size);

#endif
