/*  envelope_id.c - new message ids (envelope_new_id, envelope.h): 16 bytes
    of the kernel's randomness, from a small per-thread buffer, reset in a
    forked child so that it never hands out the ids its parent will; and
    ids that are secrets (envelope_new_secret_id), never from the weak
    fallback.

    Safe on any thread.
*/
#include "envelope.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ID_POOL_SIZE 1024 //  bytes of randomness fetched per getrandom call

//  One thread's unused randomness. A forked child starts afresh, so that it
//  never hands out the ids its parent will.
static __thread uint8_t s_pool[ID_POOL_SIZE];
static __thread size_t s_pool_used = ID_POOL_SIZE;
static pthread_once_t s_atfork_once = PTHREAD_ONCE_INIT;

//  Runs in a forked child: drops what the parent's thread had left.
static void s_pool_reset_in_child (void)
{
    s_pool_used = ID_POOL_SIZE;
}

//  Registers s_pool_reset_in_child, once per process.
static void s_atfork_register (void)
{
    pthread_atfork (NULL, NULL, s_pool_reset_in_child);
}

//  Steps a splitmix64 generator and returns its next output.
static uint64_t s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

//  Fills the pool when getrandom(2) is unavailable (an old kernel or a
//  seccomp filter): unique but predictable bytes from the clock, the pid,
//  the thread and a counter.
static void s_pool_fill_weak (void)
{
    static __thread uint64_t counter;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    uint64_t state = (uint64_t) now.tv_sec * 1000000000ull + (uint64_t) now.tv_nsec;
    state ^= ((uint64_t) getpid () << 32) ^ (uint64_t) (uintptr_t) &counter;
    state ^= ++counter << 48;
    for (size_t i = 0; i < ID_POOL_SIZE; i += 8) {
        uint64_t r = s_splitmix64 (&state);
        memcpy (s_pool + i, &r, 8);
    }
}

//  Refills this thread's pool from getrandom(2), or from s_pool_fill_weak
//  if that fails. Can't fail.
static void s_pool_fill (void)
{
    pthread_once (&s_atfork_once, s_atfork_register);
    size_t filled = 0;
    while (filled < ID_POOL_SIZE) {
        ssize_t n = getrandom (s_pool + filled, ID_POOL_SIZE - filled, 0);
        if (n > 0)
            filled += (size_t) n;
        else if (n < 0 && errno != EINTR) {
            s_pool_fill_weak ();
            break;
        }
    }
    s_pool_used = 0;
}

void envelope_new_id (uint8_t id[ENVELOPE_ID_SIZE])
{
    if (s_pool_used + ENVELOPE_ID_SIZE > ID_POOL_SIZE)
        s_pool_fill ();
    memcpy (id, s_pool + s_pool_used, ENVELOPE_ID_SIZE);
    s_pool_used += ENVELOPE_ID_SIZE;
}

int envelope_new_secret_id (uint8_t id[ENVELOPE_ID_SIZE])
{
    size_t got = 0;
    while (got < ENVELOPE_ID_SIZE) {
        ssize_t n = getrandom (id + got, ENVELOPE_ID_SIZE - got, 0);
        if (n > 0)
            got += (size_t) n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got < ENVELOPE_ID_SIZE) {
        FILE *urandom = fopen ("/dev/urandom", "rb");
        got = urandom ? fread (id, 1, ENVELOPE_ID_SIZE, urandom) : 0;
        if (urandom)
            fclose (urandom);
    }
    return got == ENVELOPE_ID_SIZE ? 0 : SHOAL_EIO;
}
