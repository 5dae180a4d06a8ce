// bench/loadgen/client_tls.hpp — the client side of TLS after STARTTLS (RFC 3207) over two
// memory BIOs, so the generator's socket I/O stays on its io_uring ring. No certificate
// checks: this measures the server's cost, not a trust decision.
#pragma once
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace ringmail::bench {

// One SSL_CTX per run (TLS 1.2+; sessions not resumed, so every STARTTLS is a full handshake).
SSL_CTX* client_tls_context() noexcept;

class ClientTls {
public:
    enum class Status : unsigned char { Handshaking, Open, Failed };

    static std::unique_ptr<ClientTls> create(SSL_CTX* ctx) noexcept;
    ~ClientTls();
    ClientTls(const ClientTls&) = delete;
    ClientTls& operator=(const ClientTls&) = delete;

    // Starts the handshake (the ClientHello goes to the output).
    Status start() noexcept;
    // Takes received ciphertext; appends decrypted bytes to `plain`.
    Status receive(std::string_view cipher, std::string& plain) noexcept;
    bool write(std::string_view plain) noexcept;
    void take_output(std::string& out) noexcept;  // ciphertext to send
    bool open() const noexcept { return open_; }

private:
    ClientTls(SSL* ssl, BIO* rbio, BIO* wbio) noexcept : ssl_(ssl), rbio_(rbio), wbio_(wbio) {}
    Status drive() noexcept;

    SSL* ssl_;
    BIO* rbio_;  // owned by ssl_
    BIO* wbio_;  // owned by ssl_
    bool open_ = false;
};

}  // namespace ringmail::bench
