// fuzz/fuzz_support.hpp — helpers shared by the fuzz targets: byte views and an
// engine-like driver for proto::ServerSession that records everything it says.
// Deterministic and stateless between inputs; failed checks trap (the fuzzer's crash).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/server_session.hpp"

namespace ringmail::fuzz {

inline std::span<const char> as_chars(const std::uint8_t* p, std::size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
}

// A failed property: say which one (for the replay test log), then crash.
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    __builtin_trap();
}

inline void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

// Small limits, so that short inputs reach every one of them.
inline proto::Limits fuzz_limits() noexcept {
    proto::Limits l;
    l.max_command_line = 512;
    l.max_text_line = 100;
    l.max_auth_line = 1024;
    l.max_message_size = 2000;
    l.max_recipients = 5;
    l.max_errors = 10;
    l.max_junk_commands = 20;
    return l;
}

// Handler verdicts that depend on the input only: recipients r… rejected, t… deferred;
// password "wrong" rejected; a body with "X-Test: reject" rejected.
inline proto::Resolution verdict(proto::ServerSession& s, proto::Need need, std::string& log) {
    using proto::Outcome;
    switch (need) {
    case proto::Need::Recipient: {
        const std::string_view r = s.recipient();
        log += "rcpt:" + std::string(r) + "\n";
        if (r.starts_with('r')) return {Outcome::Reject, "no\r\nsuch user"};
        if (r.starts_with('t')) return {Outcome::TempFail, {}};
        return {};
    }
    case proto::Need::Auth:
        log += "auth:" + std::string(s.auth_user()) + ":" + std::string(s.auth_password()) + "\n";
        return s.auth_password() == "wrong" ? proto::Resolution{Outcome::Reject, {}} : proto::Resolution{};
    case proto::Need::Message: {
        const proto::Envelope e = s.take_message();
        const proto::Limits l = fuzz_limits();
        check(e.body.size() <= l.max_message_size, "delivered body within max_message_size");
        check(e.recipients.size() <= l.max_recipients, "recipients within max_recipients");
        check(!e.recipients.empty(), "a delivered message has a recipient");
        // Invariant 5: what we deliver has CRLF line ends only.
        for (std::size_t i = 0; i < e.body.size(); ++i) {
            if (e.body[i] == '\r') check(i + 1 < e.body.size() && e.body[i + 1] == '\n', "no bare CR delivered");
            if (e.body[i] == '\n') check(i > 0 && e.body[i - 1] == '\r', "no bare LF delivered");
        }
        log += "mail:" + e.sender + ">";
        for (const auto& r : e.recipients) log += r + ",";
        log += std::to_string(e.body.size()) + ":" + e.body + "\n";
        if (e.body.find("X-Test: reject\r\n") != std::string::npos) return {Outcome::Reject, "spam"};
        return {};
    }
    default:
        fail("resolve() asked for an unexpected need");
    }
}

// Checks the reply stream: well-formed lines of at most 512 octets (RFC 5321 4.5.3.1.5),
// and a closing session's last word is 221 or 421.
inline void check_replies(std::string_view out, bool closed) {
    check(out.size() >= 2 && out.ends_with("\r\n"), "replies end in CRLF");
    std::string_view last;
    while (!out.empty()) {
        const std::size_t e = out.find("\r\n");
        check(e != std::string_view::npos, "reply line ends in CRLF");
        const std::string_view line = out.substr(0, e);
        check(line.size() + 2 <= 512, "reply line within 512 octets");
        check(line.size() >= 4 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '9' &&
                  line[2] >= '0' && line[2] <= '9' && (line[3] == ' ' || line[3] == '-'),
              "reply line is CODE SP/- text");
        check(line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos,
              "no CR or LF inside a reply line");
        last = line;
        out.remove_prefix(e + 2);
    }
    if (closed) check(last.starts_with("221 ") || last.starts_with("421 "), "a closed session ends with 221 or 421");
}

// Feeds `in` to a fresh session, split at the sorted offsets `cuts`, the way the reactor
// does (unconsumed bytes are kept and fed again); returns the replies and what the
// handlers were asked, so two splits can be compared.
inline std::string replies(std::span<const char> in, std::vector<std::size_t> cuts) {
    const proto::Limits limits = fuzz_limits();
    proto::ServerSession s(limits, proto::Features{}, "mx.test");
    s.greet(0);
    std::string pending, log;
    bool closed = false;
    cuts.push_back(in.size());
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        if (closed) break;
        cut = std::clamp(cut, from, in.size());
        pending.append(in.data() + from, cut - from);
        from = cut;
        std::size_t off = 0;
        for (;;) {
            const proto::Step st = s.feed({pending.data() + off, pending.size() - off}, 0);
            check(st.consumed <= pending.size() - off, "consumed within the input");
            off += st.consumed;
            if (st.need == proto::Need::Input) break;
            if (st.need == proto::Need::Close) {
                closed = true;
                break;
            }
            s.resolve(verdict(s, st.need, log));
        }
        pending.erase(0, off);
        // Bounded buffering: the caller never keeps more than one unfinished line.
        check(pending.size() < std::max(limits.max_command_line, limits.max_auth_line) || closed,
              "unconsumed bytes bounded by the line limit");
    }
    std::string& out = s.output();
    check_replies(out, closed);
    // Bounded output: no input byte buys more than a few dozen reply octets.
    check(out.size() <= 512 + 48 * in.size(), "output bounded by the input");
    return out + "\n--\n" + log + (closed ? "closed" : "open");
}

}  // namespace ringmail::fuzz
