/*  powerloss_test_util.c - what test_powerloss_*.c share (powerloss_test_util.h says what each is).
 */
#include "books.h"
#include "harness.h"
#include "client.h"
#include "cluster.h"
#include "node_child.h"
#include "powerloss_apply.h"

#include <czmq.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include "powerloss_test_util.h"

int powerloss_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-powerloss", f->dir, sizeof f->dir), 0);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->log, sizeof f->log, "%s/node.log", f->dir);
    f->fail_syncs = -1;
    *state = f;
    return 0;
}

int powerloss_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

void powerloss_name_round (fixture_t *f, const char *name)
{
    assert_true (snprintf (f->data, sizeof f->data, "%s/data-%s", f->dir, name) <
                 (int) sizeof f->data);
    assert_true (snprintf (f->pl_log, sizeof f->pl_log, "%s/powerloss-%s.log", f->dir, name) <
                 (int) sizeof f->pl_log);
}

void powerloss_start (fixture_t *f, const char *durability, bool preload)
{
    harness_env_t saved = {0};
    if (preload) {
        const char *library = getenv ("SHOAL_POWERLOSS");
        assert_non_null (library);
        //  A lean one keeps 8 MiB of freed memory in quarantine, not 256:
        //  its peak RSS tells what it used.
        harness_preload_begin (library, f->lean ? "quarantine_size_mb=8" : NULL, &saved);
        setenv ("SHOALPL_DIR", f->data, 1);
        setenv ("SHOALPL_LOG", f->pl_log, 1);
        if (f->open_fails_ms > 0) {
            char fails[32];
            snprintf (fails, sizeof fails, "%d", f->open_fails_ms);
            setenv ("SHOALPL_FAIL_NEW_LOG_OPENS_MS", fails, 1);
        }
        if (f->slow_ms > 0) {
            char slow[32];
            snprintf (slow, sizeof slow, "%d", f->slow_ms);
            setenv ("SHOALPL_SLOW_LOG_SYNC_MS", slow, 1);
        }
        if (f->fail_syncs >= 0) {
            char fail[32];
            snprintf (fail, sizeof fail, "%d", f->fail_syncs);
            setenv ("SHOALPL_FAIL_LOG_SYNCS", fail, 1);
        }
    }
    char *extra[] = {"--workers", "2", "--durability", (char *) durability, NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, f->log,
                               WAIT_MS);
    if (preload) {
        unsetenv ("SHOALPL_DIR");
        unsetenv ("SHOALPL_LOG");
        unsetenv ("SHOALPL_FAIL_LOG_SYNCS");
        unsetenv ("SHOALPL_SLOW_LOG_SYNC_MS");
        unsetenv ("SHOALPL_FAIL_NEW_LOG_OPENS_MS");
        harness_preload_end (&saved);
    }
    if (rc)
        fail_msg ("shoal node (%s%s) did not start: %s (see %s)", durability,
                  preload ? ", preloaded" : "", shoal_strerror (rc), f->log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
}

bool powerloss_command (fixture_t *f, const char *name, char *field)
{
    char text[64];
    snprintf (text, sizeof text, "powerloss-%d", f->next_id++);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (text, id);
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (1, &field, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, "account/a", name, payload, size);
    client_reply_t reply;
    int rc = client_call (f->client, &request, 10000, &reply);
    free (payload);
    if (rc)
        fail_msg ("%s %s: no answer (%s)", name, text, shoal_strerror (rc));
    bool ok = reply.ok;
    if (!ok)
        fail_msg ("%s %s refused: %s %s", name, text, reply.code, reply.reason);
    client_reply_close (&reply);
    return ok;
}

//  The id of command index: "powerloss" and the index, big-endian.
static void s_index_id (int index, uint8_t id[ENVELOPE_ID_SIZE])
{
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, "powerloss", 9);
    for (int i = 0; i < 4; i++)
        id[ENVELOPE_ID_SIZE - 1 - i] = (uint8_t) ((unsigned) index >> (8 * i));
}

void powerloss_send_command (fixture_t *f, const char *address, const char *name, int index,
                             char *a, char *b, char *c)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_index_id (index, id);
    char *fields[] = {a, b, c};
    int count = c ? 3 : b ? 2 : a ? 1 : 0;
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, address, name, payload, size);
    assert_int_equal (client_send (f->client, &request), 0);
    free (payload);
}

int powerloss_transfer_index (const client_reply_t *reply)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_index_id (0, id);
    if (memcmp (id, reply->correlation, ENVELOPE_ID_SIZE - 4) != 0)
        return -1;
    unsigned index = 0;
    for (int i = ENVELOPE_ID_SIZE - 4; i < ENVELOPE_ID_SIZE; i++)
        index = index << 8 | reply->correlation[i];
    return (int) index;
}

int64_t powerloss_balance (fixture_t *f)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, id, "account/a", "get", NULL, 0);
    client_reply_t reply;
    int rc = client_call (f->client, &request, 10000, &reply);
    if (rc)
        fail_msg ("get account/a: no answer (%s)", shoal_strerror (rc));
    int64_t balance = 0;
    if (reply.ok && reply_state_int (&reply, "balance", &balance) != 0)
        balance = 0;
    client_reply_close (&reply);
    return balance;
}

int64_t powerloss_dir_balance (const char *dir)
{
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, dir, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", dir, error ? error : "");
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    const books_account_t *account = books_account (books, "account/a");
    int64_t balance = account ? account->balance : 0;
    books_destroy (&books);
    return balance;
}

int64_t powerloss_books_balance (fixture_t *f)
{
    return powerloss_dir_balance (f->data);
}

char *powerloss_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = calloc (1, 1 << 20);
    if (text)
        fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    return text;
}
