// api/email_smtp.hpp — the original's email_smtp: one connection to one SMTP server for
// low-level use (open, raw commands checked against an expected code, messages, close),
// which email_send and the relay otherwise do for the caller. A thin layer on
// smtp::Client with the original's parameters (a Smarthost: host, port, timeout, user,
// password, ssl). Blocking, like the client: never on a reactor thread.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "api/email_queue.hpp"
#include "client/smtp_client.hpp"

namespace ringmail {

class EmailSmtp {
public:
    EmailSmtp() = default;
    explicit EmailSmtp(Smarthost server) : server_(std::move(server)) {}

    // Connects, EHLO, TLS as `server.tls` says, AUTH when a password is given. The first
    // form uses the constructor's server. False: error() says why.
    bool open();
    bool open(const Smarthost& server);
    // A raw command line (no CRLF): true when the reply's code is `expect` (0: any 2xx or
    // 3xx). The reply is last_reply() (the original's -read).
    bool command(std::string_view send, int expect = 0);
    // One message (`message`: the whole MIME text): true when every recipient took it;
    // last_result() has each recipient's reply.
    bool send(const std::string& from, const std::vector<std::string>& recipients, std::string_view message);
    void close() { client_.close(); }

    bool is_open() const noexcept { return client_.is_open(); }
    const smtp::Reply& last_reply() const noexcept { return reply_; }
    const smtp::SendResult& last_result() const noexcept { return result_; }
    const std::string& error() const noexcept { return client_.error(); }

private:
    Smarthost server_;
    smtp::Client client_;
    smtp::Reply reply_;
    smtp::SendResult result_;
};

}  // namespace ringmail
