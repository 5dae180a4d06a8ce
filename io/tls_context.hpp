// io/tls_context.hpp — the server's one SSL_CTX, and client contexts by policy. Server: TLS 1.2 and 1.3 only, forward-secret
// AEAD ciphers, server session cache and tickets for resumption. Built at start-up and
// again on SIGHUP; every SSL made from it keeps its own reference (SSL_new up-refs).
#pragma once
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ringmail::io {

struct SslCtxFree {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Loads the PEM certificate chain and private key and checks that they match. Throws
// std::runtime_error with one line naming the file and OpenSSL's reason.
SslCtxPtr make_tls_context(const std::string& crt_file, const std::string& key_file);

// How a client treats the server's certificate (RFC 7435 opportunistic security, RFC 7672
// for authenticated): None never starts TLS; Opportunistic encrypts and accepts any
// certificate; Verify requires a chain to the system trust store (or `ca_file`) and, per
// connection, the host name (TlsStream::create's `verify_name`).
enum class TlsPolicy : unsigned char { None, Opportunistic, Verify };

// TLS 1.2+ client context for the policy. Throws std::runtime_error when the trust store
// or `ca_file` cannot be loaded.
SslCtxPtr make_client_tls_context(TlsPolicy policy, const std::string& ca_file = {});

// SHA-256 of the context's certificate, "AB:CD:..." as `openssl x509 -fingerprint` prints.
std::string certificate_fingerprint(SSL_CTX* ctx);

}  // namespace ringmail::io
