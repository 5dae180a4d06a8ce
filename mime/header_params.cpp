// mime/header_params.cpp — Content-Type / Content-Disposition parameters: RFC 2045 5.1
// syntax, RFC 2183, RFC 2231 3 (continuations), 4 (charset'language'%XX), and the RFC 2047
// words that mailers put in quoted file names although RFC 2047 5 forbids it there.
// Invariant: one pass over the value; names lower-cased; the first of duplicates wins.
#include "base/ascii.hpp"
#include "mime/header_params.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"

namespace ringmail::mime {
namespace {

// RFC 2231 3 puts no bound on sections; 3 digits (999 sections) are far beyond real mail
// and keep the section numbers small.
constexpr std::size_t kMaxSectionDigits = 3;

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

using base::hex_value;
using base::to_lower;

// RFC 2231 4: "%XX" is an octet; a malformed '%' is kept as is.
void percent_decode(std::string_view s, std::string& out) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
}

// Skips blanks and RFC 5322 3.2.2 comments (nested, with quoted pairs) from `i`.
std::size_t skip_cfws(std::string_view s, std::size_t i) noexcept {
    while (i < s.size()) {
        if (is_blank(s[i])) {
            ++i;
        } else if (s[i] == '(') {
            int depth = 0;
            for (; i < s.size(); ++i) {
                if (s[i] == '\\') {
                    ++i;
                } else if (s[i] == '(') {
                    ++depth;
                } else if (s[i] == ')' && --depth == 0) {
                    ++i;
                    break;
                }
            }
        } else {
            break;
        }
    }
    return i;
}

// A quoted string from the opening '"' at `i`; quoted pairs unescaped, folds removed. An
// unterminated string runs to the end. Returns the index after the closing quote.
std::size_t read_quoted(std::string_view s, std::size_t i, std::string& out) {
    for (++i; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') return i + 1;
        if (c == '\\' && i + 1 < s.size()) {
            out += s[++i];
        } else if (c != '\r' && c != '\n') {
            out += c;
        }
    }
    return i;
}

struct Section {
    unsigned number = 0;
    bool extended = false;  // "*" after the name or section: charset'lang'%XX (first) or %XX
    std::string value;
};

struct Param {
    std::string name;                 // lower-cased base name
    bool rfc2231 = false;             // seen as name* or name*N
    std::string plain;                // the value of "name=" when given that way
    bool has_plain = false;
    std::vector<Section> sections;
};

// Splits "name*1*" into base "name", section 1, extended; "name*" into section 0 extended.
void split_name(std::string_view n, std::string_view& base, unsigned& section, bool& extended,
                bool& is2231) noexcept {
    base = n;
    section = 0;
    extended = false;
    is2231 = false;
    if (!n.empty() && n.back() == '*') {
        extended = true;
        is2231 = true;
        n.remove_suffix(1);
        base = n;
    }
    const auto star = n.rfind('*');
    if (star == std::string_view::npos) return;
    const std::string_view digits = n.substr(star + 1);
    if (digits.empty() || digits.size() > kMaxSectionDigits) return;
    unsigned v = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    base = n.substr(0, star);
    section = v;
    is2231 = true;
}

// Joins RFC 2231 sections in order of their numbers. The charset of section 0 (when it
// is extended) applies to the whole value; without one the bytes are UTF-8 or Latin-1.
std::string join_sections(std::vector<Section>& sections) {
    // Stable: of two sections with one number, the first given stays first and wins.
    std::stable_sort(sections.begin(), sections.end(),
                     [](const Section& a, const Section& b) { return a.number < b.number; });
    std::string bytes;
    std::string charset;
    for (std::size_t k = 0; k < sections.size(); ++k) {
        const Section& sec = sections[k];
        if (k > 0 && sec.number == sections[k - 1].number) continue;  // duplicate: first wins
        std::string_view v = sec.value;
        if (sec.extended && k == 0) {
            // RFC 2231 4: charset'language'value; a value without the two quotes is read
            // as percent-encoded text in no charset.
            const auto q1 = v.find('\'');
            const auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
                charset = std::string(v.substr(0, q1));
                v = v.substr(q2 + 1);
            }
        }
        if (sec.extended)
            percent_decode(v, bytes);
        else
            bytes += v;
    }
    if (!charset.empty()) return to_utf8(bytes, charset);
    if (bytes.find("=?") != std::string::npos) return decode_header_value(bytes);
    return is_valid_utf8(bytes) ? bytes : utf8_or_latin1(bytes);
}

std::string plain_value(const std::string& v) {
    // Quoted values with RFC 2047 words: filename="=?UTF-8?B?...?=" from many mailers.
    if (v.find("=?") != std::string::npos) return decode_header_value(v);
    return is_valid_utf8(v) ? v : utf8_or_latin1(v);
}

// Parameters in order of appearance, with an index by name (a hostile value may carry
// thousands of them, so no linear search).
struct Params {
    std::vector<Param> list;
    std::map<std::string, std::size_t, std::less<>> index;

    Param& operator[](std::string_view base) {
        const auto it = index.find(base);
        if (it != index.end()) return list[it->second];
        index.emplace(std::string(base), list.size());
        list.push_back(Param{});
        list.back().name = std::string(base);
        return list.back();
    }
};

// Reads one "name = value" at `i` (after a ';'); returns where the next one may start.
std::size_t read_param(std::string_view s, std::size_t i, Params& params) {
    const std::size_t name_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && !is_blank(s[i]) && s[i] != '(' && s[i] != '"')
        ++i;
    const std::string name = to_lower(s.substr(name_start, i - name_start));
    i = skip_cfws(s, i);
    if (i >= s.size() || s[i] != '=' || name.empty()) {
        // Not a parameter (a stray token): skip to the next ';' outside quotes.
        for (bool quoted = false; i < s.size() && (quoted || s[i] != ';'); ++i) {
            if (s[i] == '\\') ++i;
            else if (s[i] == '"') quoted = !quoted;
        }
        return i;
    }
    i = skip_cfws(s, i + 1);
    std::string value;
    if (i < s.size() && s[i] == '"') {
        i = read_quoted(s, i, value);
    } else {
        // A token; in the wild also unquoted values with blanks ("name=my file.pdf"), so it
        // runs to the next ';' and trailing blanks are dropped.
        // A comment ends it, as in RFC 2045 5.1's "charset=us-ascii (Plain text)".
        while (i < s.size() && s[i] != ';') {
            if (s[i] == '(') {
                i = skip_cfws(s, i);
                continue;
            }
            if (s[i] != '\r' && s[i] != '\n') value += s[i];
            ++i;
        }
        while (!value.empty() && is_blank(value.back())) value.pop_back();
    }
    std::string_view base;
    unsigned section = 0;
    bool extended = false, is2231 = false;
    split_name(name, base, section, extended, is2231);
    Param& p = params[base];
    if (is2231) {
        p.rfc2231 = true;
        p.sections.push_back(Section{section, extended, std::move(value)});
    } else if (!p.has_plain) {
        p.has_plain = true;
        p.plain = std::move(value);
    }
    return i;
}

}  // namespace

std::string HeaderParams::param(const std::string& name) const {
    const auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
}

HeaderParams parse_header_params(std::string_view raw) {
    HeaderParams out;
    std::size_t i = skip_cfws(raw, 0);
    // The value ("text/plain", "attachment"): blanks and comments inside it are dropped.
    while (i < raw.size() && raw[i] != ';') {
        if (is_blank(raw[i]) || raw[i] == '(') {
            i = skip_cfws(raw, i);
            continue;
        }
        out.value += to_lower(raw[i++]);
    }
    Params params;
    while (i < raw.size()) {
        i = skip_cfws(raw, i + 1);  // past the ';'
        if (i < raw.size() && raw[i] != ';') i = read_param(raw, i, params);
        while (i < raw.size() && raw[i] != ';') ++i;  // junk after a value
    }
    for (auto& p : params.list) {
        // RFC 2231 wins over a plain value of the same name: mailers send both, the plain
        // one as a fallback for old readers.
        std::string v = p.rfc2231 ? join_sections(p.sections) : plain_value(p.plain);
        out.params.emplace(std::move(p.name), std::move(v));
    }
    return out;
}

namespace {

// RFC 2231 7 attribute-char: what may stand unencoded in an extended value.
constexpr bool attr_char(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '!' || c == '#' || c == '$' || c == '&' || c == '+' || c == '-' || c == '.' ||
           c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
}

// Sections are cut so that ` name*NN*=` plus the section and ';' stay within the 78
// characters a line that RFC 5322 2.1.1 recommends (for names of reasonable length).
std::size_t section_room(std::string_view name) noexcept {
    return name.size() + 21 + 20 < 78 ? 78 - (name.size() + 21) : 20;
}

void append_encoded(std::string& out, std::string_view name, std::size_t k, bool extended,
                    std::string_view piece) {
    if (k > 0) out += ";\r\n ";
    out += name;
    out += '*';
    out += std::to_string(k);
    if (extended) {
        out += "*=";
        if (k == 0) out += "utf-8''";
        out += piece;
    } else {
        out += "=\"";
        out += piece;
        out += '"';
    }
}

}  // namespace

std::string encode_param(std::string_view name, std::string_view utf8_value) {
    // A value with "=?" goes the extended way too, or a reader would take it for RFC 2047;
    // so does one with '"' or '\\', since readers disagree on quoted-pairs in file names.
    bool ascii = utf8_value.find("=?") == std::string_view::npos;
    for (const char c : utf8_value) {
        const auto u = static_cast<unsigned char>(c);
        ascii = ascii && u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    }
    const std::string value = ascii || is_valid_utf8(utf8_value) ? std::string(utf8_value)
                                                                 : utf8_or_latin1(utf8_value);
    const std::size_t room = section_room(name);
    std::vector<std::string> pieces(1);
    for (std::size_t i = 0; i < value.size();) {
        // Never split a UTF-8 character across sections: some readers
        // decode each section on its own.
        const auto lead = static_cast<unsigned char>(value[i]);
        std::size_t cn = ascii || lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        if (i + cn > value.size()) cn = value.size() - i;
        std::string enc;
        for (std::size_t k = 0; k < cn; ++k) {
            const char c = value[i + k];
            const auto u = static_cast<unsigned char>(c);
            if (ascii || attr_char(u)) {
                enc += c;
            } else {
                enc += '%';
                base::append_hex(enc, u);
            }
        }
        if (!pieces.back().empty() && pieces.back().size() + enc.size() > room) pieces.emplace_back();
        pieces.back() += enc;
        i += cn;
    }
    std::string out(name);
    if (pieces.size() == 1) {
        out += ascii ? "=\"" : "*=utf-8''";
        out += pieces[0];
        if (ascii) out += '"';
        return out;
    }
    // RFC 2231 3: continuations, one section a folded line.
    out.clear();
    for (std::size_t k = 0; k < pieces.size(); ++k) append_encoded(out, name, k, !ascii, pieces[k]);
    return out;
}

}  // namespace ringmail::mime
