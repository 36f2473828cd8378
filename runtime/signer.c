/*  signer.c - who made an operator's act, in the node's words. See
    signer.h.
*/
#include "signer.h"
#include "data.h"

#include <stdio.h>
#include <string.h>

void signer_read (const envelope_t *request, signer_t *signer)
{
    memset (signer, 0, sizeof *signer);
    shoal_data_t data;
    if (data_init (&data, request->payload, request->payload_size) == 0 &&
        (shoal_data_str (&data, SIGNER_KEY, signer->key, sizeof signer->key) != 0 ||
         shoal_data_str (&data, SIGNER_CERT, signer->cert, sizeof signer->cert) != 0))
        memset (signer, 0, sizeof *signer);
    data_close (&data);
}

void signer_text (const char *who, const signer_t *signer, char *text, size_t size)
{
    char shown[64];
    size_t i = 0;
    for (; who[i] && i < sizeof shown - 1; i++)
        shown[i] = (unsigned char) who[i] < ' ' || who[i] == 0x7f ? '?' : who[i];
    shown[i] = 0;
    if (signer->key[0])
        snprintf (text, size, "%s (key %s, certificate %s)", shown, signer->key,
                  signer->cert[0] ? signer->cert : "?");
    else //  a node alone: its machine's users, no key to say
        snprintf (text, size, "%s", shown);
}

void signer_rec (const signer_t *signer, shoal_rec_t *rec)
{
    if (!signer->key[0])
        return;
    shoal_rec_str (rec, SIGNER_KEY, signer->key);
    shoal_rec_str (rec, SIGNER_CERT, signer->cert);
}
