/*  fuzz_data.c - libFuzzer target: a handler's field data (runtime/data.c)
    over arbitrary bytes: data_init, then every shoal_data_* reader on each
    key the map holds and on a few it does not.

    Properties: a string read fits the buffer given and is NUL-terminated;
    data_close after any data_init, failed or not, leaks nothing.
*/
#include "data.h"
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap ();                                                                     \
    } while (0)

static void s_read_key (const shoal_data_t *data, const char *key)
{
    int64_t i;
    bool b;
    char small[4], big[256];
    shoal_data_int (data, key, &i);
    shoal_data_bool (data, key, &b);
    memset (small, 'x', sizeof small);
    if (shoal_data_str (data, key, small, sizeof small) == 0)
        CHECK (memchr (small, 0, sizeof small));
    if (shoal_data_str (data, key, big, sizeof big) == 0)
        CHECK (memchr (big, 0, sizeof big));
    shoal_data_str (data, key, big, 0);
    shoal_data_has (data, key);
}

int LLVMFuzzerTestOneInput (const uint8_t *bytes, size_t size)
{
    shoal_data_t data;
    data_init (&data, bytes, size);
    if (data.map) {
        const msgpack_object_map *map = &data.map->via.map;
        for (uint32_t i = 0; i < map->size && i < 64; i++) {
            const msgpack_object *k = &map->ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            char key[128];
            size_t len = k->via.str.size < sizeof key - 1 ? k->via.str.size : sizeof key - 1;
            if (len)
                memcpy (key, k->via.str.ptr, len);
            key[len] = 0;
            s_read_key (&data, key);
        }
    }
    s_read_key (&data, "");
    s_read_key (&data, "amount");
    s_read_key (NULL, "amount");
    data_close (&data);
    return 0;
}
