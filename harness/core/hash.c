#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ah_sha256 {
    EVP_MD_CTX *ctx;
};

ah_sha256 *ah_sha256_new(void) {
    ah_sha256 *h = malloc(sizeof *h);
    if (!h) return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void ah_sha256_update(ah_sha256 *h, const void *data, size_t len) {
    if (h) EVP_DigestUpdate(h->ctx, data, len);
}

// A NULL context (allocation failed) yields the all-zero digest, which matches nothing.
void ah_sha256_final(ah_sha256 *h, char hex[65]) {
    unsigned char md[32];
    memset(md, 0, sizeof md);
    if (h) {
        unsigned int n = 0;
        EVP_DigestFinal_ex(h->ctx, md, &n);
        EVP_MD_CTX_free(h->ctx);
        free(h);
    }
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

void ah_sha256_hex(const void *data, size_t len, char hex[65]) {
    ah_sha256 *h = ah_sha256_new();
    ah_sha256_update(h, data, len);
    ah_sha256_final(h, hex);
}
