// examples/recipient_filter.cpp — the library API in one page: accept mail only for our
// own domains, log every login, and keep what arrives in a Maildir-like print-out.
//   build/examples/recipient_filter [mail.ini] [domain ...]
// Handlers run on ringmail's handler threads, so they may block (a database, a file).
#include <cstdio>
#include <mutex>
#include <set>
#include <string>

#include "smtpd/server.hpp"

int main(int argc, char** argv) {
    const std::string config = argc > 1 ? argv[1] : "mail.ini";
    std::set<std::string> domains;
    for (int i = 2; i < argc; ++i) domains.insert(argv[i]);
    if (domains.empty()) domains.insert("example.com");
    static std::mutex log_mu;

    auto on_mail = [](const ringmail::Mail& m) {
        std::lock_guard lock(log_mu);
        std::printf("mail from %s <%s> (user '%s') for %zu recipients, subject '%s', %zu bytes\n",
                    m.ip.c_str(), m.sender.c_str(), m.user.c_str(), m.recipients.size(),
                    m.subject.c_str(), m.original.size());
        std::fflush(stdout);
        return ringmail::Verdict::accept();
    };
    auto on_rcpt = [&domains](const std::string& rcpt) {
        const auto at = rcpt.rfind('@');
        return at != std::string::npos && domains.count(rcpt.substr(at + 1)) > 0;
    };
    auto on_auth = [](const std::string& user, const std::string& password) {
        std::lock_guard lock(log_mu);
        std::printf("login: %s\n", user.c_str());
        std::fflush(stdout);
        return user == "alice" && password == "abc123";
    };
    ringmail::server::use(on_mail, on_rcpt, on_auth);
    return ringmail::server::run(config);
}
