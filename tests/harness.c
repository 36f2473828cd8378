/*  harness.c - helpers shared by the cmocka tests; see harness.h. Every
    failure fails the running test through cmocka, so these run only inside
    a cmocka test, on its thread.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "bundle.h"
#include "journal.h"
#include <dirent.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Random bytes and exact-size buffers

static uint64_t s_rng_state;

void harness_rand_seed (uint64_t seed)
{
    s_rng_state = seed;
}

uint64_t harness_rand (void)
{
    uint64_t z = (s_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint8_t *harness_copy (const void *bytes, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    assert_non_null (copy);
    if (size)
        memcpy (copy, bytes, size);
    return copy;
}

uint8_t *harness_take (msgpack_sbuffer *sbuf, size_t *size)
{
    *size = sbuf->size;
    uint8_t *bytes = harness_copy (sbuf->data, sbuf->size);
    msgpack_sbuffer_destroy (sbuf);
    return bytes;
}

void harness_assert_one_msgpack (const uint8_t *bytes, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    assert_int_equal (msgpack_unpack_next (&unpacked, (const char *) bytes, size, &offset),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, size);
    msgpack_unpacked_destroy (&unpacked);
}

//  --------------------------------------------------------------------------
//  Files

void harness_tempdir (char *dir, size_t size, const char *name)
{
    assert_true ((size_t) snprintf (dir, size, "/tmp/shoal-%s-XXXXXX", name) < size);
    assert_non_null (mkdtemp (dir));
}

void harness_rm_rf (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char child[512];
            snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
            harness_rm_rf (child);
        }
        closedir (dir);
        rmdir (path);
    } else
        unlink (path);
}

//  --------------------------------------------------------------------------
//  Fields of an encoded rec

void harness_rec_parse (shoal_rec_t *rec, shoal_data_t *data)
{
    size_t size;
    const uint8_t *bytes = rec_finish (rec, &size);
    assert_non_null (bytes);
    assert_int_equal (data_init (data, bytes, size), 0);
}

int64_t harness_rec_int (shoal_rec_t *rec, const char *key)
{
    shoal_data_t data;
    harness_rec_parse (rec, &data);
    int64_t value = 0;
    int rc = shoal_data_int (&data, key, &value);
    data_close (&data);
    if (rc != 0)
        fail_msg ("int field %s: %s", key, shoal_strerror (rc));
    return value;
}

bool harness_rec_bool (shoal_rec_t *rec, const char *key)
{
    shoal_data_t data;
    harness_rec_parse (rec, &data);
    bool value = false;
    int rc = shoal_data_bool (&data, key, &value);
    data_close (&data);
    if (rc != 0)
        fail_msg ("bool field %s: %s", key, shoal_strerror (rc));
    return value;
}

const char *harness_rec_str (shoal_rec_t *rec, const char *key)
{
    static char buffers[4][512];
    static int next;
    char *buf = buffers[next++ % 4];
    shoal_data_t data;
    harness_rec_parse (rec, &data);
    int rc = shoal_data_str (&data, key, buf, 512);
    data_close (&data);
    if (rc != 0)
        fail_msg ("str field %s: %s", key, shoal_strerror (rc));
    return buf;
}

bool harness_rec_has (shoal_rec_t *rec, const char *key)
{
    shoal_data_t data;
    harness_rec_parse (rec, &data);
    bool has = shoal_data_has (&data, key);
    data_close (&data);
    return has;
}

uint32_t harness_rec_count (shoal_rec_t *rec)
{
    shoal_data_t data;
    harness_rec_parse (rec, &data);
    uint32_t count = data.map ? data.map->via.map.size : 0;
    data_close (&data);
    return count;
}

//  --------------------------------------------------------------------------
//  The turn fixture

harness_turn_t *harness_turn_new (const shoal_type_t *type, const char *address, int64_t now)
{
    harness_turn_t *self = calloc (1, sizeof (harness_turn_t));
    assert_non_null (self);
    self->type = type;
    self->address = address;
    self->now = now;
    ctx_init (&self->ctx);
    rec_init (&self->payload);
    rec_init (&self->view);
    self->state = calloc (1, type->state_size);
    self->before = calloc (1, type->state_size);
    assert_non_null (self->state);
    assert_non_null (self->before);
    return self;
}

void harness_turn_destroy (harness_turn_t **self_p)
{
    harness_turn_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->log_count; i++)
        free (self->log[i].bytes);
    free (self->log);
    free (self->state);
    free (self->before);
    rec_close (&self->view);
    rec_close (&self->payload);
    ctx_close (&self->ctx);
    free (self);
    *self_p = NULL;
}

int harness_turn_teardown (void **state)
{
    harness_turn_destroy ((harness_turn_t **) state);
    return 0;
}

//  Copies the events of the accepted turn into the log.
static void s_log_events (harness_turn_t *self)
{
    for (size_t i = 0; i < self->ctx.event_count; i++) {
        if (self->log_count == self->log_max) {
            self->log_max = self->log_max ? 2 * self->log_max : 64;
            self->log = realloc (self->log, self->log_max * sizeof (harness_event_t));
            assert_non_null (self->log);
        }
        harness_event_t *entry = &self->log[self->log_count++];
        size_t size;
        const uint8_t *bytes = rec_finish (&self->ctx.events[i].rec, &size);
        assert_non_null (bytes);
        snprintf (entry->name, sizeof entry->name, "%s", self->ctx.events[i].name);
        entry->bytes = harness_copy (bytes, size);
        entry->size = size;
    }
}

int harness_turn_run_bytes (harness_turn_t *self, uint8_t kind, const char *from, const char *name,
                            const uint8_t *payload, size_t size)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    env.kind = kind;
    snprintf (env.to, sizeof env.to, "%s", self->address);
    snprintf (env.from, sizeof env.from, "%s", from);
    snprintf (env.name, sizeof env.name, "%s", name);
    env.payload = payload;
    env.payload_size = size;
    shoal_msg_t msg;
    assert_int_equal (msg_init (&msg, &env), 0);
    memcpy (self->before, self->state, self->type->state_size);
    ctx_begin (&self->ctx, self->address, self->version, self->now);
    int rc = ctx_run (&self->ctx, self->type, self->state, &msg);
    msg_close (&msg);
    if (rc == CTX_ACCEPTED) {
        s_log_events (self);
        self->version += (int64_t) self->ctx.event_count;
    }
    return rc;
}

int harness_turn_run (harness_turn_t *self, uint8_t kind, const char *name)
{
    size_t size;
    const uint8_t *bytes = rec_finish (&self->payload, &size);
    assert_non_null (bytes);
    const char *from = kind == ENVELOPE_TIMER ? self->address : "";
    int rc = harness_turn_run_bytes (self, kind, from, name, bytes, size);
    rec_reset (&self->payload);
    return rc;
}

void harness_turn_accepted (harness_turn_t *self, int rc, const char *what, size_t events,
                            size_t sends, size_t timers, int line)
{
    shoal_ctx_t *ctx = &self->ctx;
    if (rc != CTX_ACCEPTED)
        fail_msg ("line %d: %s: expected acceptance, got %d (%s: %s)", line, what, rc, ctx->code,
                  ctx->reason);
    if (ctx->rejected)
        fail_msg ("line %d: %s: ctx.rejected set on an accepted turn", line, what);
    if (ctx->event_count != events || ctx->send_count != sends || ctx->timer_count != timers)
        fail_msg ("line %d: %s: staged %zu events, %zu sends, %zu timers; expected %zu, %zu, %zu",
                  line, what, ctx->event_count, ctx->send_count, ctx->timer_count, events, sends,
                  timers);
}

void harness_turn_nothing (harness_turn_t *self, int rc, const char *what, int line)
{
    harness_turn_accepted (self, rc, what, 0, 0, 0, line);
    size_t size;
    rec_finish (&self->ctx.reply, &size);
    if (size != 1)
        fail_msg ("line %d: %s: wrote a reply", line, what);
    if (memcmp (self->before, self->state, self->type->state_size) != 0)
        fail_msg ("line %d: %s: changed the state", line, what);
}

void harness_turn_rejected (harness_turn_t *self, int rc, const char *what, const char *code,
                            int line)
{
    shoal_ctx_t *ctx = &self->ctx;
    if (rc != CTX_REJECTED)
        fail_msg ("line %d: %s: expected rejection %s, got %d", line, what, code, rc);
    if (!ctx->rejected)
        fail_msg ("line %d: %s: ctx.rejected not set", line, what);
    if (strcmp (ctx->code, code) != 0)
        fail_msg ("line %d: %s: expected code %s, got %s (%s)", line, what, code, ctx->code,
                  ctx->reason);
    if (ctx->reason[0] == 0)
        fail_msg ("line %d: %s: a rejection says why", line, what);
    if (ctx->event_count || ctx->send_count || ctx->timer_count)
        fail_msg ("line %d: %s: a rejection staged something", line, what);
    size_t size;
    rec_finish (&ctx->reply, &size);
    if (size != 1)
        fail_msg ("line %d: %s: a rejection kept reply fields", line, what);
    if (memcmp (self->before, self->state, self->type->state_size) != 0)
        fail_msg ("line %d: %s: a rejection changed the state", line, what);
}

shoal_rec_t *harness_turn_view (harness_turn_t *self, const void *state)
{
    rec_reset (&self->view);
    self->type->view (state, &self->view);
    return &self->view;
}

uint8_t *harness_turn_view_copy (harness_turn_t *self, const void *state, size_t *size)
{
    const uint8_t *bytes = rec_finish (harness_turn_view (self, state), size);
    assert_non_null (bytes);
    return harness_copy (bytes, *size);
}

void harness_turn_assert_replay (harness_turn_t *self)
{
    const shoal_type_t *type = self->type;
    size_t live_size, replayed_size;
    uint8_t *live = harness_turn_view_copy (self, self->state, &live_size);
    uint8_t *fresh = calloc (1, type->state_size);
    assert_non_null (fresh);
    for (size_t i = 0; i < self->log_count; i++)
        assert_int_equal (
            ctx_apply (type, fresh, self->log[i].name, self->log[i].bytes, self->log[i].size), 0);
    uint8_t *replayed = harness_turn_view_copy (self, fresh, &replayed_size);
    assert_int_equal (replayed_size, live_size);
    assert_memory_equal (replayed, live, live_size);
    assert_memory_equal (fresh, self->state, type->state_size);
    free (replayed);
    free (fresh);
    free (live);
}

//  --------------------------------------------------------------------------
//  What a worker sends

#define HARNESS_PULLS 8

static struct {
    zsock_t *pull;
    zlist_t *split; //  zmsg_t *, not given yet
} s_pulls[HARNESS_PULLS];

static zlist_t *s_split_of (zsock_t *pull)
{
    for (int i = 0; i < HARNESS_PULLS; i++)
        if (s_pulls[i].pull == pull)
            return s_pulls[i].split;
    for (int i = 0; i < HARNESS_PULLS; i++)
        if (!s_pulls[i].pull) {
            s_pulls[i].pull = pull;
            s_pulls[i].split = zlist_new ();
            assert_non_null (s_pulls[i].split);
            return s_pulls[i].split;
        }
    fail_msg ("harness_recv: more than %d sockets at once", HARNESS_PULLS);
    return NULL;
}

zmsg_t *harness_recv (zsock_t *pull, int timeout_ms)
{
    zlist_t *split = s_split_of (pull);
    if (zlist_size (split) > 0)
        return zlist_pop (split);
    zmq_pollitem_t item = {zsock_resolve (pull), 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return NULL;
    zmsg_t *msg = zmsg_recv (pull);
    assert_non_null (msg);
    zframe_t *route = zmsg_first (msg);
    if (zmsg_size (msg) != 2 || zframe_size (route) != 1 || zframe_data (route)[0] != BUNDLE_ROUTE)
        return msg;
    zframe_t *frame = zmsg_last (msg);
    bundle_reader_t reader = {zframe_data (frame), zframe_size (frame)};
    const uint8_t *r, *data;
    size_t r_size, size;
    int rc;
    while ((rc = bundle_next (&reader, &r, &r_size, &data, &size)) == 1) {
        zmsg_t *one = zmsg_new ();
        assert_non_null (one);
        assert_int_equal (zmsg_addmem (one, r, r_size), 0);
        assert_int_equal (zmsg_addmem (one, data, size), 0);
        assert_int_equal (zlist_append (split, one), 0);
    }
    assert_int_equal (rc, 0); //  the whole bundle read
    zmsg_destroy (&msg);
    assert_true (zlist_size (split) > 0);
    return zlist_pop (split);
}

void harness_recv_close (zsock_t *pull)
{
    for (int i = 0; pull && i < HARNESS_PULLS; i++)
        if (s_pulls[i].pull == pull) {
            zmsg_t *msg;
            while ((msg = zlist_pop (s_pulls[i].split)))
                zmsg_destroy (&msg);
            zlist_destroy (&s_pulls[i].split);
            s_pulls[i].pull = NULL;
        }
}

void harness_raw_write (const char *dir, const void *key, size_t key_len, const void *value,
                        size_t value_len)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    if (!db)
        fail_msg ("cannot open the store in %s: %s", dir, err ? err : "?");
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (write, 1);
    if (value)
        leveldb_put (db, write, key, key_len, value, value_len, &err);
    else
        leveldb_delete (db, write, key, key_len, &err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
    if (err)
        fail_msg ("cannot write to the store in %s: %s", dir, err);
}

void harness_append_refused_deposit (journal_t *journal, const char *stream, int64_t version)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "amount", 6);
    msgpack_pack_str_with_body (&pk, "x", 1);
    journal_batch_t *batch = journal_batch_new (journal);
    journal_event_t event = {"Deposited", (const uint8_t *) buffer.data, buffer.size};
    assert_int_equal (journal_batch_append (batch, stream, version, &event, 1, 1000, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    msgpack_sbuffer_destroy (&buffer);
}

void harness_preload_begin (const char *library, const char *extra, harness_env_t *saved)
{
    const char *asan = getenv ("ASAN_OPTIONS");
    saved->had_asan = asan != NULL;
    snprintf (saved->asan, sizeof saved->asan, "%s", asan ? asan : "");
    char with[1200];
    snprintf (with, sizeof with, "%s%sverify_asan_link_order=0%s%s", saved->asan,
              *saved->asan ? ":" : "", extra ? ":" : "", extra ? extra : "");
    setenv ("ASAN_OPTIONS", with, 1);
    setenv ("LD_PRELOAD", library, 1);
}

void harness_preload_end (const harness_env_t *saved)
{
    unsetenv ("LD_PRELOAD");
    if (saved->had_asan)
        setenv ("ASAN_OPTIONS", saved->asan, 1);
    else
        unsetenv ("ASAN_OPTIONS");
}

void harness_print_file (const char *path, const char *prefix)
{
    FILE *file = fopen (path, "r");
    char line[512];
    while (file && fgets (line, sizeof line, file))
        print_error ("%s%s", prefix, line);
    if (file)
        fclose (file);
}
