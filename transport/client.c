/*  client.c - the client side shared by the `shoal` commands and the
    process tests. See client.h.
*/
#include "client.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <msgpack.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct _client_t {
    zsock_t *dealer;
};

const char *client_endpoint (const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv ("SHOAL_ENDPOINT");
    return env && *env ? env : CLIENT_DEFAULT_ENDPOINT;
}

client_t *client_new (const char *endpoint)
{
    client_t *self = calloc (1, sizeof (client_t));
    if (!self)
        return NULL;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        free (self);
        return NULL;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 0);
    zsock_set_rcvhwm (self->dealer, 0);
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        zsock_destroy (&self->dealer);
        free (self);
        return NULL;
    }
    return self;
}

void client_destroy (client_t **self_p)
{
    if (*self_p) {
        zsock_destroy (&(*self_p)->dealer);
        free (*self_p);
        *self_p = NULL;
    }
}

int client_send (client_t *self, const envelope_t *request)
{
    uint8_t *frame;
    size_t size;
    int rc = envelope_encode (request, &frame, &size);
    if (rc)
        return rc;
    rc = zmq_send (zsock_resolve (self->dealer), frame, size, 0) == -1 ? SHOAL_ENET : 0;
    free (frame);
    return rc;
}

int client_recv (client_t *self, int timeout_ms, client_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    void *dealer = zsock_resolve (self->dealer);
    zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left < 0)
            left = 0;
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc == -1 && zmq_errno () == EINTR && !zsys_interrupted)
            continue;
        if (rc <= 0)
            return SHOAL_ETIMEOUT;
        break;
    }
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, dealer, 0) == -1) {
        zmq_msg_close (&msg);
        return SHOAL_ENET;
    }
    size_t size = zmq_msg_size (&msg);
    reply->frame = malloc (size ? size : 1);
    if (reply->frame)
        memcpy (reply->frame, zmq_msg_data (&msg), size);
    while (zmq_msg_more (&msg))
        zmq_msg_recv (&msg, dealer, 0);
    zmq_msg_close (&msg);
    if (!reply->frame)
        return SHOAL_ENOMEM;
    envelope_t envelope;
    if (envelope_decode (&envelope, reply->frame, size) != 0 || envelope.kind != ENVELOPE_REPLY ||
        envelope_reply_decode (envelope.payload, envelope.payload_size, &reply->ok, reply->code,
                               reply->reason, &reply->data, &reply->size) != 0) {
        client_reply_close (reply);
        return SHOAL_EFORMAT;
    }
    memcpy (reply->correlation, envelope.correlation, ENVELOPE_ID_SIZE);
    strcpy (reply->from, envelope.from);
    strcpy (reply->name, envelope.name);
    return 0;
}

void client_reply_close (client_reply_t *reply)
{
    free (reply->frame);
    reply->frame = NULL;
    reply->data = NULL;
    reply->size = 0;
}

bool client_reply_transient (const client_reply_t *reply)
{
    return !reply->ok &&
           (strcmp (reply->code, "unavailable") == 0 || strcmp (reply->code, "busy") == 0);
}

int client_call (client_t *self, const envelope_t *request, int timeout_ms, client_reply_t *reply)
{
    int rc = client_send (self, request);
    if (rc)
        return rc;
    static const uint8_t zero[ENVELOPE_ID_SIZE];
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        rc = client_recv (self, left > 0 ? (int) left : 0, reply);
        if (rc == SHOAL_EFORMAT)
            continue; //  not a reply of ours
        if (rc)
            return rc;
        if (memcmp (reply->correlation, request->id, ENVELOPE_ID_SIZE) == 0 ||
            memcmp (reply->correlation, zero, ENVELOPE_ID_SIZE) == 0)
            return 0;
        client_reply_close (reply);
    }
}

void client_request (envelope_t *request, envelope_kind_t kind, const uint8_t *id, const char *to,
                     const char *name, const uint8_t *payload, size_t size)
{
    memset (request, 0, sizeof *request);
    request->kind = (uint8_t) kind;
    if (id)
        memcpy (request->id, id, ENVELOPE_ID_SIZE);
    else
        envelope_new_id (request->id);
    snprintf (request->to, sizeof request->to, "%s", to);
    snprintf (request->name, sizeof request->name, "%s", name);
    request->payload = payload;
    request->payload_size = size;
    request->created = zclock_time ();
}

void client_id_from_string (const char *text, uint8_t id[ENVELOPE_ID_SIZE])
{
    size_t len = strlen (text);
    bool hex = len == 2 * ENVELOPE_ID_SIZE;
    for (size_t i = 0; hex && i < len; i++)
        hex = strchr ("0123456789abcdefABCDEF", text[i]) != NULL;
    if (hex) {
        for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++) {
            char byte[3] = {text[2 * i], text[2 * i + 1], 0};
            id[i] = (uint8_t) strtoul (byte, NULL, 16);
        }
        return;
    }
    zdigest_t *digest = zdigest_new ();
    zdigest_update (digest, (const byte *) text, len);
    memcpy (id, zdigest_data (digest), ENVELOPE_ID_SIZE);
    zdigest_destroy (&digest);
}

void client_id_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1])
{
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        sprintf (hex + 2 * i, "%02x", id[i]);
}

//  True if text is an integer in int64 range; sets *overflow when it looks
//  like one but is out of range.
static bool s_parse_int (const char *text, int64_t *value, bool *overflow)
{
    const char *p = text;
    *overflow = false;
    if (*p == '-')
        p++;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    long long parsed = strtoll (text, NULL, 10);
    if (errno == ERANGE) {
        *overflow = true;
        return false;
    }
    *value = parsed;
    return true;
}

int client_fields (int argc, char **argv, uint8_t **map, size_t *size, char *error,
                   size_t error_size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (size_t) argc);
    for (int i = 0; i < argc; i++) {
        const char *equals = strchr (argv[i], '=');
        if (!equals || equals == argv[i]) {
            snprintf (error, error_size, "field '%s' is not key=value", argv[i]);
            goto fail;
        }
        size_t key_len = (size_t) (equals - argv[i]);
        for (int j = 0; j < i; j++)
            if (strncmp (argv[j], argv[i], key_len + 1) == 0) {
                snprintf (error, error_size, "field '%.*s' is given twice", (int) key_len, argv[i]);
                goto fail;
            }
        msgpack_pack_str_with_body (&pk, argv[i], key_len);
        const char *value = equals + 1;
        int64_t number;
        bool overflow;
        if (s_parse_int (value, &number, &overflow))
            msgpack_pack_int64 (&pk, number);
        else if (overflow) {
            snprintf (error, error_size, "field '%.*s': %s is out of the int64 range",
                      (int) key_len, argv[i], value);
            goto fail;
        } else if (streq (value, "true"))
            msgpack_pack_true (&pk);
        else if (streq (value, "false"))
            msgpack_pack_false (&pk);
        else
            msgpack_pack_str_with_body (&pk, value, strlen (value));
    }
    *map = (uint8_t *) buffer.data;
    *size = buffer.size;
    return 0;
fail:
    msgpack_sbuffer_destroy (&buffer);
    return SHOAL_EINVAL;
}

//  --------------------------------------------------------------------------
//  JSON

void json_string (FILE *file, const char *text, size_t len)
{
    fputc ('"', file);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c == '"' || c == '\\')
            fprintf (file, "\\%c", c);
        else if (c == '\n')
            fputs ("\\n", file);
        else if (c == '\t')
            fputs ("\\t", file);
        else if (c == '\r')
            fputs ("\\r", file);
        else if (c < 0x20 || c == 0x7f)
            fprintf (file, "\\u%04x", c);
        else
            fputc (c, file);
    }
    fputc ('"', file);
}

void json_object (FILE *file, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs ("null", file);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs (o->via.boolean ? "true" : "false", file);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf (file, "%llu", (unsigned long long) o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf (file, "%lld", (long long) o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        fprintf (file, "%.17g", o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        json_string (file, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        fputc ('"', file);
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            fprintf (file, "%02x", (unsigned char) o->via.bin.ptr[i]);
        fputc ('"', file);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc ('[', file);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc (',', file);
            json_object (file, &o->via.array.ptr[i]);
        }
        fputc (']', file);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc ('{', file);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                fputc (',', file);
            const msgpack_object *key = &o->via.map.ptr[i].key;
            if (key->type == MSGPACK_OBJECT_STR)
                json_string (file, key->via.str.ptr, key->via.str.size);
            else {
                fputs ("\"?\"", file);
            }
            fputc (':', file);
            json_object (file, &o->via.map.ptr[i].val);
        }
        fputc ('}', file);
        break;
    default:
        fputs ("null", file);
    }
}

int json_write (FILE *file, const uint8_t *data, size_t size)
{
    if (envelope_check_msgpack (data, size) != 0)
        return SHOAL_EFORMAT;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    int rc = SHOAL_EFORMAT;
    if (msgpack_unpack_next (&unpacked, (const char *) data, size, &offset) ==
        MSGPACK_UNPACK_SUCCESS) {
        json_object (file, &unpacked.data);
        rc = 0;
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

const msgpack_object *map_unpack (msgpack_unpacked *unpacked, const uint8_t *data, size_t size)
{
    size_t offset = 0;
    if (envelope_check_msgpack (data, size) != 0 ||
        msgpack_unpack_next (unpacked, (const char *) data, size, &offset) !=
            MSGPACK_UNPACK_SUCCESS ||
        unpacked->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    return &unpacked->data;
}

const msgpack_object *map_find (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t key_len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == key_len &&
            memcmp (kv->key.via.str.ptr, key, key_len) == 0)
            return &kv->val;
    }
    return NULL;
}

int map_find_int (const msgpack_object *map, const char *key, int64_t *value)
{
    const msgpack_object *o = map_find (map, key);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *value = (int64_t) o->via.u64;
        return 0;
    }
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = o->via.i64;
        return 0;
    }
    return SHOAL_ENOTFOUND;
}

int map_find_str (const msgpack_object *map, const char *key, char *buf, size_t buf_size)
{
    const msgpack_object *o = map_find (map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= buf_size)
        return SHOAL_ENOTFOUND;
    memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = 0;
    return 0;
}

int map_int (const uint8_t *data, size_t size, const char *key, int64_t *value)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = map_find_int (map_unpack (&unpacked, data, size), key, value);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int map_str (const uint8_t *data, size_t size, const char *key, char *buf, size_t buf_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = map_find_str (map_unpack (&unpacked, data, size), key, buf, buf_size);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int client_temp_dir (const char *prefix, char *buf, size_t size)
{
    const char *tmp = getenv ("TMPDIR");
    int len = snprintf (buf, size, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix);
    if (len < 0 || (size_t) len >= size || !mkdtemp (buf))
        return -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  A node as a child process

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return (flag == FTW_DP ? rmdir (path) : unlink (path)) == 0 ? 0 : -1;
}

int client_remove_tree (const char *dir)
{
    if (!dir || !dir[0])
        return -1;
    return nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int node_child_start (node_child_t *child, const char *shoal, const char *data_dir,
                      const char *endpoint, char *const *extra, const char *log, int timeout_ms)
{
    memset (child, 0, sizeof *child);
    snprintf (child->data_dir, sizeof child->data_dir, "%s", data_dir);
    char self_exe[PATH_MAX];
    if (!shoal) {
        ssize_t len = readlink ("/proc/self/exe", self_exe, sizeof self_exe - 1);
        if (len <= 0)
            return SHOAL_EIO;
        self_exe[len] = 0;
        shoal = self_exe;
    }
    int out[2];
    if (pipe (out) != 0)
        return SHOAL_EIO;
    char *argv[64] = {(char *) shoal,    "node",       "--data",
                      (char *) data_dir, "--endpoint", (char *) endpoint};
    int argc = 6;
    for (int i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t pid = fork ();
    if (pid < 0) {
        close (out[0]);
        close (out[1]);
        return SHOAL_EIO;
    }
    if (pid == 0) {
        dup2 (out[1], STDOUT_FILENO);
        close (out[0]);
        close (out[1]);
        if (log) {
            int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2 (fd, STDERR_FILENO);
                close (fd);
            }
        }
        execv (shoal, argv);
        _exit (127);
    }
    close (out[1]);
    child->pid = pid;
    //  Read its stdout until the ready line; then let the rest go to a
    //  pipe nobody reads (the node prints nothing more on stdout).
    char line[512];
    size_t used = 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    int rc = SHOAL_ETIMEOUT;
    while (zclock_mono () < deadline && used < sizeof line - 1) {
        zmq_pollitem_t item = {NULL, out[0], ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        ssize_t n = read (out[0], line + used, 1);
        if (n <= 0) {
            rc = SHOAL_EIO; //  the node exited
            break;
        }
        used++;
        if (line[used - 1] == '\n') {
            line[used] = 0;
            char *ready = strstr (line, "ready on ");
            if (ready) {
                sscanf (ready + 9, "%127s", child->endpoint);
                rc = 0;
                break;
            }
            used = 0;
        }
    }
    close (out[0]);
    if (rc != 0)
        node_child_stop (child, SIGKILL);
    return rc;
}

void node_child_args (node_child_args_t *args, bool async, int workers, char *const *extra)
{
    memset (args, 0, sizeof *args);
    size_t argc = 0, max = sizeof args->argv / sizeof args->argv[0] - 1;
    args->argv[argc++] = "--durability";
    args->argv[argc++] = async ? "async" : "sync";
    if (workers > 0) {
        snprintf (args->workers, sizeof args->workers, "%d", workers);
        args->argv[argc++] = "--workers";
        args->argv[argc++] = args->workers;
    }
    for (size_t i = 0; extra && extra[i] && argc < max; i++)
        args->argv[argc++] = extra[i];
}

int node_child_start_retry (node_child_t *child, const char *shoal, const char *data_dir,
                            const char *endpoint, const node_child_args_t *args, const char *log,
                            int timeout_ms)
{
    char saved[128];
    snprintf (saved, sizeof saved, "%s", endpoint);
    int rc = SHOAL_ETIMEOUT;
    for (int attempt = 0; attempt < 20 && rc != 0; attempt++) {
        rc = node_child_start (child, shoal, data_dir, saved, args->argv, log, timeout_ms);
        if (rc)
            zclock_sleep (250);
    }
    return rc;
}

int node_child_stop (node_child_t *child, int sig)
{
    int status = 0;
    if (child->pid > 0) {
        kill (child->pid, sig);
        while (waitpid (child->pid, &status, 0) == -1 && errno == EINTR)
            ;
        child->pid = 0;
    }
    return status;
}
