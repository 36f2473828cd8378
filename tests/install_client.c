/*  install_client.c - a C program outside shoal's tree that links the
    installed client library (pkg-config shoal-client), built and run by
    test_install.sh: sends ADDRESS Add by=N to ENDPOINT and prints the
    reply's value. Exits 0 on an accepted reply, 1 otherwise.

    Usage: install_client ENDPOINT ADDRESS N
*/
#include <client.h>
#include <stdio.h>
#include <stdlib.h>

int main (int argc, char **argv)
{
    if (argc != 4)
        return 2;
    char by[64], error[128];
    snprintf (by, sizeof by, "by=%s", argv[3]);
    char *fields[] = {by};
    uint8_t *map;
    size_t size;
    if (client_fields (1, fields, &map, &size, error, sizeof error) != 0) {
        fprintf (stderr, "install_client: %s\n", error);
        return 1;
    }
    client_t *client = client_new (argv[1]);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, argv[2], "Add", map, size);
    client_reply_t reply;
    int rc = client ? client_call (client, &request, 20000, &reply) : SHOAL_EINVAL;
    int64_t value = 0;
    int status = 1;
    if (rc != 0)
        fprintf (stderr, "install_client: %s\n", shoal_strerror (rc));
    else {
        if (reply.ok && map_int (reply.data, reply.size, "value", &value) == 0) {
            printf ("value=%lld\n", (long long) value);
            status = 0;
        } else
            fprintf (stderr, "install_client: rejected: %s %s\n", reply.code, reply.reason);
        client_reply_close (&reply);
    }
    client_destroy (&client);
    free (map);
    return status;
}
