// mime/composer.cpp — a MIME message from a mail object's parts: RFC 5322 header fields,
// RFC 2045-2046 entities and multiparts, RFC 2387 multipart/related with RFC 2392 cid
// references, RFC 2047 words and RFC 2183/2231 file names. Invariant: every line ends in
// CRLF and holds at most 998 octets; a boundary occurs nowhere in the content it delimits.
#include "base/ascii.hpp"
#include "mime/composer.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

#include "mime/base64.hpp"
#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"
#include "mime/header_params.hpp"
#include "mime/quoted_printable.hpp"

namespace ringmail::mime {
namespace {

// RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST within 998.
constexpr std::size_t fold_width = 78;
constexpr std::size_t max_line = 998;
// RFC 2045 2.7 allows 998 octets in 7bit lines; we send 7bit only up to 76 so that a
// text part is either left as written or quoted-printable, whose lines are 76 too.
constexpr std::size_t seven_bit_line = 76;
// RFC 2047 2: an encoded word holds at most 75 octets; "=?UTF-8?B?" + 60 + "?=" is 72.
constexpr std::size_t b_word_input = 45;
// RFC 2046 5.1.1: a boundary holds at most 70 characters.
constexpr std::size_t max_seed = 40;
// A text field with a longer word goes out as encoded words: a fold cannot split it, and
// with the field name it must still fit in 998 octets. The same bound as encode_header_value.
constexpr std::size_t long_word = 900;

bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_ascii(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}
using base::iequals;
using base::to_lower;
std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

// A header value on one line: a run of CR/LF becomes one space (unfolding a fold keeps its
// whitespace), NUL goes. Callers' values cannot inject fields or end the header section.
std::string one_line(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size();) {
        if (v[i] == '\r' || v[i] == '\n') {
            while (i < v.size() && (v[i] == '\r' || v[i] == '\n')) ++i;
            if (i < v.size() && !is_wsp(v[i]) && !out.empty() && !is_wsp(out.back())) out += ' ';
            continue;
        }
        if (v[i] != '\0') out += v[i];
        ++i;
    }
    return std::string(trim(out));
}

// Appends "Name: value" folded at whitespace (RFC 5322 2.2.3) near 78 columns, ending in
// CRLF. CRLF + WSP folds already in `value` (from encoded words) are kept.
void put_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(":");
    std::size_t col = name.size() + 1;
    std::string v;
    if (!value.empty()) v.append(" ").append(value);
    for (std::size_t i = 0; i < v.size();) {
        if (v[i] == '\r' || v[i] == '\n') {
            const bool fold = v.compare(i, 2, "\r\n") == 0 && i + 2 < v.size() && is_wsp(v[i + 2]);
            if (fold) {
                out += "\r\n";
                col = 0;
                i += 2;
            } else {
                ++i;  // stray: never emitted bare
            }
            continue;
        }
        std::size_t j = i;
        while (j < v.size() && is_wsp(v[j])) ++j;
        const bool has_space = j > i;
        while (j < v.size() && !is_wsp(v[j]) && v[j] != '\r' && v[j] != '\n') ++j;
        std::string_view word(v.data() + i, j - i);
        if (has_space && col > 0 && col + word.size() > fold_width) {
            out += "\r\n";  // the word's leading whitespace continues the field
            col = 0;
        }
        // XXX: a token too long for any line gets a fold inside it, which adds a space
        // when unfolded. Only structured fields (addresses, ids) can get here; text
        // fields go out as encoded words first.
        while (col + word.size() > max_line) {
            const std::size_t take = max_line - col;
            out.append(word.substr(0, take)).append("\r\n ");
            col = 1;
            word.remove_prefix(take);
        }
        out.append(word);
        col += word.size();
        i = j;
    }
    out += "\r\n";
}

// RFC 2047 B words of UTF-8 text, whole characters each (RFC 2047 5(3)), split by folds.
std::string b_words(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = std::min(b_word_input, s.size() - i);
        for (int k = 0; k < 3 && i + len < s.size() && len > 1 &&
                        (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80;
             ++k)
            --len;
        if (!out.empty()) out += "\r\n ";
        out.append("=?UTF-8?B?").append(base64_encode(s.substr(i, len), 0)).append("?=");
        i += len;
    }
    return out;
}

bool has_long_word(std::string_view s, std::size_t limit) noexcept {
    std::size_t run = 0;
    for (char c : s) {
        run = is_wsp(c) ? 0 : run + 1;
        if (run > limit) return true;
    }
    return false;
}

// Unstructured text (Subject, extra fields). ASCII that a reader would take for an
// encoded word, or with a word too long to fold, is sent as B words so it comes back as is.
std::string unstructured(std::string_view raw) {
    const std::string v = one_line(raw);
    if (!is_ascii(v)) return encode_header_value(v);
    if (v.find("=?") != std::string::npos || has_long_word(v, long_word)) return b_words(v);
    return v;
}

// RFC 2047 5(3): in a phrase an encoded word may not hold specials, or an address parser
// reading before decoding would split the name. B words never do; check Q words.
bool phrase_safe(std::string_view encoded) noexcept {
    return encoded.find_first_of(",;:<>\"()@[]\\") == std::string_view::npos;
}

std::string encode_phrase(std::string_view name) {
    std::string n(trim(name));
    if (n.size() >= 2 && n.front() == '"' && n.back() == '"') {  // unquote
        std::string u;
        for (std::size_t i = 1; i + 1 < n.size(); ++i) {
            if (n[i] == '\\' && i + 2 < n.size()) ++i;
            u += n[i];
        }
        n = std::move(u);
    }
    std::string e = encode_header_value(n);
    return phrase_safe(e) ? e : b_words(n);
}

// One address-list member ("Name <a@b>", "a@b", "Group: a@b", "<a@b>;"): a non-ASCII
// display name (or group name) gets encoded words; everything else is kept as written,
// UTF-8 addresses included (RFC 6532).
std::string encode_member(std::string_view item) {
    item = trim(item);
    if (is_ascii(item)) return std::string(item);
    bool quoted = false;
    int comment = 0;
    for (std::size_t i = 0; i < item.size(); ++i) {
        const char c = item[i];
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '(') {
            ++comment;
        } else if (c == ')' && comment > 0) {
            --comment;
        } else if (comment == 0 && c == ':') {  // group display name
            const std::string_view group = item.substr(0, i);
            return (is_ascii(group) ? std::string(group) : encode_phrase(group)) + ": " +
                   encode_member(item.substr(i + 1));
        } else if (comment == 0 && c == '<') {
            const std::string_view name = trim(item.substr(0, i));
            if (name.empty() || is_ascii(name)) return std::string(item);
            return encode_phrase(name) + " " + std::string(item.substr(i));
        }
    }
    return std::string(item);
}

// Address fields: split at commas outside quotes, comments and angle brackets.
std::string address_field(std::string_view raw) {
    const std::string v = one_line(raw);
    std::string out;
    bool quoted = false;
    int comment = 0, angle = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= v.size(); ++i) {
        const char c = i < v.size() ? v[i] : ',';
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        else if (c == '(') ++comment;
        else if (c == ')' && comment > 0) --comment;
        else if (c == '<') ++angle;
        else if (c == '>' && angle > 0) --angle;
        if (i < v.size() && (c != ',' || comment > 0 || angle > 0)) continue;
        const std::string_view item = trim(std::string_view(v).substr(start, std::min(i, v.size()) - start));
        start = i + 1;
        if (item.empty()) continue;
        if (!out.empty()) out += ", ";
        out += encode_member(item);
    }
    if (quoted) return v;  // unbalanced quote: leave the value alone
    return out;
}

std::string percent_encode(std::string_view s, bool (*keep)(unsigned char) noexcept) {
    std::string out;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (keep(c)) {
            out += ch;
        } else {
            out += '%';
            base::append_hex(out, c);
        }
    }
    return out;
}

// "; name=..." for a Content-Type or Content-Disposition field: the one RFC 2231 encoder
// (header_params), which never splits a UTF-8 character across continuation sections.
std::string param(std::string_view name, std::string_view value) { return "; " + encode_param(name, value); }

struct Entity {
    std::string head;  // Content-* fields, each ending in CRLF
    std::string body;  // encoded; every line but perhaps the last ends in CRLF
};

std::string serialise(const Entity& e) { return e.head + "\r\n" + e.body; }

// RFC 5322 2.3: CRLF line ends only; a text body ends with one.
std::string normalise_text(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 32 + 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += "\r\n";
        } else if (s[i] == '\n') {
            out += "\r\n";
        } else {
            out += s[i];
        }
    }
    if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
    return out;
}

// RFC 2045 2.7 7bit data: no 8-bit octets, no NUL, CR and LF only as CRLF; lines as above.
bool is_7bit(std::string_view s) noexcept {
    std::size_t col = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
            col = 0;
            ++i;
        } else if (c >= 0x80 || c == 0 || c == '\r' || c == '\n' || ++col > seven_bit_line) {
            return false;
        }
    }
    return true;
}

bool crlf_only(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    }
    return true;
}

// RFC 2045 2.8 8bit data: no NUL, CR and LF only as CRLF, lines within 998 octets.
bool is_8bit(std::string_view s) noexcept {
    std::size_t col = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
            col = 0;
            ++i;
        } else if (s[i] == 0 || s[i] == '\r' || s[i] == '\n' || ++col > max_line) {
            return false;
        }
    }
    return true;
}

// RFC 2045 5.1: a charset label goes into the parameter only as a token.
bool is_token(std::string_view s) noexcept {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return c > 0x20 && c < 0x7f && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
    });
}

// A text body: line ends made CRLF, converted to the input's charset when it is not
// UTF-8 and can hold the text, in the transfer encoding asked for when the text allows it.
// `typed`: this is the part whose media type the input's content_type replaces.
Entity text_entity(std::string_view text, std::string_view subtype, const ComposeInput& in, bool typed) {
    std::string t = normalise_text(text);
    std::string charset = "utf-8";
    const std::string wanted = to_lower(trim(in.charset));
    if (!wanted.empty() && wanted != "utf-8" && wanted != "utf8" && is_token(wanted)) {
        std::string converted;
        if (from_utf8(t, wanted, converted)) {
            t = std::move(converted);
            charset = wanted;
        }
    }
    const std::string cte_wanted = to_lower(trim(in.transfer_encoding));
    std::string cte = "quoted-printable";
    if (t.find('\0') != std::string::npos || cte_wanted == "base64") {
        cte = "base64";  // a wide charset (UTF-16) is not text to a line-based encoding
    } else if (cte_wanted == "8bit" && is_8bit(t)) {
        cte = "8bit";
    } else if (cte_wanted != "quoted-printable" && cte_wanted != "8bit" && is_7bit(t)) {
        cte = "7bit";
    }
    std::string type = "text/" + std::string(subtype);
    if (typed && !one_line(in.content_type).empty()) type = one_line(in.content_type);
    const std::string lower_type = to_lower(type);
    if (lower_type.starts_with("text/") && lower_type.find("charset=") == std::string::npos)
        type += "; charset=" + charset;
    Entity e;
    put_field(e.head, "Content-Type", type);
    put_field(e.head, "Content-Transfer-Encoding", cte);
    if (cte == "base64") e.body = base64_encode(t);
    else if (cte == "quoted-printable") e.body = qp_encode(t);
    else e.body = std::move(t);
    return e;
}

// RFC 2392: a Content-ID holds the name when it is a plain token, else its URL encoding.
bool is_cid_char(unsigned char c) noexcept {
    return c > 0x20 && c < 0x7f && std::string_view("<>\"\\()[],;:%").find(static_cast<char>(c)) == std::string_view::npos;
}

// Attachments go out byte for byte: text that is already clean 7bit as is, text with CRLF
// line ends and few 8-bit octets as quoted-printable, everything else as base64.
Entity file_entity(std::string_view name, std::string_view data, bool inline_part,
                   std::string_view content_type = {}) {
    std::string type = one_line(content_type);
    if (type.empty()) type = guess_type(name);
    const std::string lower_type = to_lower(type);
    const bool text = lower_type.starts_with("text/");
    std::string cte = "base64";
    if ((text || lower_type.starts_with("message/")) && is_7bit(data)) {
        cte = "7bit";
    } else if (text && crlf_only(data) &&
               std::count_if(data.begin(), data.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) <=
                   static_cast<std::ptrdiff_t>(data.size() / 8)) {
        cte = "quoted-printable";
    } else if (lower_type.starts_with("message/")) {
        type = "application/octet-stream";  // RFC 2046 5.2.1: message/* is never base64
    }
    Entity e;
    std::string ct = type, cd = inline_part ? "inline" : "attachment";
    if (!name.empty()) {
        ct += param("name", name);
        cd += param("filename", name);
    }
    put_field(e.head, "Content-Type", ct);
    put_field(e.head, "Content-Transfer-Encoding", cte);
    put_field(e.head, "Content-Disposition", cd);
    if (inline_part) put_field(e.head, "Content-ID", "<" + percent_encode(name, is_cid_char) + ">");
    if (cte == "base64") e.body = base64_encode(data);
    else if (cte == "quoted-printable") e.body = qp_encode(data);
    else e.body = std::string(data);
    return e;
}

bool cid_end(char c) noexcept { return std::string_view("\"'()<> \t\r\n;,&").find(c) != std::string_view::npos; }

// Whether the HTML references `name` as cid:NAME (scheme case-insensitive, RFC 2392 URL
// encoding of the name accepted too).
bool references(std::string_view html, std::string_view lower_html, std::string_view name) {
    if (name.empty()) return false;
    const std::string encoded = percent_encode(name, is_cid_char);
    for (std::size_t at = lower_html.find("cid:"); at != std::string_view::npos;
         at = lower_html.find("cid:", at + 4)) {
        const std::string_view rest = html.substr(at + 4);
        for (std::string_view n : {name, std::string_view(encoded)}) {
            if (rest.starts_with(n) && (rest.size() == n.size() || cid_end(rest[n.size()]))) return true;
        }
    }
    return false;
}

class Boundaries {
public:
    explicit Boundaries(std::string_view seed) {
        for (char c : seed) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (ok && seed_.size() < max_seed) seed_ += c;
        }
    }
    // "=_" cannot occur in base64 or quoted-printable output; the trailing "_" keeps one
    // boundary from being a prefix of another ("…_1_" vs "…_10_").
    std::string next() { return "=_rm_" + seed_ + "_" + std::to_string(counter_++) + "_"; }

private:
    std::string seed_;
    unsigned long counter_ = 0;
};

// RFC 2046 5.1.1: the boundary is chosen so it occurs in none of the parts.
Entity multipart(std::string_view subtype, const std::vector<Entity>& parts, Boundaries& b,
                 std::string_view extra = {}) {
    std::vector<std::string> texts;
    for (const Entity& p : parts) texts.push_back(serialise(p));
    std::string boundary;
    do boundary = b.next();
    while (std::any_of(texts.begin(), texts.end(),
                       [&](const std::string& t) { return t.find(boundary) != std::string::npos; }));
    Entity e;
    put_field(e.head, "Content-Type",
              "multipart/" + std::string(subtype) + "; boundary=\"" + boundary + "\"" + std::string(extra));
    for (const std::string& t : texts) e.body.append("--").append(boundary).append("\r\n").append(t).append("\r\n");
    e.body.append("--").append(boundary).append("--\r\n");
    return e;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

// Inline images named in the HTML by their source (e.g. the path they were read from): each
// src attribute (any case; value in double, single or no quotes) whose value is exactly an
// image's source becomes "cid:NAME", the image's Content-ID (RFC 2392).
std::string link_sources(std::string_view html, const std::vector<ComposeFile>& files) {
    if (std::none_of(files.begin(), files.end(), [](const ComposeFile& f) { return f.is_inline && !f.source.empty(); }))
        return std::string(html);
    const std::string lower = to_lower(html);
    std::string out;
    out.reserve(html.size());
    std::size_t copied = 0;
    std::size_t at = lower.find("src");
    while (at != std::string::npos) {
        std::size_t next = at + 3;
        if (at > 0 && is_space(lower[at - 1])) {  // an attribute's name, not "data-src" or "xsrc"
            std::size_t i = at + 3;
            while (i < html.size() && is_space(html[i])) ++i;
            if (i < html.size() && html[i] == '=') {
                ++i;
                while (i < html.size() && is_space(html[i])) ++i;
                const char quote = i < html.size() && (html[i] == '"' || html[i] == '\'') ? html[i] : '\0';
                const std::size_t start = quote ? i + 1 : i;
                std::size_t end = quote ? html.find(quote, start) : start;
                if (!quote)
                    while (end < html.size() && !is_space(html[end]) && html[end] != '>') ++end;
                if (end != std::string_view::npos) {
                    const std::string_view value = html.substr(start, end - start);
                    for (const ComposeFile& f : files) {
                        if (!f.is_inline || f.source.empty() || value != f.source) continue;
                        out.append(html.substr(copied, start - copied)).append("cid:");
                        out.append(percent_encode(f.name, is_cid_char));
                        copied = end;
                        break;
                    }
                    next = end;
                }
            }
        }
        at = lower.find("src", next);
    }
    out.append(html.substr(copied));
    return out;
}

// A caller's ready entity: its header section and body, line ends made CRLF.
Entity ready_entity(std::string_view part) {
    const std::string t = normalise_text(part);
    Entity e;
    if (t.starts_with("\r\n")) {
        e.body = t.substr(2);
        return e;
    }
    const std::size_t blank = t.find("\r\n\r\n");
    if (blank == std::string::npos) {
        e.head = t;  // header fields only: an empty body
        return e;
    }
    e.head = t.substr(0, blank + 2);
    e.body = t.substr(blank + 4);
    return e;
}

Entity body_entity(const ComposeInput& in) {
    Boundaries b(in.boundary_seed);
    const std::string html_text = link_sources(in.html, in.files);
    const std::string lower_html = to_lower(html_text);
    std::vector<Entity> inline_parts, attached;
    for (const auto& [name, data] : in.attachments) {
        const bool is_inline = !html_text.empty() && references(html_text, lower_html, name);
        (is_inline ? inline_parts : attached).push_back(file_entity(name, data, is_inline));
    }
    for (const ComposeFile& f : in.files) {
        const bool is_inline = !html_text.empty() && (f.is_inline || references(html_text, lower_html, f.name));
        (is_inline ? inline_parts : attached).push_back(file_entity(f.name, f.data, is_inline, f.content_type));
    }
    for (const std::string& p : in.parts) attached.push_back(ready_entity(p));
    std::vector<Entity> mixed;
    if (!html_text.empty()) {
        Entity html = text_entity(html_text, "html", in, in.text.empty());
        if (!inline_parts.empty()) {
            inline_parts.insert(inline_parts.begin(), std::move(html));
            html = multipart("related", inline_parts, b, "; type=\"text/html\"");  // RFC 2387 3.1
        }
        if (in.text.empty()) mixed.push_back(std::move(html));
        else mixed.push_back(multipart("alternative", {text_entity(in.text, "plain", in, true), std::move(html)}, b));
    } else if (!in.text.empty() || attached.empty()) {
        mixed.push_back(text_entity(in.text, "plain", in, true));
    }
    if (attached.empty()) return std::move(mixed.front());
    // Only ready parts and files: one ready part is the body itself.
    if (mixed.empty() && attached.size() == 1 && in.files.empty() && in.attachments.empty())
        return std::move(attached.front());
    mixed.insert(mixed.end(), std::make_move_iterator(attached.begin()), std::make_move_iterator(attached.end()));
    return multipart("mixed", mixed, b);
}

bool valid_field_name(std::string_view n) noexcept {  // RFC 5322 3.6.8 ftext
    return !n.empty() && n.size() < 77 && std::all_of(n.begin(), n.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 33 && static_cast<unsigned char>(c) <= 126 && c != ':';
    });
}

}  // namespace

std::string compose(const ComposeInput& in) {
    if (in.entity_only) return serialise(body_entity(in));
    std::string out;
    const std::array<std::pair<std::string_view, const std::string*>, 5> addresses{{
        {"From", &in.from}, {"Sender", &in.sender}, {"Reply-To", &in.reply_to}, {"To", &in.to}, {"Cc", &in.cc}}};
    std::vector<std::string_view> ours{"MIME-Version"};
    if (const std::string d = one_line(in.date); !d.empty()) {
        put_field(out, "Date", d);
        ours.push_back("Date");
    }
    for (const auto& [name, value] : addresses) {
        if (const std::string v = address_field(*value); !v.empty()) {
            put_field(out, name, v);
            ours.push_back(name);
        }
    }
    if (const std::string s = unstructured(in.subject); !s.empty()) {
        put_field(out, "Subject", s);
        ours.push_back("Subject");
    }
    std::string id = one_line(in.message_id);
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
    if (!id.empty()) {
        put_field(out, "Message-ID", "<" + id + ">");
        ours.push_back("Message-ID");
    }
    for (const auto& field : in.extra_headers) {
        const std::string_view name = field.first;
        const bool taken = std::any_of(ours.begin(), ours.end(), [&](std::string_view o) { return iequals(o, name); });
        if (!valid_field_name(name) || taken || iequals(name.substr(0, 8), "Content-")) continue;
        put_field(out, name, unstructured(field.second));
    }
    if (in.headers_only) return out + "\r\n";
    Entity body = body_entity(in);
    out += "MIME-Version: 1.0\r\n";
    out += body.head;
    out += "\r\n";
    out += body.body;
    return out;
}

std::string guess_type(std::string_view file_name) {
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {"7z", "application/x-7z-compressed"}, {"avif", "image/avif"}, {"bmp", "image/bmp"},
        {"css", "text/css"}, {"csv", "text/csv"}, {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"eml", "message/rfc822"}, {"gif", "image/gif"}, {"gz", "application/gzip"},
        {"heic", "image/heic"}, {"htm", "text/html"}, {"html", "text/html"},
        {"ico", "image/vnd.microsoft.icon"}, {"ics", "text/calendar"}, {"jpeg", "image/jpeg"},
        {"jpg", "image/jpeg"}, {"js", "text/javascript"}, {"json", "application/json"},
        {"log", "text/plain"}, {"m4a", "audio/mp4"}, {"md", "text/markdown"}, {"mov", "video/quicktime"},
        {"mp3", "audio/mpeg"}, {"mp4", "video/mp4"}, {"odp", "application/vnd.oasis.opendocument.presentation"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"odt", "application/vnd.oasis.opendocument.text"}, {"ogg", "audio/ogg"}, {"pdf", "application/pdf"},
        {"png", "image/png"}, {"ppt", "application/vnd.ms-powerpoint"},
        {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
        {"rtf", "application/rtf"}, {"svg", "image/svg+xml"}, {"tar", "application/x-tar"},
        {"tif", "image/tiff"}, {"tiff", "image/tiff"}, {"txt", "text/plain"}, {"vcf", "text/vcard"},
        {"wav", "audio/wav"}, {"webm", "video/webm"}, {"webp", "image/webp"}, {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"xml", "application/xml"}, {"zip", "application/zip"},
    };
    const std::size_t dot = file_name.rfind('.');
    if (dot != std::string_view::npos) {
        const std::string ext = to_lower(file_name.substr(dot + 1));
        for (const auto& [e, type] : types)
            if (e == ext) return std::string(type);
    }
    return "application/octet-stream";
}

}  // namespace ringmail::mime
