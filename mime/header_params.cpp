// mime/header_params.cpp — Content-Type / Content-Disposition parameters: RFC 2045 5.1
// syntax, RFC 2183, RFC 2231 3 (continuations), 4 (charset'language'%XX), and the RFC 2047
// words that mailers put in quoted file names although RFC 2047 5 forbids it there.
// Invariant: one pass over the value, copying runs rather than bytes; names lower-cased;
// the first of duplicates wins. Every part of every message comes through here, so the
// common case (a few short parameters) costs one small vector and the values' strings.
#include "base/ascii.hpp"
#include "mime/header_params.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"

namespace ringmail::mime {
namespace {

// RFC 2231 3 puts no bound on sections; 3 digits (999 sections) are far beyond real mail
// and keep the section numbers small.
constexpr std::size_t kMaxSectionDigits = 3;
// Distinct names grouped by a linear search; past this many (a hostile value may carry
// thousands) they are grouped by sorting, so parsing stays O(n log n).
constexpr std::size_t kLinearGroups = 16;
constexpr std::uint32_t kNone = UINT32_MAX;

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

using base::hex_value;
using base::iequals;
using base::to_lower;

// RFC 2231 4: "%XX" is an octet; a malformed '%' is kept as is.
void percent_decode(std::string_view s, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t pct = s.find('%', i);
        if (pct == std::string_view::npos) {
            out.append(s.data() + i, s.size() - i);
            break;
        }
        out.append(s.data() + i, pct - i);
        i = pct;
        if (i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 3;
        } else {
            out += '%';
            ++i;
        }
    }
}

// Skips blanks and RFC 5322 3.2.2 comments (nested, with quoted pairs) from `i`; at most
// s.size().
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
    return std::min(i, s.size());
}

// A quoted string from the opening '"' at `i`; quoted pairs unescaped, folds removed. An
// unterminated string runs to the end (a final lone '\\' kept). Returns the index after
// the closing quote.
std::size_t read_quoted(std::string_view s, std::size_t i, std::string& out) {
    std::size_t run = ++i;  // start of the bytes not yet appended
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c != '"' && c != '\\' && c != '\r' && c != '\n') continue;
        out.append(s.data() + run, i - run);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (i + 1 == s.size()) {
                run = i;
                continue;
            }
            out += s[++i];
        }
        run = i + 1;  // past the pair, or the CR/LF dropped
    }
    out.append(s.data() + run, s.size() - run);
    return s.size();
}

// One "name=value" as written; entries of one base name form a group (linked by `next`).
struct Entry {
    std::string_view base;     // the name less its RFC 2231 suffix, as written (any case)
    unsigned section = 0;
    bool extended = false;     // "*" after the name or section: charset'lang'%XX or %XX
    bool rfc2231 = false;      // seen as name* or name*N
    bool leader = false;       // the first entry of its name
    std::uint32_t next = kNone;  // the next entry of the same name
    std::string value;
};

// Splits "name*1*" into base "name", section 1, extended; "name*" into section 0 extended.
void split_name(std::string_view n, Entry& e) noexcept {
    e.base = n;
    if (!n.empty() && n.back() == '*') {
        e.extended = true;
        e.rfc2231 = true;
        n.remove_suffix(1);
        e.base = n;
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
    e.base = n.substr(0, star);
    e.section = v;
    e.rfc2231 = true;
}

// Joins RFC 2231 sections (in order of appearance) in order of their numbers. The charset
// of section 0 (when it is extended) applies to the whole value; without one the bytes are
// UTF-8 or Latin-1.
std::string join_sections(std::span<const Entry*> sections) {
    // Stable: of two sections with one number, the first given stays first and wins.
    if (sections.size() > 1)
        std::stable_sort(sections.begin(), sections.end(),
                         [](const Entry* a, const Entry* b) { return a->section < b->section; });
    std::string bytes;
    std::string_view charset;
    for (std::size_t k = 0; k < sections.size(); ++k) {
        const Entry& sec = *sections[k];
        if (k > 0 && sec.section == sections[k - 1]->section) continue;  // duplicate: first wins
        std::string_view v = sec.value;
        if (sec.extended && k == 0) {
            // RFC 2231 4: charset'language'value; a value without the two quotes is read
            // as percent-encoded text in no charset.
            const auto q1 = v.find('\'');
            const auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
                charset = v.substr(0, q1);
                v = v.substr(q2 + 1);
            }
        }
        if (sec.extended)
            percent_decode(v, bytes);
        else
            bytes += v;
    }
    if (!charset.empty()) return to_utf8_moved(std::move(bytes), charset);
    if (bytes.find("=?") != std::string::npos) return decode_header_value(bytes);
    return is_valid_utf8(bytes) ? std::move(bytes) : utf8_or_latin1(bytes);
}

std::string plain_value(std::string&& v) {
    // Quoted values with RFC 2047 words: filename="=?UTF-8?B?...?=" from many mailers.
    if (v.find("=?") != std::string::npos) return decode_header_value(v);
    return is_valid_utf8(v) ? std::move(v) : utf8_or_latin1(v);
}

// Reads one "name = value" at `i` (after a ';'); returns where the next one may start.
std::size_t read_param(std::string_view s, std::size_t i, std::vector<Entry>& entries) {
    const std::size_t name_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && !is_blank(s[i]) && s[i] != '(' && s[i] != '"')
        ++i;
    const std::string_view name = s.substr(name_start, i - name_start);
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
    Entry e;
    std::string& value = e.value;
    if (i < s.size() && s[i] == '"') {
        i = read_quoted(s, i, value);
    } else {
        // A token; in the wild also unquoted values with blanks ("name=my file.pdf"), so it
        // runs to the next ';' and trailing blanks are dropped.
        // A comment ends it, as in RFC 2045 5.1's "charset=us-ascii (Plain text)".
        std::size_t run = i;
        while (i < s.size() && s[i] != ';') {
            if (s[i] == '(') {
                value.append(s.data() + run, i - run);
                i = run = skip_cfws(s, i);
                continue;
            }
            if (s[i] == '\r' || s[i] == '\n') {
                value.append(s.data() + run, i - run);
                run = i + 1;
            }
            ++i;
        }
        value.append(s.data() + run, i - run);
        while (!value.empty() && is_blank(value.back())) value.pop_back();
    }
    split_name(name, e);
    entries.push_back(std::move(e));
    return i;
}

bool iless(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const char x = to_lower(a[i]), y = to_lower(b[i]);
        if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    }
    return a.size() < b.size();
}

// Links the entries of each name (case-insensitive) in order of appearance and marks the
// first of each.
void group(std::vector<Entry>& e) {
    struct Group {
        std::uint32_t first, last;
    };
    std::array<Group, kLinearGroups> groups;
    std::size_t n = 0;
    for (std::uint32_t k = 0; k < e.size(); ++k) {
        std::size_t g = 0;
        while (g < n && !iequals(e[groups[g].first].base, e[k].base)) ++g;
        if (g < n) {
            e[groups[g].last].next = k;
            groups[g].last = k;
            continue;
        }
        if (n == kLinearGroups) {  // many names: sort instead
            for (Entry& x : e) {
                x.next = kNone;
                x.leader = false;
            }
            std::vector<std::uint32_t> order(e.size());
            for (std::uint32_t j = 0; j < e.size(); ++j) order[j] = j;
            std::stable_sort(order.begin(), order.end(),
                             [&](std::uint32_t a, std::uint32_t b) { return iless(e[a].base, e[b].base); });
            for (std::size_t j = 0; j < order.size(); ++j) {
                const bool same = j > 0 && iequals(e[order[j - 1]].base, e[order[j]].base);
                if (same) e[order[j - 1]].next = order[j];
                else e[order[j]].leader = true;
            }
            return;
        }
        groups[n++] = Group{k, k};
        e[k].leader = true;
    }
}

// The value of the name whose first entry is `k`.
std::string group_value(std::vector<Entry>& e, std::uint32_t k) {
    // RFC 2231 wins over a plain value of the same name: mailers send both, the plain
    // one as a fallback for old readers.
    std::uint32_t plain = kNone, first2231 = kNone;
    std::size_t sections = 0;
    for (std::uint32_t j = k; j != kNone; j = e[j].next) {
        if (e[j].rfc2231) {
            if (sections++ == 0) first2231 = j;
        } else if (plain == kNone) {
            plain = j;
        }
    }
    if (sections == 0) return plain_value(std::move(e[plain].value));
    if (sections == 1) {
        const Entry* one[1] = {&e[first2231]};
        return join_sections(one);
    }
    std::vector<const Entry*> list;
    list.reserve(sections);
    for (std::uint32_t j = first2231; j != kNone; j = e[j].next)
        if (e[j].rfc2231) list.push_back(&e[j]);
    return join_sections(list);
}

}  // namespace

const std::string* HeaderParams::find(std::string_view name) const noexcept {
    for (const auto& p : params)
        if (iequals(p.first, name)) return &p.second;
    return nullptr;
}

std::string HeaderParams::param(std::string_view name) const {
    const std::string* v = find(name);
    return v ? *v : std::string();
}

std::string HeaderParams::take(std::string_view name) {
    for (auto& p : params)
        if (iequals(p.first, name)) return std::move(p.second);
    return std::string();
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
        const std::size_t run = i;
        while (i < raw.size() && raw[i] != ';' && !is_blank(raw[i]) && raw[i] != '(') ++i;
        const std::size_t at = out.value.size();
        out.value.append(raw.data() + run, i - run);
        for (std::size_t k = at; k < out.value.size(); ++k) out.value[k] = to_lower(out.value[k]);
    }
    // Scratch for this thread's next call too: no allocation per parsed field.
    thread_local std::vector<Entry> entries;
    entries.clear();
    while (i < raw.size()) {
        i = skip_cfws(raw, i + 1);  // past the ';'
        if (i < raw.size() && raw[i] != ';') {
            if (entries.empty()) entries.reserve(4);
            i = read_param(raw, i, entries);
        }
        while (i < raw.size() && raw[i] != ';') ++i;  // junk after a value
    }
    if (entries.empty()) return out;
    group(entries);
    std::size_t names = 0;
    for (const Entry& e : entries) names += e.leader;
    out.params.reserve(names);
    for (std::uint32_t k = 0; k < entries.size(); ++k) {
        if (!entries[k].leader) continue;
        std::string name = to_lower(entries[k].base);
        out.params.emplace_back(std::move(name), group_value(entries, k));
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
