/*  fuzz_mpread.c - libFuzzer target: common/mpread.c, the bounds-checked
    msgpack reader, over arbitrary bytes.

    Properties: every reader stays inside the buffer (offsets never pass
    size, borrowed bytes lie inside data); a failed read leaves the offset
    alone; mpread_check agrees with a walk of mpread_next.
*/
#include "mpread.h"
#include <stddef.h>
#include <stdint.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap ();                                                                     \
    } while (0)

static void s_inside (const uint8_t *data, size_t size, const uint8_t *bytes, size_t len)
{
    CHECK (len == 0 || (bytes >= data && len <= size && bytes - data <= (ptrdiff_t) (size - len)));
}

//  Walks every element with mpread_next. Returns true if the walk read
//  exactly one whole element (all containers filled) and nothing after it.
static bool s_walk (const uint8_t *data, size_t size)
{
    size_t offset = 0;
    uint64_t pending = 1; //  elements still to read
    while (pending > 0) {
        mpread_item_t item;
        size_t before = offset;
        if (mpread_next (data, size, &offset, &item) != 0) {
            CHECK (offset == before);
            return false;
        }
        CHECK (offset > before && offset <= size);
        pending--;
        if (item.kind == MPREAD_STR || item.kind == MPREAD_BIN || item.kind == MPREAD_EXT)
            s_inside (data, size, item.data, item.len);
        else if (item.kind == MPREAD_ARRAY || item.kind == MPREAD_MAP) {
            //  A count is checked against the bytes left after its header.
            uint64_t elements = item.kind == MPREAD_MAP ? 2 * item.count : item.count;
            CHECK (elements <= size - offset);
            pending += elements;
        }
    }
    return offset == size;
}

static void s_readers (const uint8_t *data, size_t size)
{
    size_t offset = 0;
    uint64_t u;
    int64_t i;
    bool b;
    const uint8_t *bytes;
    size_t len;
    while (offset < size) {
        size_t before = offset;
        if (mpread_uint (data, size, &offset, UINT64_MAX, &u) == 0 ||
            mpread_int (data, size, &offset, INT64_MIN, INT64_MAX, &i) == 0 ||
            mpread_bool (data, size, &offset, &b) == 0 ||
            mpread_array (data, size, &offset, &u) == 0 ||
            mpread_map (data, size, &offset, &u) == 0)
            CHECK (offset > before && offset <= size);
        else if (mpread_str (data, size, &offset, &bytes, &len) == 0 ||
                 mpread_bin (data, size, &offset, &bytes, &len) == 0) {
            CHECK (offset > before && offset <= size);
            s_inside (data, size, bytes, len);
        } else if (mpread_map_span (data, size, &offset, 8, &bytes, &len) == 0) {
            CHECK (offset > before && offset <= size);
            s_inside (data, size, bytes, len);
        } else if (mpread_skip (data, size, &offset, MPREAD_DEPTH_ANY) != 0) {
            CHECK (offset == before);
            break;
        }
        CHECK (offset <= size);
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    bool whole = s_walk (data, size);
    CHECK (whole == (mpread_check (data, size, MPREAD_DEPTH_ANY) == 0));
    mpread_check (data, size, 0);
    mpread_check (data, size, 3);
    mpread_check (data, size, MPREAD_DEPTH_MAX);
    mpread_is_map (data, size, 32);
    size_t offset = 0;
    if (mpread_skip (data, size, &offset, MPREAD_DEPTH_ANY) == 0)
        CHECK (offset > 0 && offset <= size);
    s_readers (data, size);
    return 0;
}
