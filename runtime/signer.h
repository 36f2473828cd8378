/*  signer.h - who made an operator's act, in the node's words: the key
    the client's handshake proved and the name of the certificate that
    holds it, which the front writes into the act's payload
    (front_keys.c) as operator_key and operator_cert, in place of any the
    client wrote. The "operator" (or "who") a client sends beside them is
    its own word ($USER); these two are the node's. Both are "" for a
    client without CURVE (a node alone, on loopback or ipc: a user of its
    machine).

    The records of an act (a $Resolved, a dead letter's decision) keep
    them, and its log lines say them (signer_text). Pure functions: any
    thread.
*/
#ifndef SIGNER_H_INCLUDED
#define SIGNER_H_INCLUDED

#include "envelope.h"
#include "shoal.h"

#define SIGNER_KEY "operator_key"
#define SIGNER_CERT "operator_cert"
#define SIGNER_KEY_MAX 40   //  a public key in Z85
#define SIGNER_CERT_MAX 63  //  CLIENTKEYS_NAME_MAX
#define SIGNER_TEXT_MAX 224 //  signer_text's bytes, its NUL included

typedef struct {
    char key[SIGNER_KEY_MAX + 1];   //  "" if none: no CURVE
    char cert[SIGNER_CERT_MAX + 1]; //  "" if none
} signer_t;

//  Reads the stamp of request's payload into signer; what is missing or
//  unreadable reads as "" (a request no front stamped: a unit test's).
void signer_read (const envelope_t *request, signer_t *signer);

//  Writes who (the client's word) and the node's into text (size bytes):
//  "ana (key K..., certificate ana)", or "ana" alone without a key (no
//  CURVE). Control bytes of who are written '?'.
void signer_text (const char *who, const signer_t *signer, char *text, size_t size);

//  Adds operator_key and operator_cert to rec when there is a key.
void signer_rec (const signer_t *signer, shoal_rec_t *rec);

#endif
