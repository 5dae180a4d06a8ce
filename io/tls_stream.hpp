// io/tls_stream.hpp — one connection's TLS state over two memory BIOs: the reactor
// writes received ciphertext in and sends the ciphertext that comes out, so every socket
// operation stays on the io_uring ring and nothing here ever blocks (invariant 1).
// Owned by one Connection on one reactor (invariant 2). Bounded: at most one partial
// record (16 KiB + overhead) waits inside, since input is drained at once.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace ringmail::io {

class TlsStream {
public:
    enum class Status : unsigned char {
        Handshaking,  // more bytes from the client are needed
        Open,         // handshake done; plaintext may have come out
        Closed,       // the client sent close_notify
        Failed,       // handshake failure or a bad record: send what is queued, close
    };

    enum class Side : unsigned char { Server, Client };

    // nullptr when OpenSSL cannot allocate. The client side sends its ClientHello on the
    // first receive(), which may be empty; it names `sni` (RFC 6066 3; not for an IP
    // literal) and, with `verify_name`, checks that the certificate names that host or
    // address (RFC 6125; the context must verify the chain: TlsPolicy::Verify).
    static std::unique_ptr<TlsStream> create(SSL_CTX* ctx, Side side = Side::Server, std::string_view sni = {},
                                             bool verify_name = false) noexcept;
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // Takes received ciphertext; drives the handshake and appends decrypted bytes to
    // `plain` (at most a few records' worth: as much as `in` carried).
    Status receive(std::string_view in, std::string& plain) noexcept;
    // Encrypts `plain` into records; false on failure.
    bool write(std::string_view plain) noexcept;
    // Queues close_notify once (RFC 8446 6.1).
    void close_notify() noexcept;
    // Moves the ciphertext produced so far (handshake, records, alerts) onto `out`.
    void take_output(std::string& out) noexcept;
    bool has_output() const noexcept;
    bool established() const noexcept { return established_; }
    // "TLSv1.3 TLS_AES_256_GCM_SHA384", for the Received trace field.
    std::string describe() const;
    // Why the handshake failed, in a line: the certificate check's reason when that was
    // it ("self-signed certificate"), else OpenSSL's first error.
    std::string failure() const;

private:
    explicit TlsStream(SSL* ssl, BIO* rbio, BIO* wbio) noexcept : ssl_(ssl), rbio_(rbio), wbio_(wbio) {}

    SSL* ssl_;
    BIO* rbio_;  // owned by ssl_
    BIO* wbio_;  // owned by ssl_
    bool established_ = false;
    bool shutdown_sent_ = false;
};

}  // namespace ringmail::io
