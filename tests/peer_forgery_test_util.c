/*  peer_forgery_test_util.c - what test_peer_forgery_*.c share (peer_forgery_test_util.h says what
 * each is).
 */
#include "client.h"
#include "cluster.h"
#include "harness.h"
#include "proc.h"
#include "shard.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer_forgery_test_util.h"

//  --------------------------------------------------------------------------
//  The cluster

void peer_forgery_start_node (fixture_t *f, int i)
{
    const char *name = cluster_node_name (f->cluster, i);
    char log[192];
    snprintf (log, sizeof log, "%s/%s.log", f->dir, name);
    char *argv[] = {getenv ("SHOAL_BIN"),
                    "node",
                    "--cluster",
                    f->cfg,
                    "--name",
                    (char *) name,
                    "--workers",
                    "1",
                    "--stall-ms",
                    "1500",
                    "--module",
                    getenv ("SHOAL_TEST_MODULE"),
                    NULL}; //  counter/ for the flood
    pid_t pid = proc_spawn_ready (argv, log, DEADLINE_MS);
    if (!pid)
        fail_msg ("node %s did not start: see %s", name, log);
    f->node[i] = pid;
    char *error = NULL;
    f->client[i] = client_new_cluster (f->cfg, name, &error);
    if (!f->client[i])
        fail_msg ("%s", error);
}

void peer_forgery_accept (client_t *client, const char *to, const char *name, const char *field1,
                          const char *field2, const char *field3)
{
    client_reply_t reply;
    int rc = cluster_client_call (client, ENVELOPE_COMMAND, to, name, 5000, &reply, field1, field2,
                                  field3, NULL);
    if (rc != 0)
        fail_msg ("%s %s: %s", to, name, shoal_strerror (rc));
    if (!reply.ok)
        fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

int64_t peer_forgery_stat (client_t *client, const char *name)
{
    client_reply_t reply;
    int rc =
        cluster_client_call (client, ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply, NULL);
    if (rc != 0)
        fail_msg ("stats: %s", shoal_strerror (rc));
    int64_t value = -1; //  none: asserted after what the forgery changed
    map_int (reply.data, reply.size, name, &value);
    client_reply_close (&reply);
    return value;
}

void peer_forgery_forge (fixture_t *f, envelope_kind_t kind, const char *from, const char *to,
                         const char *name, const char *correlation, const uint8_t *payload,
                         size_t payload_size)
{
    envelope_t envelope;
    client_request (&envelope, kind, NULL, to, name, payload, payload_size);
    snprintf (envelope.from, sizeof envelope.from, "%s", from);
    if (correlation)
        client_id_from_string (correlation, envelope.correlation);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&envelope, &frame, &size), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "MSG");
    zmsg_addmem (msg, frame, size);
    assert_int_equal (zmsg_send (&msg, f->peer), 0);
    free (frame);
}

void peer_forgery_canary (fixture_t *f)
{
    char transfer[80], amount[] = "amount=1";
    snprintf (transfer, sizeof transfer, "transfer=%s", f->peer_transfer + strlen ("transfer/"));
    char *fields[] = {transfer, amount};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (2, fields, &payload, &size, error, sizeof error), 0);
    peer_forgery_forge (f, ENVELOPE_COMMAND, f->peer_transfer, f->canary, "Credit", NULL, payload,
                        size);
    free (payload);
    f->canaries++;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (cluster_client_balance (f->client[0], f->canary) != f->canaries) {
        if (zclock_mono () > deadline)
            fail_msg ("the canary's credit %lld never landed", (long long) f->canaries);
        zclock_sleep (20);
    }
}

int peer_forgery_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    harness_tempdir (f->dir, sizeof f->dir, "pf");
    snprintf (f->cfg, sizeof f->cfg, "%s/c/cluster.cfg", f->dir);
    *state = f;

    char dir[192], log[192];
    snprintf (dir, sizeof dir, "%s/c", f->dir);
    snprintf (log, sizeof log, "%s/init.log", f->dir);
    char *argv[] = {getenv ("SHOAL_BIN"), "cluster", "init", "--nodes", "3", "--dir", dir, "--ipc",
                    "--shards",           "64",      NULL};
    assert_int_equal (proc_wait_exit (proc_spawn (argv, log, NULL), DEADLINE_MS), 0);
    char *error = NULL;
    f->cluster = cluster_load (f->cfg, &error);
    if (!f->cluster)
        fail_msg ("%s", error);
    peer_forgery_start_node (f, 0);

    f->peer = cluster_client_stolen_peer (f->cluster, f->dir, NULL, DEADLINE_MS);

    cluster_client_address_on (f->cluster, "account/canary", 0, NULL, f->canary, sizeof f->canary);
    cluster_client_address_on (f->cluster, "transfer/peer", 1, NULL, f->peer_transfer,
                               sizeof f->peer_transfer);
    peer_forgery_accept (f->client[0], f->canary, "Open", "owner=canary", NULL, NULL);
    peer_forgery_canary (f); //  the peer's frames are taken
    return 0;
}

int peer_forgery_teardown (void **state)
{
    fixture_t *f = *state;
    zsock_destroy (&f->peer);
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        client_destroy (&f->client[i]);
        proc_kill (&f->node[i]);
    }
    cluster_destroy (&f->cluster);
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}
