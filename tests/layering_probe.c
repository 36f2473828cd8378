/*  layering_probe.c - built only by the `layering` test, which expects it
    NOT to build: it is compiled with the include path of actors/ and
    sagas/ (the public API alone), and includes an internal header of
    runtime/. If this ever compiles, the layering is broken.
*/
#include "shoal.h"
#include "worker.h"

int layering_probe (void)
{
    return 0;
}
