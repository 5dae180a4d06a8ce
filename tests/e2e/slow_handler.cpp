// tests/e2e/slow_handler.cpp — a server program whose on_mail takes SECONDS per message, as
// a user's slow handler would: the e2e tests drive the handler deadline and load shedding
// with it, and `raw` registers it with MailParts::Raw (mime = auto then makes no split).
// Usage: slow_handler CONFIG SECONDS [raw]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "smtpd/server.hpp"

int main(int argc, char** argv) {
    if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "raw")) return 2;
    const auto pause = std::chrono::milliseconds(static_cast<long>(std::atof(argv[2]) * 1000));
    const auto parts = argc == 4 ? ringmail::MailParts::Raw : ringmail::MailParts::Split;
    ringmail::server::use(
        [pause](const ringmail::Mail& m) {
            // One line per call, so the tests can count which messages a handler saw (and
            // see what the split gave it).
            std::printf("on_mail %zu message=%zu subject=%s\n", m.original.size(), m.message.size(), m.subject.c_str());
            std::fflush(stdout);
            std::this_thread::sleep_for(pause);
            return ringmail::Verdict::accept();
        },
        {}, {}, parts);
    return ringmail::server::run(std::string(argv[1]));
}
