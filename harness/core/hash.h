// hash.h — SHA-256 (OpenSSL EVP) for content keys: weights, data, token-id goldens.
#ifndef AH_HASH_H
#define AH_HASH_H

#include <stddef.h>

typedef struct ah_sha256 ah_sha256;   // streaming context

ah_sha256 *ah_sha256_new(void);
void ah_sha256_update(ah_sha256 *h, const void *data, size_t len);
// Writes 64 lowercase hex digits + NUL into hex and frees h.
void ah_sha256_final(ah_sha256 *h, char hex[65]);
// One-shot convenience.
void ah_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
