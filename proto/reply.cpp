// proto/reply.cpp — reply formatting (RFC 5321 4.2, RFC 2034 enhanced codes).
#include "proto/reply.hpp"

namespace ringmail::proto {

static_assert([] {
    for (std::size_t i = 0; i < std::size(reply_for); ++i)
        if (static_cast<std::size_t>(reply_for[i].error) != i) return false;
    return true;
}(), "reply_for must be indexed by Error");

void append_reply(std::string& out, unsigned code, std::string_view status,
                  std::string_view text, bool more) {
    char num[4] = {char('0' + code / 100 % 10), char('0' + code / 10 % 10),
                   char('0' + code % 10), more ? '-' : ' '};
    out.append(num, 4);
    if (!status.empty()) {
        out.append(status);
        out.push_back(' ');
    }
    const std::size_t start = out.size();
    // A reply line must stay within 512 octets (RFC 5321 4.5.3.1.5).
    out.append(text.substr(0, 400));
    for (std::size_t i = start; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c < 0x20 || c == 0x7f) out[i] = ' ';
    }
    out.append("\r\n", 2);
}

}  // namespace ringmail::proto
