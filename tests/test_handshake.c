/*  test_handshake.c - process tests of what a node does with connections
    that never say a word: a CURVE cluster node of one (`shoal cluster init
    --nodes 1`) whose client and peer endpoints are TCP on loopback, on
    free ports (tcp://127.0.0.1:*, read from /proc), keys of its own, and
    many bare TCP connections to each endpoint that send nothing.

    The node must close each one within its handshake interval (3 s,
    FRONT_HANDSHAKE_IVL_MS and PEERS_HANDSHAKE_IVL_MS): with libzmq's
    default of 30 s, about 1,000 such connections took every file
    descriptor of a node, and LevelDB could then open no file. A node whose
    descriptors such connections took serves clients again once they are
    closed, and raises its own limit of open files to the hard limit.

    ctest sets SHOAL_BIN. Each test has its own temporary directory (proc.h);
    the teardown kills the node and removes it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BARE 100           //  bare connections to each endpoint
#define HANDSHAKE_MS 3000  //  the node's handshake interval
#define CLOSED_MS 9000     //  each is closed by then (libzmq's default: 30000)
#define PORTS_MAX 8        //  listening ports of the node at most
#define NODE_FDS 160       //  the node's descriptors in the exhaustion test
#define EXHAUST (NODE_FDS) //  bare connections that take them all

static int s_setup (void **state)
{
    proc_t *p = proc_new ("handshake");
    char err[PROC_OUTPUT_MAX];
    //  A cluster of one with keys of its own, then TCP on loopback, on
    //  ports the kernel picks: nothing else can reach it or take them.
    int code = proc_run (p, NULL, err,
                         "timeout 60 \"$SHOAL\" cluster init --nodes 1 --shards 16 --ipc "
                         "--dir \"$DIR/c\" && sed -i -e 's|^\\( *\\)client = .*|\\1client = "
                         "\"tcp://127.0.0.1:*\"|' -e 's|^\\( *\\)peer = .*|\\1peer = "
                         "\"tcp://127.0.0.2:*\"|' \"$DIR/c/cluster.cfg\"");
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    *state = p;
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  The TCP ports process pid listens on (IPv4; with their addresses in
//  network order), at most max. Returns how many. /proc/net/tcp is read
//  in pieces, not as a snapshot: while other processes open and close
//  sockets a line can come twice (or not at all), so a socket is counted
//  once, by its inode.
static int s_listening_ports (pid_t pid, int *ports, unsigned *addresses, int max)
{
    unsigned long seen[PORTS_MAX];
    unsigned long inodes[1024];
    size_t count = (size_t) proc_socket_inodes ((int) pid, inodes, 1024);
    int found = 0;
    FILE *file = fopen ("/proc/net/tcp", "r");
    assert_non_null (file);
    char line[512];
    while (fgets (line, sizeof line, file) && found < max) {
        //  sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        unsigned address, port;
        char state[8];
        unsigned long inode;
        if (sscanf (line, "%*s %x:%x %*s %7s %*s %*s %*s %*s %*s %lu", &address, &port, state,
                    &inode) != 4 ||
            strcmp (state, "0A") != 0)
            continue;
        bool again = false;
        for (int i = 0; i < found; i++)
            again |= seen[i] == inode;
        for (size_t i = 0; i < count && !again; i++)
            if (inodes[i] == inode) {
                seen[found] = inode;
                addresses[found] = address; //  /proc prints it in network order
                ports[found++] = (int) port;
                break;
            }
    }
    fclose (file);
    return found;
}

//  Starts the node (its descriptors limited to fds if not 0) and finds
//  its client port (from the ready line) and its peer port (the other
//  one it listens on).
static void s_start (proc_t *p, int fds, int *client, int *peer)
{
    char limit[64] = "";
    if (fds) //  soft and hard: the node may not raise it
        snprintf (limit, sizeof limit, "prlimit --nofile=%d:%d -- ", fds, fds);
    proc_node_start (p,
                     "%s\"$SHOAL\" node --cluster \"$DIR/c/cluster.cfg\" --name n1 --workers 1 "
                     "--metrics off",
                     limit);
    char out[PROC_OUTPUT_MAX];
    proc_read (p, "node.out", out);
    const char *ready = strstr (out, "ready on tcp://127.0.0.1:");
    assert_non_null (ready);
    *client = atoi (ready + strlen ("ready on tcp://127.0.0.1:"));
    int ports[PORTS_MAX];
    unsigned addresses[PORTS_MAX];
    //  A read that missed a line (see s_listening_ports) is read again.
    int count = 0;
    for (int64_t deadline = proc_now_ms () + 5000; proc_now_ms () < deadline;)
        if ((count = s_listening_ports (p->node, ports, addresses, PORTS_MAX)) == 2)
            break;
    assert_int_equal (count, 2);
    int at = addresses[0] == htonl (INADDR_LOOPBACK) ? 1 : 0;
    *peer = ports[at];
    assert_int_equal (ports[1 - at], *client);
    assert_int_equal (addresses[at], htonl (0x7f000002)); //  127.0.0.2
    //  The clients' copy of the map: the ports the node took.
    assert_int_equal (proc_run (p, NULL, NULL,
                                "sed -e 's|client = .*|client = \"tcp://127.0.0.1:%d\"|' "
                                "-e 's|peer = .*|peer = \"tcp://127.0.0.2:%d\"|' "
                                "\"$DIR/c/cluster.cfg\" > \"$DIR/c/ports.cfg\"",
                                *client, *peer),
                      0);
}

//  A TCP connection to host:port that will say nothing. Returns its
//  descriptor, or -1 if the connection was refused or failed.
static int s_bare (const char *host, int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    assert_int_equal (inet_pton (AF_INET, host, &address.sin_addr), 1);
    if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

//  Reads what fd has without waiting. Returns 1 once the node closed it
//  (end of file or reset), else 0. *greeted is set when its first byte is
//  ZMTP's signature (0xFF): a ZeroMQ endpoint answered.
static int s_closed (int fd, bool *greeted, bool *first)
{
    unsigned char buffer[256];
    while (true) {
        ssize_t n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            if (*first)
                *greeted = buffer[0] == 0xFF;
            *first = false;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return 1;
        return 0;
    }
}

//  Waits until the node closed each of the count descriptors in fds, at
//  most ms after now; fails the test, naming how many are still open,
//  if not. Closes them all. Returns the ms the last one took.
static int64_t s_wait_closed (int *fds, int count, int64_t ms, const char *what)
{
    int64_t start = proc_now_ms (), deadline = start + ms;
    bool greeted[EXHAUST + BARE] = {false}, first[EXHAUST + BARE];
    bool closed[EXHAUST + BARE] = {false};
    assert_true (count <= EXHAUST + BARE);
    for (int i = 0; i < count; i++)
        first[i] = true;
    int open = count;
    while (open > 0 && proc_now_ms () < deadline) {
        for (int i = 0; i < count; i++)
            if (!closed[i] && s_closed (fds[i], &greeted[i], &first[i])) {
                closed[i] = true;
                open--;
            }
        if (open)
            usleep (20 * 1000);
    }
    int64_t took = proc_now_ms () - start;
    int greetings = 0;
    for (int i = 0; i < count; i++) {
        greetings += greeted[i];
        close (fds[i]);
    }
    if (open)
        fail_msg ("%s: %d of %d bare connections still open after %lld ms", what, open, count,
                  (long long) took);
    //  Closed by a ZeroMQ endpoint that greeted them, not refused.
    assert_int_equal (greetings, count);
    return took;
}

//  --------------------------------------------------------------------------
//  1. BARE connections to the client endpoint and BARE to the peer
//     endpoint, none of which sends a byte: the node greets each and
//     closes it within its handshake interval (before: 30 s), and serves a
//     client with the cluster's keys beside them.

static void test_idle_connections_are_closed (void **state)
{
    proc_t *p = *state;
    int client, peer;
    s_start (p, 0, &client, &peer);
    int fds[2 * BARE];
    for (int i = 0; i < BARE; i++) {
        fds[i] = s_bare ("127.0.0.1", client);
        fds[BARE + i] = s_bare ("127.0.0.2", peer);
        assert_true (fds[i] >= 0 && fds[BARE + i] >= 0);
    }
    //  A client with keys is served while they wait.
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int code = proc_run (p, out, err,
                         "timeout 60 \"$SHOAL\" send --cluster \"$DIR/c/ports.cfg\" "
                         "account/alice Open owner=Alice");
    if (code != 0)
        fail_msg ("send: exit %d: %s%s", code, out, err);
    int64_t took = s_wait_closed (fds, BARE, CLOSED_MS, "client endpoint");
    took += s_wait_closed (fds + BARE, BARE, CLOSED_MS - took, "peer endpoint");
    print_message ("the node closed %d idle connections in %lld ms\n", 2 * BARE, (long long) took);
    //  Closed by the handshake timer, not at once (by a limit, say).
    assert_true (took >= HANDSHAKE_MS / 2);
}

//  --------------------------------------------------------------------------
//  2. A node of NODE_FDS descriptors, and EXHAUST bare connections to its
//     client endpoint: they take every descriptor it has (the last ones
//     wait in the listen backlog). Once the node closed them, a client is
//     served again, and the node took no harm.

static void test_exhausted_descriptors_come_back (void **state)
{
    proc_t *p = *state;
    int client, peer;
    s_start (p, NODE_FDS, &client, &peer);
    int fds[EXHAUST];
    int count = 0;
    for (int i = 0; i < EXHAUST; i++)
        if ((fds[count] = s_bare ("127.0.0.1", client)) >= 0)
            count++;
    assert_true (count > NODE_FDS / 2);
    s_wait_closed (fds, count, CLOSED_MS + HANDSHAKE_MS, "client endpoint, every fd taken");
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int code = proc_run (p, out, err,
                         "timeout 60 \"$SHOAL\" send --cluster \"$DIR/c/ports.cfg\" "
                         "account/bob Open owner=Bob");
    if (code != 0) {
        char log[PROC_OUTPUT_MAX];
        proc_read (p, "node.log", log);
        fail_msg ("send after the exhaustion: exit %d: %s%s\nnode: %s", code, out, err, log);
    }
    assert_true (p->node > 0);
}

//  --------------------------------------------------------------------------
//  3. The node raises its soft limit of open files to the hard one, and
//     warns when that is low (before: a soft limit of 1,024 stayed).

static void test_files_limit_raised (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, "prlimit --nofile=256:8192 -- \"$SHOAL\" node --endpoint \"$E\" "
                        "--data \"$DIR/data\" --workers 1 --metrics off");
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_sh (out, sizeof out, "prlimit --pid %d --nofile --noheadings --raw", (int) p->node),
        0);
    proc_assert_has (out, "8192 8192");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_null (strstr (log, "open files"));
    proc_node_signal (p, SIGTERM);

    proc_node_start (p, "prlimit --nofile=256:512 -- \"$SHOAL\" node --endpoint \"$E\" "
                        "--data \"$DIR/data\" --workers 1 --metrics off");
    proc_read (p, "node.log", log);
    proc_assert_has (log, "WARN shoal node: at most 512 open files (ulimit -n; its hard limit "
                          "too)");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_idle_connections_are_closed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_exhausted_descriptors_come_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_files_limit_raised, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
