/*  fuzz_fields.c - libFuzzer target: the CLI's field parsing
    (transport/client.c client_fields) over arbitrary argv strings: the
    input is split at NUL bytes into at most 32 arguments.

    Properties: a success is one well-formed msgpack map of argc pairs; a
    failure sets a NUL-terminated message and returns no map.
*/
#include "client.h"
#include "mpread.h"
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap ();                                                                     \
    } while (0)

#define ARGS_MAX 32

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = 0;
    char *argv[ARGS_MAX];
    int argc = 0;
    for (char *arg = text; argc < ARGS_MAX && arg <= text + size; arg += strlen (arg) + 1)
        argv[argc++] = arg;
    uint8_t *map = NULL;
    size_t map_size = 0;
    char error[256];
    error[sizeof error - 1] = 'x';
    if (client_fields (argc, argv, &map, &map_size, error, sizeof error) == 0) {
        size_t offset = 0;
        uint64_t pairs = 0;
        CHECK (mpread_check (map, map_size, MPREAD_DEPTH_ANY) == 0);
        CHECK (mpread_map (map, map_size, &offset, &pairs) == 0 && pairs == (uint64_t) argc);
        free (map);
    } else
        CHECK (memchr (error, 0, sizeof error));
    free (text);
    return 0;
}
