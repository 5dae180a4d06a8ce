// smtpd/print_handler.cpp — one block per mail: the fields, the attachments' names and
// sizes, the decoded message, then the original message.
// Runs on handler threads; a mutex keeps blocks from interleaving.
#include "smtpd/print_handler.hpp"

#include <cstdio>
#include <mutex>

namespace ringmail::smtpd {

Verdict print_mail(const Mail& m) {
    static std::mutex mu;
    std::string out = "--- mail from " + m.ip + "\nhost: " + m.host + "\nuser: " + m.user +
                      "\nsender: " + m.sender + "\nrecipients:";
    for (const auto& r : m.recipients) out += " " + r;
    out += "\nfrom: " + m.from + "\nto: " + m.to + "\ncc: " + m.cc + "\nbcc: " + m.bcc +
           "\nsubject: " + m.subject + "\nsize: " + std::to_string(m.original.size()) + "\nattachments:";
    for (const auto& [name, data] : m.attachments) out += " [" + name + "] " + std::to_string(data.size());
    out += "\nmessage:\n" + m.message + "\n--- original\n";
    out += m.original;
    out += "--- end\n";
    std::lock_guard lock(mu);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return Verdict::accept();
}

}  // namespace ringmail::smtpd
