// client/smtp_client.hpp — the low-level SMTP client of the library (`ringmail::smtp::Client`):
// open / command / send / close on blocking calls in the caller's thread, each wait bounded
// by a timeout. proto::ClientSession does the protocol; the bytes go over an io::Stream on
// the client's own io::Ring, the same code the server and the relay run on, so TLS (client
// context by policy, SNI, host check) is io/'s too. Certificates are verified against the
// system store and the host name unless the caller turns that off explicitly. A Client is
// used from the thread that opened it (the ring's one issuer).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client_session.hpp"

namespace ringmail::smtp {

// The `mode` of send(): 0 plain, 1 STARTTLS (required), 2 implicit TLS (SMTPS).
enum class Mode : int { Plain = 0, StartTls = 1, Tls = 2 };

struct Options {
    std::string ehlo_name = "localhost";
    bool verify = true;    // false only for tests against self-signed certificates
    std::string ca_file;   // PEM file of trusted CAs instead of the system store
};

// What failed, for the caller to branch on; `Refused` means the server answered but not
// every recipient was accepted (see the per-recipient results).
enum class ErrorKind : int { None, Usage, Connect, Tls, Protocol, Auth, Timeout, Closed, Refused };

struct Reply {
    int code = 0;          // 0: no reply (error() says why)
    std::string text;      // the reply's lines joined by "\n", without the codes
    bool expected = false; // code == expect (or any 2xx/3xx when expect is 0)
};

struct RecipientResult {
    std::string address;
    bool accepted = false;
    std::string reply;     // the server's reply for this recipient, "250 OK" style
};

struct SendResult {
    ErrorKind kind = ErrorKind::None;
    std::string error;                        // empty when every recipient was accepted
    std::vector<RecipientResult> recipients;  // in the order given
    std::string reply;                        // the end-of-data reply (or the refusal)
    bool ok() const noexcept { return kind == ErrorKind::None; }
};

class Client {
public:
    Client();
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Connects, reads the greeting, EHLO (HELO as fallback), STARTTLS for mode 1, AUTH
    // when `password` is not empty. `timeout_s` bounds each wait for the server.
    bool open(const std::string& host, int port, Mode mode = Mode::Plain, int timeout_s = 60,
              const std::string& user = {}, const std::string& password = {}, const Options& options = {});
    // One raw command line (no CRLF). `expect`: the code wanted; 0 accepts any 2xx/3xx.
    Reply command(std::string_view text, int expect = 0);
    // One message: `mime` is the whole message; dot-stuffing and CRLF are done here.
    SendResult send(const std::string& from, const std::vector<std::string>& recipients, std::string_view mime);
    // QUIT (bounded wait) and close; safe to call more than once.
    void close();

    bool is_open() const noexcept;
    ErrorKind error_kind() const noexcept { return kind_; }
    const std::string& error() const noexcept { return error_; }
    const proto::Extensions* extensions() const noexcept;

    struct Transport;  // the ring, its buffers and the stream (client/smtp_client.cpp)

private:
    bool drive();                  // runs the session until it leaves Busy
    bool handshake();
    bool connect(const std::string& port);
    bool wait();                   // one bounded turn of the ring; false on timeout or error
    bool set_error(ErrorKind kind, std::string text);
    void set_session_error();
    void drop();

    std::string host_;
    int timeout_ms_ = 60000;
    Options options_;
    std::unique_ptr<Transport> t_;
    std::unique_ptr<proto::ClientSession> session_;
    std::string in_;
    ErrorKind kind_ = ErrorKind::None;
    std::string error_;
};

}  // namespace ringmail::smtp
