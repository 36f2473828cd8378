/*  front_gather.c - node-wide queries ("pending", "busiest"): the front
    sends one to every worker with the route ROUTE_GATHER + a gather id,
    collects their parts and answers the client with the rows merged, or
    with what came when FRONT_GATHER_MS has passed. See front.h. Runs on
    the front's thread.
*/
#include "front_internal.h"
#include "queryargs.h"
#include "metrics.h"
#include "auth.h"
#include "data.h"
#include "envelope.h"
#include "log.h"
#include "repair.h"
#include "shard.h"
#include "shoal_stats.h"
#include "deadletter.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_id_hash (const void *key)
{
    uint32_t id;
    memcpy (&id, key, sizeof id);
    return (size_t) id * 0x9e3779b97f4a7c15ULL;
}

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, sizeof (uint32_t));
}

zhashx_t *front_gather_ids_new (void)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, s_id_hash);
        zhashx_set_key_comparator (table, s_id_compare);
        zhashx_set_key_destructor (table, NULL);
        zhashx_set_key_duplicator (table, NULL);
    }
    return table;
}

//  Answers gather's client with the rows gathered, and frees it, taking
//  it out of the front's tables (handle: its place in self->gathers).
static void s_gather_finish (front_t *self, gather_t *gather, void *handle)
{
    if (handle) {
        zhashx_delete (self->gather_ids, &gather->id);
        zlistx_delete (self->gathers, handle);
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    const cluster_t *cluster = self->config.cluster;
    bool pending = streq (gather->key, "pending");
    msgpack_pack_map (&pk, pending ? 7 : 6);
    front_pack_str (&pk, "node");
    front_pack_str (&pk, cluster ? cluster_node_name (cluster, self->config.self_node) : "");
    front_pack_str (&pk, gather->key);
    msgpack_pack_array (&pk, gather->count);
    msgpack_sbuffer_write (&buffer, gather->rows.data, gather->rows.size);
    front_pack_str (&pk, "truncated");
    msgpack_pack_int64 (&pk, gather->truncated);
    if (pending) {
        front_pack_str (&pk, "stall_ms");
        msgpack_pack_int64 (&pk, gather->stall_ms);
    }
    front_pack_str (&pk, "now");
    msgpack_pack_int64 (&pk, gather->now ? gather->now : zclock_time ());
    front_pack_str (&pk, "workers");
    msgpack_pack_int (&pk, self->config.config->workers);
    front_pack_str (&pk, "missing");
    msgpack_pack_int (&pk, gather->waiting);
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (true, NULL, NULL, (const uint8_t *) buffer.data, buffer.size,
                               &payload, &size) == 0) {
        front_reply (self, gather->route, gather->route_size, &gather->request, payload, size);
        free (payload);
    }
    msgpack_sbuffer_destroy (&buffer);
    msgpack_sbuffer_destroy (&gather->rows);
    free (gather);
}

//  Sends a node-wide query (frame) to every worker, and remembers whom to
//  answer when their parts are in.
void front_gather_start (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope, zmq_msg_t *frame)
{
    gather_t *gather = calloc (1, sizeof (gather_t));
    if (!gather) {
        front_reject (self, route, route_size, envelope, "unavailable", "out of memory");
        return;
    }
    gather->id = ++self->next_gather;
    gather->key = streq (envelope->name, "busiest") ? "busiest" : "pending";
    memcpy (gather->route, route, route_size);
    gather->route_size = route_size;
    gather->request = *envelope;
    gather->request.payload = NULL;
    gather->request.payload_size = 0;
    gather->deadline = zclock_mono () + FRONT_GATHER_MS;
    gather->limit = REPAIR_ROWS_MAX;
    shoal_data_t args;
    char why[96] = "";
    bool stalled;
    if (data_init (&args, envelope->payload, envelope->payload_size) == 0 &&
        queryargs_int (&args, "limit", &gather->limit, why, sizeof why) == 0)
        queryargs_bool (&args, "stalled", &stalled, why, sizeof why); //  the workers' field
    data_close (&args);
    if (why[0]) {
        free (gather);
        front_reject (self, route, route_size, envelope, "invalid_field", why);
        return;
    }
    if (gather->limit < 0 || gather->limit > REPAIR_ROWS_MAX)
        gather->limit = REPAIR_ROWS_MAX;
    msgpack_sbuffer_init (&gather->rows);
    msgpack_packer_init (&gather->pk, &gather->rows, msgpack_sbuffer_write);
    uint8_t part_route[5] = {ROUTE_GATHER};
    memcpy (part_route + 1, &gather->id, 4);
    size_t size = zmq_msg_size (frame);
    for (int w = 0; w < self->config.config->workers; w++) {
        void *worker = zsock_resolve (self->push[w]);
        if (zmq_send (worker, part_route, sizeof part_route, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
            continue; //  full: counted as missing
        self->config.config->stats[w].queued_bytes += size;
        zmq_send (worker, zmq_msg_data (frame), size, 0);
        gather->waiting++;
    }
    //  Kept by deadline, which is the order they start in (one delay on
    //  the monotonic clock), and found by id: a worker's parts come in any
    //  order, thousands of gathers may wait on a slow worker, and a walk
    //  per part made their answers cost the front the square of their
    //  count (a review's 50,000 `pending` queries: 14 s of its CPU).
    void *handle = gather->waiting ? zlistx_add_end (self->gathers, gather) : NULL;
    if (handle && zhashx_insert (self->gather_ids, &gather->id, handle) != 0) {
        zlistx_delete (self->gathers, handle);
        handle = NULL;
    }
    if (!handle) //  no worker took it, or out of memory: what came, none
        s_gather_finish (self, gather, NULL);
}

//  A worker's part of a gather: its rows join the others'.
void front_gather_part (front_t *self, const uint8_t *route, size_t route_size,
                        const uint8_t *frame, size_t size)
{
    uint32_t id;
    memcpy (&id, route + 1, 4);
    void *handle = zhashx_lookup (self->gather_ids, &id);
    if (!handle)
        return; //  answered already, at its deadline
    gather_t *gather = zlistx_handle_item (handle);
    envelope_t reply;
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    if (envelope_decode (&reply, frame, size) == 0 &&
        envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason, &data,
                               &data_size) == 0 &&
        ok &&
        msgpack_unpack_next (&unpacked, (const char *) data, data_size, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        unpacked.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &unpacked.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr[i].key, *value = &map->ptr[i].val;
            if (key->type != MSGPACK_OBJECT_STR)
                continue;
            const char *name = key->via.str.ptr;
            size_t length = key->via.str.size;
            bool integer = value->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
            if (length == strlen (gather->key) && memcmp (name, gather->key, length) == 0 &&
                value->type == MSGPACK_OBJECT_ARRAY)
                for (uint32_t r = 0; r < value->via.array.size; r++) {
                    if ((int64_t) gather->count < gather->limit) {
                        msgpack_pack_object (&gather->pk, value->via.array.ptr[r]);
                        gather->count++;
                    } else
                        gather->truncated++;
                }
            else if (integer && length == 9 && memcmp (name, "truncated", 9) == 0)
                gather->truncated += (int64_t) value->via.u64;
            else if (integer && length == 8 && memcmp (name, "stall_ms", 8) == 0)
                gather->stall_ms = (int64_t) value->via.u64;
            else if (integer && length == 3 && memcmp (name, "now", 3) == 0)
                gather->now = (int64_t) value->via.u64;
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    if (--gather->waiting == 0)
        s_gather_finish (self, gather, handle);
}

//  Answers the gathers whose workers are late with what came.
void front_gather_expire (front_t *self)
{
    int64_t now = zclock_mono ();
    gather_t *gather;
    while ((gather = zlistx_first (self->gathers)) && gather->deadline <= now)
        s_gather_finish (self, gather, zlistx_cursor (self->gathers));
}

//  True if envelope is a node-wide query: "pending" or "busiest" to
//  node/...
bool front_node_wide (const envelope_t *envelope)
{
    return envelope->kind == ENVELOPE_QUERY &&
           (streq (envelope->name, "pending") || streq (envelope->name, "busiest")) &&
           strncmp (envelope->to, "node/", 5) == 0;
}
