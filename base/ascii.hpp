// base/ascii.hpp — the ASCII helpers every layer needs, once: letter-only case folding,
// case-insensitive compare, hex digits. Letters fold only A-Z to a-z: folding any byte
// with `| 0x20` would make control bytes equal letters ("base\x16\x14" == "base64"),
// a parser differential against every other reader. Pure, header-only, no dependencies.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::base {

constexpr bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
constexpr bool is_alpha(char c) noexcept { return is_upper(c) || (c >= 'a' && c <= 'z'); }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
constexpr char to_lower(char c) noexcept { return is_upper(c) ? static_cast<char>(c + ('a' - 'A')) : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// A set of octets to look for. std::string_view::find_first_of calls memchr on the set
// once per octet of the text (libstdc++): on the short values of hot paths (header
// fields, log values) that cost more than the rest of their parsing.
class OctetSet {
public:
    constexpr explicit OctetSet(std::string_view members) noexcept : has_{} {
        for (const char c : members) has_[static_cast<unsigned char>(c)] = true;
    }
    constexpr bool contains(char c) const noexcept { return has_[static_cast<unsigned char>(c)]; }
    constexpr bool any_in(std::string_view s) const noexcept {
        for (const char c : s)
            if (contains(c)) return true;
        return false;
    }

private:
    bool has_[256];
};

inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = to_lower(c);
    return out;
}

// 0-15 for a hex digit of either case, -1 otherwise.
constexpr int hex_value(char c) noexcept {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline constexpr char kUpperHex[] = "0123456789ABCDEF";
inline constexpr char kLowerHex[] = "0123456789abcdef";

// Two hex digits for one octet; upper case as RFC 2045/2047/2231 require for "=XX"/"%XX".
inline void append_hex(std::string& out, unsigned char c, bool upper = true) {
    const char* digits = upper ? kUpperHex : kLowerHex;
    out += digits[c >> 4];
    out += digits[c & 15];
}

// A value as one-line error messages show it: quoted, at most 64 octets, control, non-ASCII
// and backslash octets as \xNN, so that hostile input cannot put line breaks or terminal
// escapes into the message.
inline std::string quoted(std::string_view v) {
    std::string out = "'";
    for (std::size_t i = 0; i < v.size() && i < 64; ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            append_hex(out, c, false);
        }
    }
    if (v.size() > 64) out += "...";
    return out + "'";
}

inline std::string hex_encode(std::string_view bytes, bool upper = false) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) append_hex(out, static_cast<unsigned char>(c), upper);
    return out;
}

}  // namespace ringmail::base
