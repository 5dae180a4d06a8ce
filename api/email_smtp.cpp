// api/email_smtp.cpp — EmailSmtp on smtp::Client: the original's calls, their results kept
// for last_reply() and last_result().
#include "api/email_smtp.hpp"

namespace ringmail {

bool EmailSmtp::open() { return open(server_); }

bool EmailSmtp::open(const Smarthost& server) {
    server_ = server;
    reply_ = {};
    result_ = {};
    return client_.open(server_.host, server_.port, server_.tls, server_.timeout_s, server_.user, server_.password,
                        smtp_options(server_));
}

bool EmailSmtp::command(std::string_view send, int expect) {
    reply_ = client_.command(send, expect);
    return reply_.expected;
}

bool EmailSmtp::send(const std::string& from, const std::vector<std::string>& recipients, std::string_view message) {
    result_ = client_.send(from, recipients, message);
    return result_.ok();
}

}  // namespace ringmail
