// bench/loadgen/client_tls.cpp — OpenSSL client over memory BIOs: ciphertext in from the
// ring's receive buffers, ciphertext out into the connection's send buffer.
#include "client_tls.hpp"

#include <openssl/err.h>

namespace ringmail::bench {

SSL_CTX* client_tls_context() noexcept {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        if (!c) return c;
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        return c;
    }();
    return ctx;
}

std::unique_ptr<ClientTls> ClientTls::create(SSL_CTX* ctx) noexcept {
    if (!ctx) return nullptr;
    SSL* ssl = SSL_new(ctx);
    if (!ssl) return nullptr;
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (!rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        return nullptr;
    }
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    return std::unique_ptr<ClientTls>(new ClientTls(ssl, rbio, wbio));
}

ClientTls::~ClientTls() { SSL_free(ssl_); }

ClientTls::Status ClientTls::drive() noexcept {
    if (open_) return Status::Open;
    const int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        open_ = true;
        return Status::Open;
    }
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Handshaking;
    ERR_clear_error();
    return Status::Failed;
}

ClientTls::Status ClientTls::start() noexcept { return drive(); }

ClientTls::Status ClientTls::receive(std::string_view cipher, std::string& plain) noexcept {
    if (!cipher.empty() && BIO_write(rbio_, cipher.data(), static_cast<int>(cipher.size())) <= 0) return Status::Failed;
    if (!open_) {
        const Status s = drive();
        if (s != Status::Open) return s;
    }
    char buf[16384];
    for (;;) {
        const int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
            plain.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        const int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Open;
        ERR_clear_error();
        return Status::Failed;  // close_notify or a bad record: the session is over
    }
}

bool ClientTls::write(std::string_view plain) noexcept {
    while (!plain.empty()) {
        const int n = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        plain.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void ClientTls::take_output(std::string& out) noexcept {
    char* data = nullptr;
    const long n = BIO_get_mem_data(wbio_, &data);
    if (n > 0) out.append(data, static_cast<std::size_t>(n));
    (void)BIO_reset(wbio_);
}

}  // namespace ringmail::bench
