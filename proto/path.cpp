// proto/path.cpp — RFC 5321 4.1.2 Mailbox / Path grammar, strictly: angle brackets are
// required, local part is a dot-string or quoted-string, domain is a name or address
// literal, and the lengths of 4.5.3.1 hold.
#include "proto/path.hpp"

#include "base/ascii.hpp"
#include <algorithm>
#include <charconv>

namespace ringmail::proto {
namespace {

bool is_atext(unsigned char c) noexcept {
    if (c >= 0x80) return true;  // only reaches a mailbox with SMTPUTF8; checked by the caller
    if (base::is_alnum(char(c))) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(char(c)) != std::string_view::npos;
}

using base::iequals;

bool valid_dot_string(std::string_view s) noexcept {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!is_atext(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

bool valid_quoted(std::string_view s) noexcept {  // includes the quotes
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            if (++i + 1 >= s.size()) return false;
            const auto q = static_cast<unsigned char>(s[i]);
            if (q < 0x20 || q > 0x7e) return false;
        } else if (c == '"' || (c < 0x20) || c == 0x7f) {
            return false;
        }
    }
    return true;
}

bool valid_domain(std::string_view d) noexcept {
    if (d.empty() || d.size() > 255) return false;
    if (d.front() == '[') {  // address literal, RFC 5321 4.1.3; contents kept loose
        if (d.back() != ']' || d.size() < 3) return false;
        for (char c : d.substr(1, d.size() - 2))
            if (c <= ' ' || c == '[' || c == ']' || c == '\\' || c == 0x7f) return false;
        return true;
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i <= d.size(); ++i) {
        if (i == d.size() || d[i] == '.') {
            if (label == 0 || label > 63 || d[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        const auto c = static_cast<unsigned char>(d[i]);
        const bool alnum = base::is_alnum(c);
        if (!(alnum || c >= 0x80 || (c == '-' && label > 0))) return false;
        ++label;
    }
    return true;
}

// Finds the '>' closing the path, skipping quoted strings in the local part.
std::size_t find_close(std::string_view s) noexcept {
    bool quoted = false;
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (quoted) {
            if (s[i] == '\\') ++i;
            else if (s[i] == '"') quoted = false;
        } else if (s[i] == '"') {
            quoted = true;
        } else if (s[i] == '>') {
            return i;
        }
    }
    return std::string_view::npos;
}

PathParse failed(Error e) noexcept {
    PathParse p;
    p.error = e;
    return p;
}

}  // namespace

PathParse parse_path(std::string_view arg, bool is_rcpt) noexcept {
    PathParse r;
    const Error bad = is_rcpt ? Error::BadRecipient : Error::BadSender;
    // Tolerate spaces after the colon: common in the wild and unambiguous.
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (arg.empty() || arg.front() != '<') return failed(bad);
    const std::size_t close = find_close(arg);
    if (close == std::string_view::npos) return failed(bad);
    std::string_view path = arg.substr(1, close - 1);
    r.params = arg.substr(close + 1);
    if (!r.params.empty() && r.params.front() != ' ') return failed(bad);
    while (!r.params.empty() && r.params.front() == ' ') r.params.remove_prefix(1);
    if (path.empty()) {
        if (is_rcpt) return failed(bad);  // null path is a sender only
        return r;
    }
    if (path.size() > 254) return failed(bad);  // 256 with the brackets, 4.5.3.1.3
    if (path.front() == '@') {  // obsolete source route "@a,@b:" (RFC 5321 4.1.2, C.)
        const std::size_t colon = path.find(':');
        if (colon == std::string_view::npos) return failed(bad);
        path.remove_prefix(colon + 1);
    }
    r.non_ascii = std::any_of(path.begin(), path.end(),
                              [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    if (is_rcpt && iequals(path, "postmaster")) {
        r.address = path;
        return r;
    }
    const std::size_t at = path.rfind('@');
    if (at == std::string_view::npos || at == 0) return failed(bad);
    const std::string_view local = path.substr(0, at);
    const std::string_view domain = path.substr(at + 1);
    if (local.size() > 64) return failed(bad);  // 4.5.3.1.1
    if (!(local.front() == '"' ? valid_quoted(local) : valid_dot_string(local)))
        return failed(bad);
    if (!valid_domain(domain)) return failed(bad);
    r.address = path;
    return r;
}

namespace {

// Calls `f(keyword, value)` for each "KEY[=VALUE]" separated by spaces; stops at an error.
template <class F>
Error for_each_param(std::string_view params, F&& f) noexcept {
    while (!params.empty()) {
        const std::size_t sp = params.find(' ');
        std::string_view p = params.substr(0, sp);
        params = sp == std::string_view::npos ? std::string_view{} : params.substr(sp + 1);
        if (p.empty()) continue;
        const std::size_t eq = p.find('=');
        const std::string_view key = p.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : p.substr(eq + 1);
        if (key.empty()) return Error::SyntaxArgs;
        if (const Error e = f(key, value, eq != std::string_view::npos); e != Error::None) return e;
    }
    return Error::None;
}

}  // namespace

std::optional<std::string> bare_address(std::string_view text, bool is_rcpt) {
    const std::string path = "<" + std::string(text) + ">";
    const PathParse p = parse_path(path, is_rcpt);
    if (p.error != Error::None || !p.params.empty() || (is_rcpt && p.address.empty())) return std::nullopt;
    return std::string(p.address);
}

MailParams parse_mail_params(std::string_view params) noexcept {
    MailParams m;
    m.error = for_each_param(params, [&](std::string_view key, std::string_view value, bool has_value) {
        if (iequals(key, "SIZE")) {
            if (!has_value || value.empty() || value.size() > 20) return Error::SyntaxArgs;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), m.size);
            if (ec != std::errc{} || p != value.data() + value.size()) return Error::SyntaxArgs;
            return Error::None;
        }
        if (iequals(key, "BODY")) {  // RFC 6152; BINARYMIME is not offered
            if (iequals(value, "7BIT") || iequals(value, "8BITMIME")) return Error::None;
            return Error::UnknownParameter;
        }
        if (iequals(key, "SMTPUTF8") && !has_value) {
            m.smtputf8 = true;
            return Error::None;
        }
        if (iequals(key, "AUTH") && has_value) return Error::None;  // RFC 4954 5: may ignore
        return Error::UnknownParameter;
    });
    return m;
}

Error check_rcpt_params(std::string_view params) noexcept {
    return for_each_param(params, [](std::string_view, std::string_view, bool) {
        return Error::UnknownParameter;  // no DSN (RFC 3461) yet, so no RCPT parameters
    });
}

}  // namespace ringmail::proto
