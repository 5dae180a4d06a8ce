// smtpd/print_handler.cpp — one block per mail: the fields, the attachments' names and
// sizes, the decoded message, then the original message. Everything in it came from the
// client, so it is printed escaped (printable()): no terminal escapes, no bare CRs, and no
// line that passes for one of the block's own "--- " separators.
// Runs on handler threads; a mutex keeps blocks from interleaving.
#include "smtpd/print_handler.hpp"

#include <cstdio>
#include <mutex>

#include "base/ascii.hpp"

namespace ringmail::smtpd {

std::string printable(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 16);
    bool line_start = true;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;  // CRLF prints as LF
        const bool c1 = c == 0xc2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(in[i + 1]) < 0xa0;  // U+0080-U+009F, C1 controls
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f || (line_start && c == '-' && in.substr(i, 4) == "--- ")) {
            out += "\\x";
            base::append_hex(out, c, false);
        } else if (c1) {
            out += "\\u00";
            base::append_hex(out, static_cast<unsigned char>(in[++i]), false);
        } else {
            out += static_cast<char>(c);
        }
        line_start = c == '\n';
    }
    return out;
}

Verdict print_mail(const Mail& m) {
    static std::mutex mu;
    // One-line fields: a line break in them is escaped too, so each stays on its line.
    const auto field = [](std::string_view v) {
        std::string s = printable(v);
        std::string out;
        for (const char c : s) out += c == '\n' ? std::string("\\x0a") : std::string(1, c);
        return out;
    };
    std::string out = "--- mail from " + m.ip + "\nhost: " + field(m.host) + "\nuser: " + field(m.user) +
                      "\nsender: " + field(m.sender) + "\nrecipients:";
    for (const auto& r : m.recipients) out += " " + field(r);
    out += "\nfrom: " + field(m.from) + "\nto: " + field(m.to) + "\ncc: " + field(m.cc) + "\nbcc: " + field(m.bcc) +
           "\nsubject: " + field(m.subject) + "\nsize: " + std::to_string(m.original.size()) + "\nattachments:";
    for (const auto& [name, data] : m.attachments) out += " [" + field(name) + "] " + std::to_string(data.size());
    out += "\nmessage:\n" + printable(m.message) + "\n--- original\n";
    out += printable(m.original);
    out += "--- end\n";
    std::lock_guard lock(mu);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return Verdict::accept();
}

}  // namespace ringmail::smtpd
