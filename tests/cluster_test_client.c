/*  cluster_test_client.c - requests to the nodes of a test's cluster
    (cluster_test_client.h says what each does).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster_test_client.h"

#include <stdlib.h>

int cluster_client_callv (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                          const char *name, int timeout_ms, client_reply_t *reply, va_list args)
{
    char *fields[8];
    int count = 0;
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, id, to, name, payload, size);
    int rc = client_call (client, &request, timeout_ms, reply);
    free (payload);
    return rc;
}

//  cluster_client_callv with its fields as arguments.
static int s_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                   int timeout_ms, client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    int rc = cluster_client_callv (client, kind, NULL, to, name, timeout_ms, reply, args);
    va_end (args);
    return rc;
}

void cluster_client_get (client_t *client, const char *address, client_reply_t *reply)
{
    int rc = s_call (client, ENVELOPE_QUERY, address, "get", 5000, reply, NULL);
    if (rc != 0)
        fail_msg ("get %s: %s", address, shoal_strerror (rc));
    if (!reply->ok)
        fail_msg ("get %s rejected: %s %s", address, reply->code, reply->reason);
}

int64_t cluster_client_balance (client_t *client, const char *account)
{
    client_reply_t reply;
    cluster_client_get (client, account, &reply);
    int64_t balance = INT64_MIN;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    return balance;
}
