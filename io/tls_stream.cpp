// io/tls_stream.cpp — SSL over memory BIOs. The thread's OpenSSL error queue is
// cleared before each call so that one connection's failure never colours the next
// SSL_get_error() on the same reactor.
#include "io/tls_stream.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <new>

namespace ringmail::io {

namespace {

bool is_ip_literal(const std::string& s) noexcept {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

std::unique_ptr<TlsStream> TlsStream::create(SSL_CTX* ctx, Side side, std::string_view sni,
                                             bool verify_name) noexcept {
    SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl) return nullptr;
    if (side == Side::Client && !sni.empty()) {
        const std::string name(sni);
        const bool ip = is_ip_literal(name);
        bool ok = ip || SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
        if (verify_name)
            ok = ok && (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                           : SSL_set1_host(ssl, name.c_str())) == 1;
        if (!ok) {
            SSL_free(ssl);
            return nullptr;
        }
    }
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (!rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        return nullptr;
    }
    // An empty input BIO means "wait for more", not end of stream.
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    if (side == Side::Client) SSL_set_connect_state(ssl);
    else SSL_set_accept_state(ssl);
    auto* t = new (std::nothrow) TlsStream(ssl, rbio, wbio);
    if (!t) SSL_free(ssl);
    return std::unique_ptr<TlsStream>(t);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Status TlsStream::receive(std::string_view in, std::string& plain) noexcept {
    ERR_clear_error();
    while (!in.empty()) {  // a memory BIO takes everything; the loop is for int sizes
        const int n = static_cast<int>(std::min<std::size_t>(in.size(), INT_MAX));
        if (BIO_write(rbio_, in.data(), n) != n) return Status::Failed;
        in.remove_prefix(static_cast<std::size_t>(n));
    }
    if (!established_) {
        const int r = SSL_do_handshake(ssl_);
        if (r != 1) {
            const int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::Handshaking;
            return Status::Failed;  // the alert, if any, is in wbio_ for take_output()
        }
        established_ = true;
    }
    char buf[16 * 1024];
    for (;;) {
        const int r = SSL_read(ssl_, buf, sizeof buf);
        if (r > 0) {
            plain.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::Open;
        if (e == SSL_ERROR_ZERO_RETURN) return Status::Closed;
        return Status::Failed;
    }
}

bool TlsStream::write(std::string_view plain) noexcept {
    ERR_clear_error();
    while (!plain.empty()) {
        const int n = static_cast<int>(std::min<std::size_t>(plain.size(), INT_MAX));
        const int r = SSL_write(ssl_, plain.data(), n);
        if (r <= 0) return false;  // a memory BIO never asks to wait
        plain.remove_prefix(static_cast<std::size_t>(r));
    }
    return true;
}

void TlsStream::close_notify() noexcept {
    if (shutdown_sent_ || !established_) return;
    shutdown_sent_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);
}

void TlsStream::take_output(std::string& out) noexcept {
    const std::size_t n = BIO_ctrl_pending(wbio_);
    if (n == 0 || n > INT_MAX) return;
    const std::size_t old = out.size();
    out.resize(old + n);
    const int r = BIO_read(wbio_, out.data() + old, static_cast<int>(n));
    out.resize(old + static_cast<std::size_t>(std::max(r, 0)));
}

bool TlsStream::has_output() const noexcept { return BIO_ctrl_pending(wbio_) > 0; }

std::string TlsStream::describe() const {
    std::string s = SSL_get_version(ssl_);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_)) {
        s += ' ';
        s += SSL_CIPHER_get_name(c);
    }
    return s;
}

std::string TlsStream::failure() const {
    const long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK) return std::string("certificate verification failed: ") + X509_verify_cert_error_string(v);
    const unsigned long e = ERR_peek_error();
    if (!e) return "handshake failed";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

}  // namespace ringmail::io
