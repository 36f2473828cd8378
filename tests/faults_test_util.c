/*  faults_test_util.c - what test_faults_*.c share (faults_test_util.h says what each is).
 */
#include "books.h"
#include "client.h"
#include "node_child.h"
#include "proc.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults_test_util.h"

int faults_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-faults", f->dir, sizeof f->dir), 0);
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->log, sizeof f->log, "%s/node.log", f->dir);
    snprintf (f->out, sizeof f->out, "%s/cmd.out", f->dir);
    f->rand = 13;
    *state = f;
    return 0;
}

int faults_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    if (f->mounted)
        umount2 (f->disk, MNT_DETACH);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f->requests);
    free (f);
    return 0;
}

void faults_mount_small_disk (fixture_t *f)
{
    assert_int_equal (mkdir (f->disk, 0700), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=8m") != 0)
        fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root (uid %d here), as "
                  "in CI: it is not skipped",
                  f->disk, strerror (errno), (int) getuid ());
    f->mounted = true;
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
}

void faults_start (fixture_t *f, const char *durability)
{
    char *extra[] = {"--workers",
                     "2",
                     "--durability",
                     (char *) durability,
                     "--projections",
                     f->no_projections ? "off" : "on",
                     NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, f->log,
                               WAIT_MS);
    if (rc)
        fail_msg ("shoal node did not start: %s (see %s)", shoal_strerror (rc), f->log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
    for (size_t i = 0; i < f->count; i++)
        f->requests[i].waiting = false;
    f->waiting = 0;
}

request_t *faults_add (fixture_t *f, const char *to, const char *name, ...)
{
    if (f->count == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 256;
        f->requests = realloc (f->requests, f->cap * sizeof (request_t));
        assert_non_null (f->requests);
    }
    request_t *request = &f->requests[f->count];
    memset (request, 0, sizeof *request);
    snprintf (request->to, sizeof request->to, "%s", to);
    snprintf (request->name, sizeof request->name, "%s", name);
    va_list args;
    va_start (args, name);
    for (char *field = va_arg (args, char *); field && request->field_count < 3;
         field = va_arg (args, char *))
        snprintf (request->fields[request->field_count++], sizeof request->fields[0], "%s", field);
    va_end (args);
    char text[64];
    snprintf (text, sizeof text, "faults-%zu", f->count++);
    client_id_from_string (text, request->id);
    return request;
}

void faults_add_deposit (fixture_t *f)
{
    faults_add (f, "account/a", "Deposit", "amount=1", NULL)->deposit = true;
}

static void s_send (fixture_t *f, request_t *request)
{
    char *fields[3] = {request->fields[0], request->fields[1], request->fields[2]};
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (
        client_fields (request->field_count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t envelope;
    client_request (&envelope, ENVELOPE_COMMAND, request->id, request->to, request->name, payload,
                    size);
    assert_int_equal (client_send (f->client, &envelope), 0);
    free (payload);
    request->waiting = true;
    request->sent_at = zclock_mono ();
    f->waiting++;
}

//  Takes one answer in, waiting at most timeout_ms: ok acknowledges its
//  command; `unavailable` (or `busy`) has it asked again 20 ms later; any
//  other answer fails the test. Returns false if none came.
static bool s_take (fixture_t *f, int timeout_ms)
{
    client_reply_t reply;
    int rc = client_recv (f->client, timeout_ms, &reply);
    if (rc == SHOAL_ETIMEOUT)
        return false;
    assert_int_equal (rc, 0);
    request_t *request = NULL;
    for (size_t i = 0; i < f->count && !request; i++)
        if (memcmp (f->requests[i].id, reply.correlation, ENVELOPE_ID_SIZE) == 0)
            request = &f->requests[i];
    assert_non_null (request);
    if (request->waiting) {
        request->waiting = false;
        f->waiting--;
    }
    if (reply.ok) {
        f->acked += request->deposit && !request->acked;
        request->acked = true;
    } else if (client_reply_transient (&reply)) {
        f->refused++;
        //  Named first, whole, with what to do (it was cut, at 255 bytes,
        //  before its advice, after a path and LevelDB's words).
        if (f->full && streq (reply.code, "unavailable") &&
            !(strstr (reply.reason, "No space left on device") &&
              strstr (reply.reason, "the node's disk is full") &&
              strstr (reply.reason, "takes commands again by itself")) &&
            f->unnamed++ == 0)
            snprintf (f->first_unnamed, sizeof f->first_unnamed, "%s", reply.reason);
        request->retry_at = zclock_mono () + 20;
    } else
        fail_msg ("%s %s refused: %s %s", request->to, request->name, reply.code, reply.reason);
    client_reply_close (&reply);
    return true;
}

//  True once every command is acknowledged.
static bool faults_all_acked (fixture_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        if (!f->requests[i].acked)
            return false;
    return true;
}

void faults_pump (fixture_t *f, bool (*done) (fixture_t *))
{
    int64_t deadline = zclock_mono () + 4 * WAIT_MS;
    while (!(done ? done (f) : faults_all_acked (f))) {
        int64_t now = zclock_mono ();
        for (size_t i = 0; i < f->count; i++) {
            request_t *request = &f->requests[i];
            if (request->waiting && now - request->sent_at > WAIT_MS)
                fail_msg ("%s %s: no answer in %d ms", request->to, request->name, WAIT_MS);
            if (!request->acked && !request->waiting && request->retry_at <= now &&
                f->waiting < (f->window ? f->window : WINDOW))
                s_send (f, request);
        }
        if (now > deadline) {
            size_t acked = 0;
            for (size_t i = 0; i < f->count; i++)
                acked += f->requests[i].acked;
            fail_msg ("%zu of %zu commands acknowledged after %d ms (%lld unavailable answers; "
                      "see %s)",
                      acked, f->count, 4 * WAIT_MS, (long long) f->refused, f->log);
        }
        s_take (f, 20);
    }
}

int64_t faults_books (fixture_t *f, books_summary_t *summary)
{
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, f->data, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", f->data, error ? error : "");
    books_summary_t local;
    summary = summary ? summary : &local;
    int verified = books_verify (books, summary);
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        if (summary->broken[i])
            print_error ("%s broken: %s\n", books_invariant_name ((books_invariant_t) i),
                         summary->first[i]);
    assert_int_equal (verified, 0);
    const books_account_t *account = books_account (books, "account/a");
    int64_t balance = account ? account->balance : 0;
    books_destroy (&books);
    return balance;
}

int faults_run (fixture_t *f, char **output, ...)
{
    char *argv[16] = {getenv ("SHOAL_BIN")};
    int argc = 1;
    va_list args;
    va_start (args, output);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    return proc_run_argv (argv, "/dev/null", f->out, output);
}

void faults_refused (fixture_t *f, ...)
{
    char *output = NULL;
    int code = faults_run (f, &output, "node", "--data", f->data, "--endpoint", f->endpoint, NULL);
    print_message ("refused (exit %d): %s", code, output);
    assert_int_not_equal (code, 0);
    va_list args;
    va_start (args, f);
    for (const char *word = va_arg (args, const char *); word; word = va_arg (args, const char *))
        if (!strstr (output, word)) {
            va_end (args);
            fail_msg ("the node's message lacks '%s': %s", word, output);
        }
    va_end (args);
    free (output);
}

void faults_fill_store (fixture_t *f, int deposits, int sig)
{
    f->window = 1; //  one deposit a batch: the damage tests know the log's layout
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    faults_pump (f, NULL);
    for (int i = 0; i < deposits; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, sig);
}
