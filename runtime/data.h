/*  data.h - the insides of shoal_data_t (a parsed msgpack map that a
    handler reads fields from) and shoal_rec_t (a msgpack map being built).
    Internal to the runtime. Objects belong to the thread that made them.
*/
#ifndef DATA_H_INCLUDED
#define DATA_H_INCLUDED

#include "shoal.h"
#include <msgpack.h>

struct _shoal_data_t {
    msgpack_object object;     //  the parsed map, in the thread's zone
    const msgpack_object *map; //  &object, or NULL when empty
    bool holds_zone;           //  counted among the zone's users
};

struct _shoal_rec_t {
    msgpack_sbuffer buffer; //  map32 header (count patched at finish) + pairs
    uint32_t count;         //  pairs written
    int error;              //  sticky: first failure, 0 if none
};

//  Parses bytes (a msgpack map; NULL/0 = empty map). The bytes must
//  outlive data: its strings point into them. Returns 0, SHOAL_EFORMAT or SHOAL_ENOMEM (then data
//  reads as empty). Every data_init, failed or not, needs its data_close. Parsed objects live in
//  one arena per thread (a msgpack zone, freed when the thread ends), emptied whenever no data of
//  the thread is open: no allocation per message once it has grown.
int data_init (shoal_data_t *self, const uint8_t *bytes, size_t size);
void data_close (shoal_data_t *self);

//  Starts an empty map. Can't fail (allocates on first write).
void rec_init (shoal_rec_t *self);
//  Empties the map, keeping its memory.
void rec_reset (shoal_rec_t *self);
void rec_close (shoal_rec_t *self);
//  Patches the count and returns the encoded map, borrowed until the next
//  write, reset or close. NULL if a write failed (then *size is 0).
const uint8_t *rec_finish (shoal_rec_t *self, size_t *size);
//  Appends pre-encoded msgpack bytes as the value of key.
void rec_raw (shoal_rec_t *self, const char *key, const uint8_t *value, size_t size);

#endif
