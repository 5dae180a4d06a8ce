// proto/client_reply.cpp — RFC 5321 4.2 reply syntax for the client, and EHLO keyword
// parsing (RFC 5321 4.1.1.1). Garbage is an error value, never an exception.
#include "proto/client_reply.hpp"

#include <algorithm>
#include <cstring>

namespace ringmail::proto {
namespace {

char upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

std::string upper_copy(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper(c);
    return out;
}

}  // namespace

std::string ServerReply::to_string() const {
    std::string out = std::to_string(code);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        out += i == 0 ? " " : " / ";
        out += lines[i];
    }
    return out;
}

ReplyReader::ReadStep ReplyReader::feed(std::span<const char> in) noexcept {
    ReadStep r;
    if (done_) {
        partial_ = ServerReply{};
        done_ = false;
    }
    while (r.consumed < in.size()) {
        const char* start = in.data() + r.consumed;
        const std::size_t avail = in.size() - r.consumed;
        const void* nl = std::memchr(start, '\n', std::min(avail, limits_.max_line + 1));
        if (nl == nullptr) {
            if (avail > limits_.max_line) r.error = ReplyError::LineTooLong;
            return r;  // need more bytes
        }
        const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
        std::string_view line(start, len);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        r.consumed += len + 1;
        // "DDD", "DDD text" or "DDD-text"; the first digit 2-5 (RFC 5321 4.2).
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
            line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
            r.error = ReplyError::Syntax;
            return r;
        }
        const auto code = static_cast<std::uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
        if (!partial_.lines.empty() && code != partial_.code) {
            r.error = ReplyError::CodeChanged;
            return r;
        }
        if (partial_.lines.size() >= limits_.max_lines) {
            r.error = ReplyError::TooManyLines;
            return r;
        }
        try {
            partial_.code = code;
            partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
        } catch (...) {
            r.error = ReplyError::TooManyLines;  // out of memory: treat as an oversized reply
            return r;
        }
        if (line.size() == 3 || line[3] == ' ') {
            done_ = true;
            r.complete = true;
            return r;
        }
    }
    return r;
}

ServerReply ReplyReader::take() noexcept {
    ServerReply out = std::move(partial_);
    partial_ = ServerReply{};
    done_ = false;
    return out;
}

bool Extensions::has_auth(std::string_view mech) const noexcept {
    return std::find(auth.begin(), auth.end(), mech) != auth.end();
}

Extensions parse_extensions(const ServerReply& ehlo) {
    Extensions ext;
    ext.esmtp = true;
    for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
        const auto w = words(ehlo.lines[i]);
        if (w.empty()) continue;
        std::string key = upper_copy(w[0]);
        // Old servers write "AUTH=PLAIN LOGIN" (before RFC 4954 settled on a space).
        std::vector<std::string_view> params(w.begin() + 1, w.end());
        if (key.starts_with("AUTH=")) {
            params.insert(params.begin(), std::string_view(w[0]).substr(5));
            key = "AUTH";
        }
        if (key == "PIPELINING") ext.pipelining = true;
        else if (key == "8BITMIME") ext.eight_bit_mime = true;
        else if (key == "SMTPUTF8") ext.smtputf8 = true;
        else if (key == "CHUNKING") ext.chunking = true;
        else if (key == "STARTTLS") ext.starttls = true;
        else if (key == "ENHANCEDSTATUSCODES") ext.enhanced_status = true;
        else if (key == "SIZE") {
            ext.size_offered = true;
            std::uint64_t n = 0;
            if (!params.empty()) {
                for (char c : params[0]) {
                    if (!is_digit(c) || n > (UINT64_MAX - 9) / 10) { n = 0; break; }
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
            }
            ext.size = n;
        } else if (key == "AUTH") {
            for (auto p : params) {
                std::string m = upper_copy(p);
                if (!m.empty() && !ext.has_auth(m)) ext.auth.push_back(std::move(m));
            }
        }
    }
    return ext;
}

}  // namespace ringmail::proto
