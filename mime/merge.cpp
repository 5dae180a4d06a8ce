// mime/merge.cpp — "#Name#" markers filled from a map, each value in the charset and
// transfer encoding of the text it goes into (mime/charset, quoted_printable, base64).
// Invariant: text outside markers is copied byte for byte.
#include "mime/merge.hpp"

#include "base/ascii.hpp"
#include "mime/base64.hpp"
#include "mime/charset.hpp"
#include "mime/quoted_printable.hpp"

namespace ringmail::mime {
namespace {

// Long enough for any field name a spreadsheet column gets; short enough that a stray '#'
// does not make us scan a whole body for its partner.
constexpr std::size_t max_name = 64;

bool name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

// The length of the marker's name at text[at] (just past a '#') when a closing '#' follows
// it; 0 when this '#' opens no marker.
std::size_t marker_name(std::string_view text, std::size_t at) noexcept {
    std::size_t n = 0;
    while (at + n < text.size() && n <= max_name && name_char(text[at + n])) ++n;
    if (n == 0 || n > max_name || at + n >= text.size() || text[at + n] != '#') return 0;
    return n;
}

const std::string* find(const Tokens& tokens, std::string_view name) {
    if (const auto it = tokens.find(std::string(name)); it != tokens.end()) return &it->second;
    for (const auto& [k, v] : tokens)
        if (base::iequals(k, name)) return &v;
    return nullptr;
}

std::string encode_value(const std::string& value, std::string_view charset, std::string_view transfer_encoding) {
    std::string v = value;
    if (!charset.empty()) {
        std::string converted;
        if (from_utf8(v, charset, converted)) v = std::move(converted);
    }
    const std::string te = base::to_lower(transfer_encoding);
    if (te == "quoted-printable") return qp_encode(v);
    if (te == "base64") return base64_encode(v, 0);
    return v;
}

// The length of the "{{ name }}" at text[at] (at its first '{') and where its name is; 0
// when none starts there.
std::size_t variable_at(std::string_view text, std::size_t at, std::string_view& name) noexcept {
    std::size_t i = at + 2;
    const auto blanks = [&] {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t') && i - at < 2 * max_name) ++i;
    };
    blanks();
    const std::size_t start = i;
    while (i < text.size() && i - start <= max_name && name_char(text[i])) ++i;
    if (i == start || i - start > max_name) return 0;
    name = text.substr(start, i - start);
    blanks();
    if (text.substr(i, 2) != "}}") return 0;
    return i + 2 - at;
}

}  // namespace

std::string merge_variables(std::string_view text, const Tokens& tokens, bool markers_too) {
    std::string out;
    out.reserve(text.size());
    const auto copy = [&](std::string_view plain) { out += markers_too ? merge_tokens(plain, tokens) : plain; };
    std::size_t copied = 0;
    for (std::size_t at = text.find("{{"); at != std::string_view::npos;) {
        std::string_view name;
        const std::size_t n = variable_at(text, at, name);
        if (n == 0) {
            at = text.find("{{", at + 1);
            continue;
        }
        copy(text.substr(copied, at - copied));
        if (const std::string* v = find(tokens, name)) out += *v;
        copied = at + n;
        at = text.find("{{", copied);
    }
    copy(text.substr(copied));
    return out;
}

bool has_tokens(std::string_view text) noexcept {
    for (std::size_t at = text.find('#'); at != std::string_view::npos; at = text.find('#', at + 1))
        if (marker_name(text, at + 1) > 0) return true;
    return false;
}

std::string merge_tokens(std::string_view text, const Tokens& tokens, std::string_view charset,
                         std::string_view transfer_encoding) {
    std::string out;
    out.reserve(text.size());
    std::size_t copied = 0;
    std::size_t at = text.find('#');
    while (at != std::string_view::npos) {
        const std::size_t n = marker_name(text, at + 1);
        if (n == 0) {
            at = text.find('#', at + 1);  // this '#' may close nothing, the next may open
            continue;
        }
        out.append(text.substr(copied, at - copied));
        if (const std::string* v = find(tokens, text.substr(at + 1, n)))
            out += encode_value(*v, charset, transfer_encoding);
        copied = at + n + 2;
        at = text.find('#', copied);
    }
    out.append(text.substr(copied));
    return out;
}

}  // namespace ringmail::mime
