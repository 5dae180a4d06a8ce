// mime/encoded_words.cpp — RFC 2047 encoded words: decoding (sections 4, 5, 6) and
// encoding (section 5 rule 3, "phrase"-safe Q so words fit display names too).
// Invariant: one left-to-right pass; each candidate "=?" costs at most the distance to the
// next candidate, so decoding is linear in the input whatever its shape.
#include "base/ascii.hpp"
#include "mime/encoded_words.hpp"

#include <array>
#include <cstdint>

#include "mime/charset.hpp"

namespace ringmail::mime {
namespace {

// RFC 2047 2 limits a word to 75 octets, so a real charset name is short; the bound keeps
// the scan for '?' constant per candidate.
constexpr std::size_t kMaxCharset = 64;

struct Word {
    std::string_view charset;  // without an RFC 2231 5 "*language" suffix
    char encoding = 0;         // 'B' or 'Q'
    std::string_view text;
    std::size_t size = 0;      // of the whole word, "=?" to "?="
};

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

// RFC 2047 2: charset is a token; especials (which include '?', '=' and '.') cannot appear,
// but '.' does in the wild ("iso-8859-1.x"), so only '?', '=', blanks and controls stop it.
constexpr bool is_charset_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '?' && c != '=';
}

// Matches an encoded word at the start of `s`. `loose` accepts blanks inside the text, as
// broken encoders emit "=?iso-8859-1?q?Hello World?=". The text ends at the first "?=";
// another "=?" inside it that does not close a word ("==?=" ends base64 padding) means this
// candidate is not a word, and the scan never runs past that next candidate.
bool match_word(std::string_view s, bool loose, Word& w) noexcept {
    if (s.size() < 8 || s[0] != '=' || s[1] != '?') return false;
    std::size_t i = 2;
    while (i < s.size() && i - 2 <= kMaxCharset && is_charset_char(s[i])) ++i;
    if (i == 2 || i >= s.size() || s[i] != '?' || i - 2 > kMaxCharset) return false;
    std::string_view charset = s.substr(2, i - 2);
    if (const auto star = charset.find('*'); star != std::string_view::npos)
        charset = charset.substr(0, star);
    if (charset.empty() || i + 2 >= s.size() || s[i + 2] != '?') return false;
    const char enc = s[i + 1];
    if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return false;
    const std::size_t start = i + 3;
    for (std::size_t j = start; j + 1 < s.size(); ++j) {
        const char c = s[j];
        if (c == '?' && s[j + 1] == '=') {
            w.charset = charset;
            w.encoding = (enc == 'b' || enc == 'B') ? 'B' : 'Q';
            w.text = s.substr(start, j - start);
            w.size = j + 2;
            return true;
        }
        if (c == '=' && s[j + 1] == '?' && (j + 2 >= s.size() || s[j + 2] != '=')) return false;
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return false;
        if (is_blank(c) && !loose) return false;
    }
    return false;
}

using base::hex_value;

// RFC 2047 4.2: like quoted-printable, but '_' is a space and there are no soft breaks.
// A malformed "=X" is kept literally (best effort, as for QP).
void decode_q(std::string_view text, std::string& out) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '_') {
            out += ' ';
        } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                   hex_value(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
}

constexpr std::array<std::int8_t, 256> make_b64_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}
constexpr auto kB64 = make_b64_table();

// RFC 2047 4.1: base64 without line breaks. Missing padding is forgiven; a byte outside
// the alphabet makes the word malformed (false), and it is then kept as text.
bool decode_b(std::string_view text, std::string& out) {
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (const char c : text) {
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = kB64[static_cast<unsigned char>(c)];
        if (v < 0 || padding) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return true;
}

using base::iequals;

void append_converted(std::string& out, std::string_view bytes, std::string_view charset) {
    if ((iequals(charset, "utf-8") || iequals(charset, "us-ascii") || iequals(charset, "utf8")) &&
        is_valid_utf8(bytes)) {
        out += bytes;  // the common case needs no conversion
        return;
    }
    out += to_utf8(bytes, charset);
}

void append_text(std::string& out, std::string_view text) {
    if (is_valid_utf8(text))
        out += text;
    else
        out += utf8_or_latin1(text);  // 8-bit header bytes
}

// RFC 5322 2.2.3: unfolding removes the CRLF of each fold. A bare CR or LF has no place in
// a header value and is dropped too. Leading and trailing blanks are trimmed.
std::string unfold(std::string_view raw) {
    std::string s;
    s.reserve(raw.size());
    for (const char c : raw)
        if (c != '\r' && c != '\n') s += c;
    std::size_t b = 0, e = s.size();
    while (b < e && is_blank(s[b])) ++b;
    while (e > b && is_blank(s[e - 1])) --e;
    return s.substr(b, e - b);
}

}  // namespace

std::size_t encoded_word_size(std::string_view s) noexcept {
    Word w;
    return match_word(s, false, w) ? w.size : 0;
}

std::string decode_header_value(std::string_view raw) {
    // Most values (Date, Message-ID, plain subjects) have no encoded word, no fold, no
    // blank at either end and no 8-bit bytes: they are their own decoding, one copy and
    // no scratch strings.
    static constexpr base::OctetSet kLineBreak("\r\n");
    if (raw.find("=?") == std::string_view::npos && !kLineBreak.any_in(raw) &&
        (raw.empty() || (!is_blank(raw.front()) && !is_blank(raw.back()))) && is_valid_utf8(raw))
        return std::string(raw);
    const std::string s = unfold(raw);
    const std::string_view v = s;
    std::string out;
    out.reserve(v.size());
    // Adjacent words of one charset are joined as bytes before conversion: encoders split
    // multibyte characters across words in the wild (RFC 2047 5 forbids it, Python joins).
    std::string run;
    std::string_view run_charset;
    bool in_run = false;
    const auto flush = [&] {
        if (!in_run) return;
        append_converted(out, run, run_charset);
        run.clear();
        in_run = false;
    };
    std::size_t text_start = 0;
    std::size_t i = 0;
    std::string bytes;
    while (i < v.size()) {
        const std::size_t p = v.find("=?", i);
        if (p == std::string_view::npos) break;
        Word w;
        bytes.clear();
        if (!match_word(v.substr(p), true, w) ||
            (w.encoding == 'B' ? !decode_b(w.text, bytes) : (decode_q(w.text, bytes), false))) {
            i = p + 1;  // malformed: stays text
            continue;
        }
        const std::string_view between = v.substr(text_start, p - text_start);
        bool blank = true;
        for (const char c : between) blank = blank && is_blank(c);
        // RFC 2047 6.2: blanks between two adjacent encoded words are not displayed.
        if (!(in_run && blank)) {
            flush();
            append_text(out, between);
        }
        if (in_run && !iequals(run_charset, w.charset)) flush();
        if (!in_run) {
            run_charset = w.charset;
            in_run = true;
        }
        run += bytes;
        text_start = i = p + w.size;
    }
    flush();
    append_text(out, v.substr(text_start));
    // The raw value was trimmed, but a word that decodes to nothing or to blanks can leave
    // a blank at either end ("=?utf-8?b?2?= x"); a decoded value never has one, so that
    // decoding what encode_header_value makes of it gives it back (found by fuzzing).
    std::size_t e = out.size();
    while (e > 0 && is_blank(out[e - 1])) --e;
    out.erase(e);
    std::size_t b = 0;
    while (b < out.size() && is_blank(out[b])) ++b;
    out.erase(0, b);
    return out;
}

namespace {

// RFC 2047 5 rule 3: in a phrase, Q may leave only letters, digits and "!*+-/" as is.
constexpr bool q_literal(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

std::size_t utf8_char_size(std::string_view s, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    return i + n <= s.size() ? n : s.size() - i;
}

// One line of base64 (RFC 2047 4.1); words are short, so a plain loop will do.
std::string b64_line(std::string_view in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        const std::size_t n = in.size() - i < 3 ? in.size() - i : 3;
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 3; ++k)
            v = (v << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
        for (std::size_t k = 0; k < 4; ++k)
            out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
}

bool needs_encoding(std::string_view s) noexcept {
    if (s.size() > 900 || s.find("=?") != std::string_view::npos) return true;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x7f || (u < 0x20 && c != '\t')) return true;
    }
    return false;
}

}  // namespace

std::string encode_header_value(std::string_view utf8) {
    if (!needs_encoding(utf8)) return std::string(utf8);
    const std::string text = is_valid_utf8(utf8) ? std::string(utf8) : utf8_or_latin1(utf8);
    std::size_t q_cost = 0;
    for (const char c : text) q_cost += (q_literal(static_cast<unsigned char>(c)) || c == ' ') ? 1 : 3;
    // Q stays readable; B only when it saves 5 octets or more (Python's email does the same).
    const bool use_b = (text.size() + 2) / 3 * 4 + 5 <= q_cost;
    // RFC 2047 2: at most 75 octets per word; "=?UTF-8?Q?" + "?=" leave 63 for the text.
    constexpr std::size_t kRoom = 75 - 12;
    std::string out;
    std::string chunk;  // raw bytes of the current word
    std::size_t used = 0;
    const auto emit = [&] {
        if (!out.empty()) out += "\r\n ";
        out += use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?";
        if (use_b) {
            out += b64_line(chunk);
        } else {
            for (const char c : chunk) {
                const auto u = static_cast<unsigned char>(c);
                if (q_literal(u)) {
                    out += c;
                } else if (c == ' ') {
                    out += '_';
                } else {
                    out += '=';
                    base::append_hex(out, u);
                }
            }
        }
        out += "?=";
        chunk.clear();
        used = 0;
    };
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_char_size(text, i);
        std::size_t cost = 0;
        if (use_b) {
            cost = (chunk.size() + n + 2) / 3 * 4 - used;
        } else {
            for (std::size_t k = 0; k < n; ++k) {
                const char c = text[i + k];
                cost += (q_literal(static_cast<unsigned char>(c)) || c == ' ') ? 1 : 3;
            }
        }
        if (!chunk.empty() && used + cost > kRoom) {
            emit();
            if (use_b) cost = (n + 2) / 3 * 4;
        }
        chunk.append(text, i, n);
        used += cost;
        i += n;
    }
    if (!chunk.empty() || out.empty()) emit();
    return out;
}

}  // namespace ringmail::mime
