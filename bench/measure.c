/*  measure.c - showing a run's progress and measuring a node process.
    See measure.h. measure_timed_start runs a czmq actor (a second thread)
    for its probe; everything else runs on the caller's thread.
*/
#include "measure.h"
#include "threadname.h"
#include "client_window.h"

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char s_note[128]; //  progress_note's; the run's one thread only

void progress_note (const char *note)
{
    snprintf (s_note, sizeof s_note, "%s", note ? note : "");
}

void progress_show (const char *label, size_t done, size_t total, bool force)
{
    static int last_decile = -1;
    static const char *last_label;
    if (last_label != label) {
        last_label = label;
        last_decile = -1;
    }
    if (isatty (STDERR_FILENO)) {
        int width = 40;
        int filled = total ? (int) ((double) done / (double) total * width) : width;
        fprintf (stderr, "\r  %-22s [", label);
        for (int i = 0; i < width; i++)
            fputc (i < filled ? '#' : '.', stderr);
        //  The note padded, so that a shorter one covers the last.
        fprintf (stderr, "] %zu/%zu%s%-*s", done, total, s_note[0] ? "  " : "", s_note[0] ? 60 : 0,
                 s_note);
        if (done >= total || force)
            fputc ('\n', stderr);
        fflush (stderr);
        return;
    }
    int decile = total ? (int) (done * 10 / total) : 10;
    if (decile != last_decile || force) {
        last_decile = decile;
        fprintf (stderr, "  %s: %zu/%zu%s%s\n", label, done, total, s_note[0] ? "  " : "", s_note);
    }
}

//  --------------------------------------------------------------------------
//  Measuring a node process

//  The field of /proc/PID/status named field (with its colon), in KiB.
static int64_t s_status_kb (pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    int64_t kb = 0;
    size_t len = strlen (field);
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, len) == 0)
            kb = atoll (line + len);
    if (file)
        fclose (file);
    return kb;
}

int64_t measure_rss_kb (pid_t pid)
{
    return s_status_kb (pid, "VmRSS:");
}

int64_t measure_rss_anon_kb (pid_t pid)
{
    return s_status_kb (pid, "RssAnon:");
}

int64_t measure_cpu_us (pid_t pid)
{
    char path[64];
    int64_t us;
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    return thread_stat (path, &us, NULL) == 0 ? us : -1;
}

//  The entry of *threads named name, made if there is room, else "other".
static measure_thread_t *s_thread_entry (measure_threads_t *threads, const char *name)
{
    for (size_t i = 0; i < threads->count; i++)
        if (strcmp (threads->threads[i].name, name) == 0)
            return &threads->threads[i];
    if (threads->count >= MEASURE_THREADS_MAX - 1 && strcmp (name, "other") != 0)
        return s_thread_entry (threads, "other");
    measure_thread_t *entry = &threads->threads[threads->count++];
    *entry = (measure_thread_t){.us = 0};
    snprintf (entry->name, sizeof entry->name, "%s", name);
    return entry;
}

#define MEASURE_TASKS_MAX 256 //  a node has about 15 threads

int measure_threads_cpu (pid_t pid, measure_threads_t *threads)
{
    thread_info_t *tasks = calloc (MEASURE_TASKS_MAX, sizeof (thread_info_t));
    int listed = tasks ? thread_list ((int) pid, tasks, MEASURE_TASKS_MAX) : -1;
    if (listed < 0) {
        free (tasks);
        return -1;
    }
    size_t count = (size_t) listed;
    //  LevelDB's compaction thread until the node renames it (within a
    //  second, threadname.h): the later started of two threads of one
    //  "shoal" name, not the main thread (the node knows which named
    //  itself; from outside, its starter is the earlier).
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < count; j++)
            if (strncmp (tasks[i].name, "shoal", 5) == 0 && tasks[i].tid != (long) pid &&
                (tasks[j].started < tasks[i].started ||
                 (tasks[j].started == tasks[i].started && tasks[j].tid < tasks[i].tid)) &&
                strcmp (tasks[i].name, tasks[j].name) == 0) {
                snprintf (tasks[i].name, sizeof tasks[i].name, "shoal-leveldb");
                break;
            }
    for (size_t i = 0; i < count; i++)
        s_thread_entry (threads, tasks[i].name[0] ? tasks[i].name : "?")->us += tasks[i].cpu_us;
    free (tasks);
    return 0;
}

void measure_threads_span (const measure_threads_t *before, const measure_threads_t *after,
                           measure_threads_t *span)
{
    *span = *after;
    for (size_t i = 0; i < span->count; i++)
        for (size_t j = 0; j < before->count; j++)
            if (strcmp (span->threads[i].name, before->threads[j].name) == 0) {
                span->threads[i].us -= before->threads[j].us;
                if (span->threads[i].us < 0)
                    span->threads[i].us = 0; //  a thread of that name ended
                break;
            }
}

int64_t measure_self_cpu_us (void)
{
    struct rusage usage;
    if (getrusage (RUSAGE_SELF, &usage) != 0)
        return -1;
    return (int64_t) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

//  Sends a query on client and waits for its reply. Returns 0 with reply
//  accepted (to close), or a negative code.
static int s_query (client_t *client, const char *to, const char *name, int timeout_ms,
                    client_reply_t *reply)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, to, name, NULL, 0);
    int rc = client_call (client, &request, timeout_ms, reply);
    if (rc == 0 && !reply->ok) {
        fprintf (stderr, "%s: %s of %s rejected: %s %s\n", driver_command, name, to, reply->code,
                 reply->reason);
        client_reply_close (reply);
        rc = SHOAL_EREJECTED;
    }
    return rc;
}

int measure_timed_get (const char *endpoint, const char *address, double *ms, int64_t *version)
{
    client_t *client = client_new (endpoint);
    if (!client)
        return SHOAL_EINVAL;
    client_reply_t reply;
    int rc = s_query (client, "node/stats", "stats", 10000, &reply);
    if (rc == 0) {
        client_reply_close (&reply);
        int64_t start = zclock_usecs ();
        rc = s_query (client, address, "get", 600000, &reply);
        *ms = (double) (zclock_usecs () - start) / 1000.0;
        if (rc == 0) {
            map_int (reply.data, reply.size, "version", version);
            client_reply_close (&reply);
        }
    }
    client_destroy (&client);
    return rc;
}

//  The probe: asks for address at endpoint from before the node is
//  spawned until an answer comes, over a socket that tries to reconnect
//  every millisecond. Signals its pipe once answered.
typedef struct {
    char endpoint[128];
    char address[SHOAL_ADDRESS_MAX + 1];
    int64_t answered_us; //  zclock_usecs of the first accepted reply
} probe_t;

static void s_probe (zsock_t *pipe, void *arg)
{
    probe_t *probe = arg;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zsock_set_reconnect_ivl (dealer, 1);
    zsock_connect (dealer, "%s", probe->endpoint);
    zsock_signal (pipe, 0);
    bool answered = false, terminated = false;
    int64_t next_send = 0;
    while (!terminated) {
        int64_t now = zclock_mono ();
        if (!answered && now >= next_send) {
            //  Queued by ZeroMQ until the connection is up; sent again only
            //  if it was refused or went unanswered for a second.
            envelope_t request;
            client_request (&request, ENVELOPE_QUERY, NULL, probe->address, "get", NULL, 0);
            uint8_t *frame;
            size_t size;
            if (envelope_encode (&request, &frame, &size) == 0) {
                zmq_send (zsock_resolve (dealer), frame, size, ZMQ_DONTWAIT);
                free (frame);
            }
            next_send = now + 1000;
        }
        zmq_pollitem_t items[] = {{zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 5) <= 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zframe_t *frame = zframe_recv (dealer);
            envelope_t envelope;
            bool ok = false;
            char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
            const uint8_t *data;
            size_t size;
            if (frame && !answered &&
                envelope_decode (&envelope, zframe_data (frame), zframe_size (frame)) == 0 &&
                envelope_reply_decode (envelope.payload, envelope.payload_size, &ok, code, reason,
                                       &data, &size) == 0) {
                if (ok) {
                    probe->answered_us = zclock_usecs ();
                    answered = true;
                    zsock_signal (pipe, 0);
                } else
                    next_send = 0;
            }
            zframe_destroy (&frame);
        }
    }
    zsock_destroy (&dealer);
}

int measure_timed_start (node_child_t *node, const char *data_dir, const char *endpoint,
                         char *const *extra, const char *address, double *ready_ms,
                         double *answer_ms)
{
    probe_t probe = {.answered_us = 0};
    snprintf (probe.endpoint, sizeof probe.endpoint, "%s", endpoint);
    snprintf (probe.address, sizeof probe.address, "%s", address);
    zactor_t *actor = zactor_new (s_probe, &probe);
    if (!actor)
        return SHOAL_ENOMEM;
    int64_t spawn = zclock_usecs ();
    int rc = node_child_start (node, NULL, data_dir, endpoint, extra, NULL, 120000);
    *ready_ms = (double) (zclock_usecs () - spawn) / 1000.0;
    if (rc == 0) {
        zmq_pollitem_t item = {zsock_resolve (actor), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 120000) == 1 && zsock_wait (actor) == 0)
            *answer_ms = (double) (probe.answered_us - spawn) / 1000.0;
        else
            rc = SHOAL_ETIMEOUT;
    }
    //  No SIGINT nor SIGTERM here while the probe is joined: zactor_destroy's
    //  wait would end with EINTR and leave the thread on this frame.
    sigset_t stop, was;
    sigemptyset (&stop);
    sigaddset (&stop, SIGINT);
    sigaddset (&stop, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop, &was);
    zactor_destroy (&actor);
    pthread_sigmask (SIG_SETMASK, &was, NULL);
    if (rc)
        fprintf (stderr, "%s: the node did not answer: %s\n", driver_command, shoal_strerror (rc));
    return rc;
}
