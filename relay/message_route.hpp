// relay/message_route.hpp — a smarthost of a message's own (the original's per-message
// host, port, user, password, TLS and timeout), kept with the message in the store as one
// text column and routed by the engine as a destination of its own. The text is
// length-prefixed fields ("4:host,3:587,..."), so any octet may appear in a password.
// Invariant: decode(encode(r)) == r for every route.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace ringmail::relay {

struct MessageRoute {
    std::string host;                        // a name or an IP address
    std::uint16_t port = 25;
    SmarthostTls tls = SmarthostTls::None;   // none, STARTTLS, or TLS from the start (smtps)
    std::string user, password;              // AUTH PLAIN/LOGIN when the password is set
    unsigned timeout_s = 0;                  // connect and every reply; 0: the relay's
    bool verify = true;                      // check the certificate (tests turn it off)

    std::string label() const;               // "host:port", "[v6]:port": logs, queue show
    std::string encode() const;
    static std::optional<MessageRoute> decode(std::string_view text);
    bool operator==(const MessageRoute&) const = default;
};

}  // namespace ringmail::relay
