// io/tls_context.cpp — SSL_CTX set-up. Cipher choice follows Mozilla's "intermediate"
// profile (ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2; OpenSSL's TLS 1.3 suites).
// SNI: any name is accepted and gets the one certificate; ALPN: SMTP defines none.
#include "io/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <stdexcept>

namespace ringmail::io {
namespace {

std::string openssl_reason() {
    // The last error is the most specific ("no such file", "key values mismatch").
    unsigned long e = 0;
    unsigned long last = 0;
    while ((e = ERR_get_error()) != 0) last = e;
    if (!last) return "unknown error";
    char buf[256];
    ERR_error_string_n(last, buf, sizeof buf);
    return buf;
}

constexpr char kCiphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

SslCtxPtr make_tls_context(const std::string& crt_file, const std::string& key_file) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw std::runtime_error("tls: cannot create a context: " + openssl_reason());
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(c, kCiphers12) != 1)
        throw std::runtime_error("tls: cipher list: " + openssl_reason());
    // No renegotiation (a client-driven CPU cost), no compression (CRIME).
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections give their 34 KiB of record buffers back (DESIGN.md: an idle
    // connection should cost little more than its session).
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    // Resumption: TLS 1.3 and 1.2 tickets (keys live in this context, so a reload starts
    // afresh) and a server-side cache for TLS 1.2 session ids.
    static constexpr unsigned char sid_ctx[] = "ringmail";
    SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(c, 20000);
    if (SSL_CTX_use_certificate_chain_file(c, crt_file.c_str()) != 1)
        throw std::runtime_error("tls_crt " + crt_file + ": " + openssl_reason());
    if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("tls_key " + key_file + ": " + openssl_reason());
    if (SSL_CTX_check_private_key(c) != 1)
        throw std::runtime_error("tls_key " + key_file + " does not match tls_crt " + crt_file + ": " +
                                 openssl_reason());
    return ctx;
}

SslCtxPtr make_client_tls_context(TlsPolicy policy, const std::string& ca_file) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("tls: cannot create a client context: " + openssl_reason());
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    if (policy == TlsPolicy::Verify) {
        const bool loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(c) == 1
                                            : SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) == 1;
        if (!loaded)
            throw std::runtime_error("tls: cannot load trusted certificates" +
                                     (ca_file.empty() ? std::string() : " from " + ca_file) + ": " + openssl_reason());
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }
    return ctx;
}

std::string certificate_fingerprint(SSL_CTX* ctx) {
    X509* cert = SSL_CTX_get0_certificate(ctx);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
    std::string out;
    char hex[4];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
        out += hex;
    }
    return out;
}

}  // namespace ringmail::io
