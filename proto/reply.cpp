// proto/reply.cpp — reply formatting (RFC 5321 4.2, RFC 2034 enhanced codes).
#include "proto/reply.hpp"

#include <cstring>

namespace ringmail::proto {

static_assert([] {
    for (std::size_t i = 0; i < std::size(reply_for); ++i)
        if (static_cast<std::size_t>(reply_for[i].error) != i) return false;
    return true;
}(), "reply_for must be indexed by Error");

void append_reply(std::string& out, unsigned code, std::string_view status,
                  std::string_view text, bool more) {
    // A reply line must stay within 512 octets (RFC 5321 4.5.3.1.5).
    text = text.substr(0, 400);
    // One growth and straight copies: replies are written a few times per message.
    const std::size_t at = out.size();
    out.resize(at + 4 + (status.empty() ? 0 : status.size() + 1) + text.size() + 2);
    char* p = out.data() + at;
    *p++ = char('0' + code / 100 % 10);
    *p++ = char('0' + code / 10 % 10);
    *p++ = char('0' + code % 10);
    *p++ = more ? '-' : ' ';
    if (!status.empty()) {
        std::memcpy(p, status.data(), status.size());
        p += status.size();
        *p++ = ' ';
    }
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        *p++ = c < 0x20 || c == 0x7f ? ' ' : ch;
    }
    *p++ = '\r';
    *p = '\n';
}

}  // namespace ringmail::proto
