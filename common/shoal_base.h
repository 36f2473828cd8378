/*  shoal_base.h - what every layer of shoal shares, and modules see through
    shoal.h: the error codes, the limits of addresses and names, and their
    checks. It depends on nothing else of shoal.

    Conventions: functions return 0 or a negative SHOAL_E... code, named by
    shoal_strerror. Everything here is thread-safe.
*/
#ifndef SHOAL_BASE_H_INCLUDED
#define SHOAL_BASE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The public API is exported from the shoal binary to the modules it
//  loads; everything else is built with hidden visibility.
#define SHOAL_EXPORT __attribute__ ((visibility ("default")))

#define SHOAL_VERSION_STRING "0.1.0"

//  Error codes, defined once. X (name, value, text)
#define SHOAL_ERRORS(X)                                                                            \
    X (SHOAL_EINVAL, -1, "invalid argument")                                                       \
    X (SHOAL_ENOMEM, -2, "out of memory")                                                          \
    X (SHOAL_ECONFLICT, -3, "expected version does not match the stream")                          \
    X (SHOAL_ENOTFOUND, -4, "not found")                                                           \
    X (SHOAL_ETYPE, -5, "field has the wrong type")                                                \
    X (SHOAL_EFORMAT, -6, "malformed record")                                                      \
    X (SHOAL_EVERSION, -7, "unsupported format version")                                           \
    X (SHOAL_ETOOBIG, -8, "too big")                                                               \
    X (SHOAL_EADDRESS, -9, "invalid address")                                                      \
    X (SHOAL_EIO, -10, "storage error")                                                            \
    X (SHOAL_EBUSY, -11, "in use by another process")                                              \
    X (SHOAL_EREJECTED, -12, "command rejected")                                                   \
    X (SHOAL_ETIMEOUT, -13, "timed out")                                                           \
    X (SHOAL_EEXIST, -14, "already exists")                                                        \
    X (SHOAL_ENET, -15, "network error")                                                           \
    X (SHOAL_EMODULE, -16, "module error")                                                         \
    X (SHOAL_EAUTH, -17, "not authorized")

typedef enum {
#define SHOAL_ERROR_ENUM(name, value, text) name = value,
    SHOAL_ERRORS (SHOAL_ERROR_ENUM)
#undef SHOAL_ERROR_ENUM
} shoal_error_t;

//  The levels of the node's log, least severe first (shoal_log, and
//  --log-level: lines below it are not written).
typedef enum {
    SHOAL_LOG_DEBUG = 0,
    SHOAL_LOG_INFO = 1,
    SHOAL_LOG_WARN = 2,
    SHOAL_LOG_ERROR = 3,
} shoal_log_level_t;

//  Returns a static description of an error code. Never NULL.
SHOAL_EXPORT const char *shoal_strerror (int code);

//  Limits of an address: "type/id".
#define SHOAL_TYPE_MAX 63     //  bytes of a type name: [a-z][a-z0-9_-]*
#define SHOAL_ID_MAX 200      //  bytes of an id: UTF-8, no NUL, no control bytes
#define SHOAL_ADDRESS_MAX 264 //  SHOAL_TYPE_MAX + 1 + SHOAL_ID_MAX, rounded up
#define SHOAL_NAME_MAX 63     //  bytes of a command, event or timer name
#define SHOAL_DATA_DEPTH 16   //  nesting of a data map (the map itself is 1)

//  Returns 0 if the bytes form a valid address, else SHOAL_EADDRESS.
SHOAL_EXPORT int shoal_address_check (const char *address, size_t len);
//  Returns 0 if the bytes are a valid command, event or timer name (1 to
//  SHOAL_NAME_MAX printable ASCII bytes, no space), else SHOAL_EINVAL.
//  A name that starts with '$' passes: the runtime's records carry such
//  names ($Resolved), and a module may not emit, send or set one (its
//  turn fails as handler_error).
SHOAL_EXPORT int shoal_name_check (const char *name, size_t len);

//  The type in the address a projection's reactions come from
//  (shoal_msg_from: "projection/NAME"); no actor type may take it.
#define SHOAL_PROJECTION_SENDER "projection"
//  True if address is a projection's, as a reaction's sender is
//  ("projection/NAME"). A handler that takes a command from a projection
//  only asks it of shoal_msg_from.
SHOAL_EXPORT bool shoal_address_is_projection (const char *address);

#ifdef __cplusplus
}
#endif

#endif
