/*  errors.c - shoal_strerror over the SHOAL_ERRORS list. Thread-safe.  */
#include "shoal_base.h"

const char *shoal_strerror (int code)
{
    switch (code) {
    case 0:
        return "success";
#define SHOAL_ERROR_CASE(name, value, text)                                                        \
    case value:                                                                                    \
        return text;
        SHOAL_ERRORS (SHOAL_ERROR_CASE)
#undef SHOAL_ERROR_CASE
    default:
        return "unknown error";
    }
}
