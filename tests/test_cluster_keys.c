/*  test_cluster_keys.c - process tests of a client key taken back, moved
    from operators/ to clients/, or replaced (`shoal cluster rekey
    --operator`), while its connection stays open: a
    real `shoal node` of a cluster of one (`shoal cluster init --nodes 1
    --ipc`, keys of its own, ipc:// in the test's directory), and one
    client connection (client_new_cluster) kept open through it all.

    A handshake lets a connection in once; the node judges each of its
    messages by the directories as they are now (auth.h). Before, a key
    removed from clients/ kept its open connection working until it
    closed, and an operator moved to clients/ kept resolving and retrying
    dead letters on its: the README said to restart the nodes.

    Every wait polls against a deadline. ctest sets SHOAL_BIN. The
    teardown kills the node and removes the directory (proc.h).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALL_MS 10000   //  one request's answer at most
#define CHANGE_MS 10000 //  a change of the directories seen by then (the node: ~1 s)
#define ID "07ae0551c2a954d964f83d510607e427" //  no command's, no dead letter's

//  A cluster of nodes in DIR/c and an application's certificate (another
//  cluster's client.cert) beside a copy of the map in DIR/app, put where
//  the shell words places say (each "n1/clients/app.cert" and the like,
//  under DIR/c).
static proc_t *s_make (const char *name, int nodes, const char *places)
{
    proc_t *p = proc_new (name);
    char err[PROC_OUTPUT_MAX];
    int code = proc_run (p, NULL, err,
                         "timeout 60 \"$SHOAL\" cluster init --nodes %d --ipc --dir \"$DIR/c\" && "
                         "timeout 60 \"$SHOAL\" cluster init --nodes 1 --ipc --dir \"$DIR/other\" "
                         "&& mkdir \"$DIR/app\" && cp \"$DIR/c/cluster.cfg\" "
                         "\"$DIR\"/other/client.cert* \"$DIR/app/\" && for place in %s; do cp "
                         "\"$DIR/other/client.cert\" \"$DIR/c/$place\" || exit 1; done",
                         nodes, places);
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    return p;
}

static int s_setup (void **state)
{
    proc_t *p = s_make ("keys", 1, "n1/clients/app.cert");
    proc_node_start (p, "\"$SHOAL\" node --cluster \"$DIR/c/cluster.cfg\" --name n1 --workers 1 "
                        "--metrics off");
    *state = p;
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  A client of node n1 with the certificate beside DIR/NAME/cluster.cfg:
//  one connection, for the whole test.
static client_t *s_client (proc_t *p, const char *name)
{
    char path[160], *error = NULL;
    snprintf (path, sizeof path, "%s/%s/cluster.cfg", p->dir, name);
    client_t *client = client_new_cluster (path, "n1", &error);
    if (!client)
        fail_msg ("client_new_cluster %s: %s", path, error ? error : "?");
    return client;
}

//  Sends kind name to `to` with the fields of "key=value ..." (a new id
//  if id is NULL) and waits for the answer, into reply (the caller's to
//  close). Fails the test if none comes.
static void s_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                    const uint8_t *id, const char *fields, client_reply_t *reply)
{
    char copy[256], *argv[8];
    int argc = 0;
    snprintf (copy, sizeof copy, "%s", fields);
    for (char *word = strtok (copy, " "); word && argc < 8; word = strtok (NULL, " "))
        argv[argc++] = word;
    uint8_t *map;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &map, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, id, to, name, map, size);
    int rc = client_call (client, &request, CALL_MS, reply);
    free (map);
    if (rc != 0)
        fail_msg ("%s to %s: no answer (%d)", name, to, rc);
}

//  Sends as s_call until the answer's code is code ("" for accepted),
//  against a deadline: the node sees the directories' change. Fails the
//  test with the last answer if it never is.
static void s_call_until (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                          const char *fields, const char *code)
{
    int64_t deadline = proc_now_ms () + CHANGE_MS;
    while (true) {
        client_reply_t reply;
        s_call (client, kind, to, name, NULL, fields, &reply);
        bool done = code[0] ? !reply.ok && strcmp (reply.code, code) == 0 : reply.ok;
        if (!done && proc_now_ms () > deadline)
            fail_msg ("%s to %s: still %s %s (%s), not %s after %d ms", name, to,
                      reply.ok ? "accepted" : "refused", reply.code, reply.reason,
                      code[0] ? code : "accepted", CHANGE_MS);
        client_reply_close (&reply);
        if (done)
            return;
        usleep (50 * 1000);
    }
}

//  The balance of account/a, as the client reads it.
static int64_t s_balance (client_t *client)
{
    client_reply_t reply;
    s_call (client, ENVELOPE_QUERY, "account/a", "get", NULL, "", &reply);
    int64_t balance = -1;
    if (!reply.ok || reply_state_int (&reply, "balance", &balance) != 0)
        fail_msg ("get account/a: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    return balance;
}

//  --------------------------------------------------------------------------
//  1. An application's certificate removed from clients/: the next
//     requests of its open connection are refused key_revoked within a
//     deadline, and change nothing (a Deposit refused so is not run, and
//     runs when sent again under its id); the refusals are logged, once
//     a second at most, and counted. Put back: it works again, on the
//     same connection.

//  The application's client, once it opened account/a.
static client_t *s_app_opened (proc_t *p)
{
    client_t *app = s_client (p, "app");
    client_reply_t reply;
    s_call (app, ENVELOPE_COMMAND, "account/a", "Open", NULL, "owner=A", &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    return app;
}

static void test_client_key_revoked (void **state)
{
    proc_t *p = *state;
    client_t *app = s_app_opened (p);
    client_reply_t reply;
    assert_int_equal (s_balance (app), 0);

    assert_int_equal (proc_run (p, NULL, NULL, "rm \"$DIR/c/n1/clients/app.cert\""), 0);
    int64_t removed = proc_now_ms ();
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "key_revoked");
    uint8_t deposit[ENVELOPE_ID_SIZE];
    client_id_from_string ("the deposit refused", deposit);
    s_call (app, ENVELOPE_COMMAND, "account/a", "Deposit", deposit, "amount=7", &reply);
    if (reply.ok || strcmp (reply.code, "key_revoked") != 0 ||
        !strstr (reply.reason, "removed from the node's clients/ and operators/ directories"))
        fail_msg ("Deposit by a removed key: %s %s", reply.ok ? "accepted" : reply.code,
                  reply.reason);
    client_reply_close (&reply);
    for (int i = 0; i < 50; i++) { //  a burst: logged once a second at most
        s_call (app, ENVELOPE_QUERY, "account/a", "get", NULL, "", &reply);
        assert_string_equal (reply.code, "key_revoked");
        client_reply_close (&reply);
    }
    int64_t seconds = (proc_now_ms () - removed) / 1000;
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    int lines = 0;
    for (const char *at = strstr (log, "key_revoked"); at; at = strstr (at + 1, "key_revoked"))
        lines++;
    if (lines < 1 || lines > 2 + seconds)
        fail_msg ("%d lines of key_revoked in %lld s, not 1 to %lld: %s", lines,
                  (long long) seconds, (long long) (2 + seconds), log);
    //  Counted (the operator's key, another, is let in to ask).
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, err, "timeout 60 \"$SHOAL\" stats --cluster \"$DIR/c/cluster.cfg\""), 0);
    if (!strstr (out, "\"revoked\":") || strstr (out, "\"revoked\":0,"))
        fail_msg ("stats count no key_revoked refusal: %s%s", out, err);

    assert_int_equal (
        proc_run (p, NULL, NULL, "cp \"$DIR/other/client.cert\" \"$DIR/c/n1/clients/app.cert\""),
        0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "");
    assert_int_equal (s_balance (app), 0); //  the refused Deposit did not run
    s_call (app, ENVELOPE_COMMAND, "account/a", "Deposit", deposit, "amount=7", &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    assert_int_equal (s_balance (app), 7);

    //  A damaged certificate lets its client in no more, and the node
    //  says which file it skipped (before, nothing was said).
    assert_int_equal (proc_run (p, NULL, NULL, "echo damaged > \"$DIR/c/n1/clients/app.cert\""), 0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "key_revoked");
    char said[256];
    snprintf (said, sizeof said, "WARN %s/c/n1/clients/app.cert is not a certificate", p->dir);
    proc_read (p, "node.log", log);
    proc_assert_has (log, said);
    client_destroy (&app);
}

//  --------------------------------------------------------------------------
//  1b. The application's certificate written over in place with another
//      of the same size, its mtime put back (as cp -p or an unpacked
//      archive leave it): refused key_revoked within a deadline. Before,
//      the node compared the files' count, bytes and newest mtime, and
//      served the old key for as long as nothing else changed. Then moved
//      aside, renamed (app.cert.disabled) or into a subdirectory: still
//      refused, and said (before, every file under clients/ was one).

//  Waits until the node's log has text, against the deadline.
static void s_log_until (proc_t *p, const char *text)
{
    char log[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + CHANGE_MS;
    for (proc_read (p, "node.log", log); !strstr (log, text); proc_read (p, "node.log", log)) {
        if (proc_now_ms () > deadline)
            fail_msg ("the node never logged \"%s\": %s", text, log);
        usleep (50 * 1000); //  between two reads of the log, within the deadline
    }
}

static void test_client_key_written_over (void **state)
{
    proc_t *p = *state;
    client_t *app = s_app_opened (p);
    client_reply_t reply;

    //  The operator's certificate is the same size as the application's.
    assert_int_equal (proc_run (p, NULL, NULL,
                                "cd \"$DIR/c\" && test $(stat -c %%s client.cert) = "
                                "$(stat -c %%s n1/clients/app.cert) && touch -r "
                                "n1/clients/app.cert ../ref && cat client.cert > "
                                "n1/clients/app.cert && touch -r ../ref n1/clients/app.cert && "
                                "touch -r ../ref n1/clients"),
                      0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "key_revoked");
    assert_int_equal (
        proc_run (p, NULL, NULL, "cat \"$DIR/other/client.cert\" > \"$DIR/c/n1/clients/app.cert\""),
        0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "");

    assert_int_equal (
        proc_run (p, NULL, NULL, "cd \"$DIR/c/n1/clients\" && mv app.cert app.cert.disabled"), 0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "key_revoked");
    s_log_until (p, "clients/app.cert.disabled is not read: a node takes only the certificates "
                    "named *.cert");
    assert_int_equal (proc_run (p, NULL, NULL,
                                "cd \"$DIR/c/n1/clients\" && mkdir revoked && mv "
                                "app.cert.disabled revoked/app.cert"),
                      0);
    s_log_until (p, "clients/revoked is not read");
    s_call (app, ENVELOPE_QUERY, "account/a", "get", NULL, "", &reply);
    assert_string_equal (reply.code, "key_revoked"); //  read again, and still refused
    client_reply_close (&reply);
    assert_int_equal (
        proc_run (p, NULL, NULL, "cd \"$DIR/c/n1/clients\" && mv revoked/app.cert app.cert"), 0);
    s_call_until (app, ENVELOPE_QUERY, "account/a", "get", "", "");
    client_destroy (&app);
}

//  --------------------------------------------------------------------------
//  2. The operator's certificate moved from operators/ to clients/: its
//     open connection loses $resend, $resolve and a dead letter's retry
//     (not_an_operator) within a deadline, and keeps what a client may
//     do. Moved back: an operator again, on the same connection.

//  The operator's acts, each refused not_an_operator or not (code "":
//  any other answer, as an operator gets: resolve's not_pending, retry's
//  not_found for an id that is nobody's).
static void s_acts (client_t *op, const char *code)
{
    static const struct {
        envelope_kind_t kind;
        const char *name, *fields;
    } acts[] = {
        {ENVELOPE_COMMAND, "$resend", ""},
        {ENVELOPE_COMMAND, "$resolve",
         "id=" ID " code=operator_cancel reason=r operator=test force:=false"},
        {ENVELOPE_QUERY, "dead_letter_retry", "id=" ID " who=test"},
        {ENVELOPE_QUERY, "dead_letter_drop", "id=" ID " who=test"},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        client_reply_t reply;
        s_call (op, acts[i].kind, "account/a", acts[i].name, NULL, acts[i].fields, &reply);
        bool refused = !reply.ok && strcmp (reply.code, "not_an_operator") == 0;
        if (refused != (code[0] != 0))
            fail_msg ("%s by %s: %s %s", acts[i].name, code[0] ? "a client" : "an operator",
                      reply.ok ? "accepted" : reply.code, reply.reason);
        client_reply_close (&reply);
    }
}

static void test_operator_moved_to_clients (void **state)
{
    proc_t *p = *state;
    client_t *op = s_client (p, "c");
    client_reply_t reply;
    s_call (op, ENVELOPE_COMMAND, "account/a", "Open", NULL, "owner=A", &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    s_acts (op, "");

    assert_int_equal (proc_run (p, NULL, NULL,
                                "mv \"$DIR/c/n1/operators/client.cert\" "
                                "\"$DIR/c/n1/clients/operator.cert\""),
                      0);
    s_call_until (op, ENVELOPE_COMMAND, "account/a", "$resend", "", "not_an_operator");
    s_acts (op, "not_an_operator");
    s_call (op, ENVELOPE_COMMAND, "account/a", "Deposit", NULL, "amount=3", &reply);
    assert_true (reply.ok); //  still a client
    client_reply_close (&reply);
    assert_int_equal (s_balance (op), 3);

    assert_int_equal (proc_run (p, NULL, NULL,
                                "mv \"$DIR/c/n1/clients/operator.cert\" "
                                "\"$DIR/c/n1/operators/client.cert\""),
                      0);
    s_call_until (op, ENVELOPE_COMMAND, "account/a", "$resend", "", "");
    s_acts (op, "");
    client_destroy (&op);
}

//  --------------------------------------------------------------------------
//  3. A key in n1's operators/ and only in n2's clients/, connected to n1:
//     its $resend to an actor n2 owns, forwarded, is refused by n2
//     (not_an_operator), its Deposit there taken; its key put in n2's
//     operators/, the $resend is taken too. Before, n2 took whatever n1
//     forwarded: each node's operators/ guarded only its own entry, so a
//     key in one node's operators/ was an operator of the whole cluster.

static int s_setup_two (void **state)
{
    proc_t *p = s_make ("keys2", 2, "n1/operators/app.cert n2/clients/app.cert");
    proc_node_start (p, "\"$SHOAL\" cluster up --dir \"$DIR/c\" --workers 1");
    int64_t deadline = proc_now_ms () + CALL_MS;
    char out[PROC_OUTPUT_MAX];
    do {
        proc_read (p, "node.out", out);
        if (strstr (out, "2 nodes up"))
            break;
        usleep (50 * 1000);
    } while (proc_now_ms () < deadline);
    if (!strstr (out, "2 nodes up"))
        fail_msg ("cluster up: no \"2 nodes up\" within %d ms: %s", CALL_MS, out);
    *state = p;
    return 0;
}

static void test_operator_of_another_node (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, NULL, "\"$SHOAL\" where --cluster \"$DIR/c/cluster.cfg\" account/a"), 0);
    proc_assert_has (out, "\"node\":\"n2\""); //  the map of 256 shards puts it there
    client_t *app = s_client (p, "app");      //  to n1
    client_reply_t reply;
    s_call (app, ENVELOPE_COMMAND, "account/a", "Open", NULL, "owner=A", &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    s_call (app, ENVELOPE_COMMAND, "account/a", "$resend", NULL, "", &reply);
    if (reply.ok || strcmp (reply.code, "not_an_operator") != 0 ||
        !strstr (reply.reason, "operators directory of the node that owns the target"))
        fail_msg ("$resend through n1 to n2's account/a: %s %s", reply.ok ? "accepted" : reply.code,
                  reply.reason);
    client_reply_close (&reply);
    s_call (app, ENVELOPE_COMMAND, "account/a", "Deposit", NULL, "amount=3", &reply);
    assert_true (reply.ok); //  a client's request: n1 judged the client
    client_reply_close (&reply);

    assert_int_equal (
        proc_run (p, NULL, NULL, "cp \"$DIR/c/n1/operators/app.cert\" \"$DIR/c/n2/operators/\""),
        0);
    s_call_until (app, ENVELOPE_COMMAND, "account/a", "$resend", "", "");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log,
                     "n2 INFO shoal node: command $resend to account/a by the operator of key ");
    proc_assert_has (log, ", through node n1");

    //  Its key taken out of n2's directories, and still in n1's: through
    //  n1, n2 refuses it key_revoked, and the Deposit refused is not run.
    //  Before, n2 judged an operator's act alone, and served a key it had
    //  taken back to any client of a node that still let it in.
    assert_int_equal (proc_run (p, NULL, NULL,
                                "rm \"$DIR/c/n2/clients/app.cert\" "
                                "\"$DIR/c/n2/operators/app.cert\""),
                      0);
    int64_t deadline = proc_now_ms () + CHANGE_MS;
    int taken = 0; //  Deposits taken before n2 saw its directories change
    while (true) {
        char name[32];
        uint8_t id[ENVELOPE_ID_SIZE];
        snprintf (name, sizeof name, "deposit %d", taken);
        client_id_from_string (name, id);
        s_call (app, ENVELOPE_COMMAND, "account/a", "Deposit", id, "amount=5", &reply);
        if (!reply.ok || proc_now_ms () > deadline)
            break;
        client_reply_close (&reply);
        taken++;
        usleep (50 * 1000); //  between two asks, within the deadline
    }
    if (reply.ok || strcmp (reply.code, "key_revoked") != 0 ||
        !strstr (reply.reason, "by the node that owns the target"))
        fail_msg ("Deposit through n1 by a key n2 took back: %s %s",
                  reply.ok ? "accepted" : reply.code, reply.reason);
    client_reply_close (&reply);
    client_t *op = s_client (p, "c");
    s_call (op, ENVELOPE_QUERY, "account/a", "get", NULL, "", &reply);
    int64_t balance = -1;
    assert_true (reply.ok);
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    client_destroy (&op);
    client_destroy (&app);
    if (balance != 3 + 5 * taken) //  the refused Deposit did not run
        fail_msg ("account/a's balance %lld, not %d: a refused Deposit ran", (long long) balance,
                  3 + 5 * taken);
}

//  --------------------------------------------------------------------------
//  4. `shoal cluster rekey --operator`: a new operator's certificate in
//     DIR/c/client.cert and each node's operators/ (the node's own, here:
//     the node runs from the directory the command writes). The old
//     key's open connection is refused key_revoked within a deadline,
//     and the new certificate is an operator's; the map is unchanged.

static void test_operator_rekeyed (void **state)
{
    proc_t *p = *state;
    client_t *old = s_client (p, "c");
    s_acts (old, "");
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, NULL, "cp \"$DIR/c/cluster.cfg\" \"$DIR/map.before\""), 0);
    assert_int_equal (
        proc_run (p, out, err, "timeout 60 \"$SHOAL\" cluster rekey --operator --dir \"$DIR/c\""),
        0);
    proc_assert_has (out, "rekeyed the operator: public key ");
    proc_assert_has (out, "/n1/operators/client.cert: copy it to node n1's operators/");
    assert_int_equal (proc_run (p, NULL, NULL, "cmp \"$DIR/c/cluster.cfg\" \"$DIR/map.before\""),
                      0);
    s_call_until (old, ENVELOPE_QUERY, "account/a", "get", "", "key_revoked");
    client_t *renewed = s_client (p, "c");
    s_acts (renewed, "");
    client_destroy (&renewed);
    client_destroy (&old);
}

//  --------------------------------------------------------------------------
//  5. A node started without operators/ (a cluster made before operators
//     were told apart) takes every client for an operator, and says so;
//     the directory made later is read, and its keys alone are operators'
//     from then on, on the same connections. Before, the node took every
//     client for an operator until a restart. Gone again, it makes no
//     client an operator (nor does one that cannot be read).

static int s_setup_no_operators (void **state)
{
    proc_t *p = s_make ("keys0", 1, "n1/clients/app.cert");
    assert_int_equal (
        proc_run (p, NULL, NULL, "mv \"$DIR/c/n1/operators\" \"$DIR/c/operators.away\""), 0);
    proc_node_start (p, "\"$SHOAL\" node --cluster \"$DIR/c/cluster.cfg\" --name n1 --workers 1 "
                        "--metrics off");
    *state = p;
    return 0;
}

static void test_operators_made_later (void **state)
{
    proc_t *p = *state;
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "no operators directory");
    client_t *app = s_client (p, "app");
    client_reply_t reply;
    s_call (app, ENVELOPE_COMMAND, "account/a", "Open", NULL, "owner=A", &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    s_acts (app, ""); //  every client an operator

    assert_int_equal (
        proc_run (p, NULL, NULL, "mv \"$DIR/c/operators.away\" \"$DIR/c/n1/operators\""), 0);
    s_call_until (app, ENVELOPE_COMMAND, "account/a", "$resend", "", "not_an_operator");
    s_acts (app, "not_an_operator");
    client_t *op = s_client (p, "c");
    s_acts (op, "");
    client_destroy (&op);

    //  Gone again once seen (moved away while it is edited, say): no
    //  client is an operator until it is back, where every client was.
    assert_int_equal (
        proc_run (p, NULL, NULL, "mv \"$DIR/c/n1/operators\" \"$DIR/c/operators.away\""), 0);
    int64_t deadline = zclock_mono () + CHANGE_MS;
    for (proc_read (p, "node.log", log); !strstr (log, "operators is gone");
         proc_read (p, "node.log", log)) {
        if (zclock_mono () > deadline)
            fail_msg ("the node never said its operators directory is gone");
        zclock_sleep (100); //  between two asks, within the deadline
    }
    s_acts (app, "not_an_operator");
    client_destroy (&app);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_keys: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_client_key_revoked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_key_written_over, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_operator_moved_to_clients, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_operator_of_another_node, s_setup_two, s_teardown),
        cmocka_unit_test_setup_teardown (test_operator_rekeyed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_operators_made_later, s_setup_no_operators,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
