/*  fuzz_envelope.c - libFuzzer target: transport/envelope.c's decoders over
    arbitrary bytes (a frame as it comes from the network).

    Properties beyond "no crash, no leak, no sanitizer report": a frame
    that decodes encodes again, and the re-encoded frame decodes to the
    same envelope; a reply payload that decodes has bounded code and reason;
    envelope_decode_request refuses what envelope_decode refuses, with the
    same code, and besides only a payload string that is not UTF-8, or
    an id of zero bytes (SHOAL_EINVAL), with the envelope whole.
*/
#include "envelope.h"
#include <stdlib.h>
#include <string.h>

static void s_check_reply (const envelope_t *env)
{
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    if (envelope_reply_decode (env->payload, env->payload_size, &ok, code, reason, &data,
                               &data_size) == 0) {
        if (strlen (code) > ENVELOPE_CODE_MAX || strlen (reason) > ENVELOPE_REASON_MAX)
            __builtin_trap ();
        if (data && (data < env->payload || data + data_size > env->payload + env->payload_size))
            __builtin_trap ();
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    envelope_check_msgpack (data, size);
    envelope_t env, request;
    char detail[ENVELOPE_REASON_MAX + 1];
    int rc = envelope_decode (&env, data, size);
    int request_rc = envelope_decode_request (&request, data, size, detail, sizeof detail);
    if (rc ? request_rc != rc : request_rc != 0 && request_rc != SHOAL_EINVAL)
        __builtin_trap ();
    if (request_rc == SHOAL_EINVAL &&
        (request.payload != env.payload || request.payload_size != env.payload_size ||
         strcmp (request.to, env.to) != 0 || !detail[0]))
        __builtin_trap ();
    if (rc != 0)
        return 0;
    if (env.payload < data || env.payload + env.payload_size > data + size)
        __builtin_trap ();
    s_check_reply (&env);
    uint8_t *again = NULL;
    size_t again_size = 0;
    if (envelope_encode (&env, &again, &again_size) != 0)
        __builtin_trap (); //  decode accepted what encode refuses
    envelope_t back;
    if (envelope_decode (&back, again, again_size) != 0 || back.kind != env.kind ||
        memcmp (back.id, env.id, sizeof env.id) != 0 || strcmp (back.from, env.from) != 0 ||
        strcmp (back.to, env.to) != 0 || strcmp (back.name, env.name) != 0 ||
        back.attempt != env.attempt || back.created != env.created ||
        back.payload_size != env.payload_size ||
        memcmp (back.payload, env.payload, env.payload_size) != 0)
        __builtin_trap ();
    free (again);
    return 0;
}
