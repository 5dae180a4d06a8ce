// mime/address_list.cpp — RFC 5322 3.4 address lists with the obsolete forms of 4.4
// (routes, CFWS around dots, empty list members) and RFC 6532 UTF-8, read best effort.
// A lexer turns the field into tokens, then one pass groups them into addresses; both are
// linear in the input, never throw on bad input and keep no state between calls.
#include "mime/address_list.hpp"

#include <string>
#include <vector>

#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"

namespace ringmail::mime {
namespace {

enum class Tok : unsigned char { Atom, Quoted, Comment, Literal, Dot, At, Lt, Gt, Colon, Semi, Comma };

struct Token {
    Tok kind;
    bool space_before;       // blanks or a comment separate it from the previous token
    std::string_view raw;    // atom or literal as written; inside of a quoted string/comment
};

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 3.2.3 specials (with '.' a token of its own for obs-local-part and obs-domain);
// bytes >= 0x80 are atext under RFC 6532 3.2.
constexpr bool is_special(char c) noexcept {
    switch (c) {
    case '(': case ')': case '<': case '>': case '[': case ']': case ':': case ';':
    case '@': case ',': case '.': case '"':
        return true;
    default:
        return false;
    }
}

// Scans a delimited run from the opener at `i`, quoted pairs honoured; comments nest
// (RFC 5322 3.2.2). Returns the index after the closer, 0 when there is none.
std::size_t scan_delimited(std::string_view s, std::size_t i, char close, bool nests,
                           std::string_view& inside) noexcept {
    const char open = s[i];
    const std::size_t start = i + 1;
    int depth = 1;
    for (std::size_t j = start; j < s.size(); ++j) {
        const char c = s[j];
        if (c == '\\') {
            ++j;
        } else if (c == close) {
            if (--depth == 0) {
                inside = s.substr(start, j - start);
                return j + 1;
            }
        } else if (nests && c == open) {
            ++depth;
        }
    }
    return 0;
}

// An opener ('(', '"', '[') without its closer is dropped and what follows is read as
// tokens, so "Bob <bob@x.org>, (oops, c@d" still gives both addresses. After one such
// opener every later one of its kind is dropped too: each would scan to the end again.
void lex(std::string_view s, std::vector<Token>& out) {
    bool space = false;
    bool open_comment = true, open_quote = true, open_literal = true;
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (is_blank(c)) {
            space = true;
            ++i;
            continue;
        }
        Token t{Tok::Atom, space, {}};
        space = false;
        switch (c) {
        case '(': case '"': case '[': {
            bool& allowed = c == '(' ? open_comment : c == '"' ? open_quote : open_literal;
            const char close = c == '(' ? ')' : c == '"' ? '"' : ']';
            std::string_view inside;
            const std::size_t end = allowed ? scan_delimited(s, i, close, c == '(', inside) : 0;
            if (end == 0) {  // unterminated: drop the opener
                allowed = false;
                space = true;
                ++i;
                continue;
            }
            t.kind = c == '(' ? Tok::Comment : c == '"' ? Tok::Quoted : Tok::Literal;
            t.raw = c == '[' ? s.substr(i, end - i) : inside;
            if (c == '(') space = true;  // CFWS separates words like blanks do
            i = end;
            break;
        }
        case ')': case ']':  // stray closer: skip
            ++i;
            continue;
        case '.': t.kind = Tok::Dot; ++i; break;
        case '@': t.kind = Tok::At; ++i; break;
        case '<': t.kind = Tok::Lt; ++i; break;
        case '>': t.kind = Tok::Gt; ++i; break;
        case ':': t.kind = Tok::Colon; ++i; break;
        case ';': t.kind = Tok::Semi; ++i; break;
        case ',': t.kind = Tok::Comma; ++i; break;
        default: {
            // An atom; an RFC 2047 word inside it is taken whole, even with specials in its
            // text ("=?utf-8?q?Smith,_John?=" is common although 5 (3) forbids the comma).
            const std::size_t start = i;
            while (i < s.size() && !is_blank(s[i]) && !is_special(s[i])) {
                const std::size_t w = (s[i] == '=' && i + 1 < s.size() && s[i + 1] == '?')
                                          ? encoded_word_size(s.substr(i))
                                          : 0;
                i += w > 0 ? w : 1;
            }
            t.raw = s.substr(start, i - start);
            break;
        }
        }
        out.push_back(t);
    }
}

// The text of a quoted string or comment: quoted pairs unescaped, folds removed.
void append_unquoted(std::string& out, std::string_view raw) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '\\' && i + 1 < raw.size())
            out += raw[++i];
        else if (c != '\r' && c != '\n')
            out += c;
    }
}

// A display name: words joined by one space where CFWS separated them, then RFC 2047
// decoded (also inside quoted strings, which RFC 2047 5 forbids but mailers do).
std::string phrase_text(const Token* b, const Token* e) {
    std::string s;
    for (const Token* t = b; t != e; ++t) {
        if (t != b && t->space_before) s += ' ';
        switch (t->kind) {
        case Tok::Quoted: append_unquoted(s, t->raw); break;
        case Tok::Dot: s += '.'; break;
        case Tok::At: s += '@'; break;
        default: s += t->raw; break;
        }
    }
    if (s.find("=?") == std::string::npos) return s;
    return decode_header_value(s);
}

constexpr bool is_atext(char c) noexcept {
    return !is_blank(c) && !is_special(c) && c != '\\' && static_cast<unsigned char>(c) > 0x20 &&
           c != 0x7f;
}

bool is_dot_atom(std::string_view s) noexcept {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!is_atext(s[i])) {
            return false;
        }
    }
    return true;
}

// An addr-spec from its tokens, CFWS dropped (RFC 5322 4.4 allows it around dots and '@').
// A quoted local part stays quoted only when it must (RFC 5322 3.4.1); one without '@' is
// kept as given ("postmaster").
std::string addr_spec(const Token* b, const Token* e) {
    const Token* at = nullptr;
    for (const Token* t = b; t != e; ++t)
        if (t->kind == Tok::At) at = t;
    std::string local;
    bool quoted = false;
    for (const Token* t = b; t != (at ? at : e); ++t) {
        switch (t->kind) {
        case Tok::Quoted: quoted = true; append_unquoted(local, t->raw); break;
        case Tok::Dot: local += '.'; break;
        case Tok::At: local += '@'; break;
        case Tok::Comment: break;
        default: local += t->raw; break;
        }
    }
    std::string out;
    if (quoted && !is_dot_atom(local)) {
        out += '"';
        for (const char c : local) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    } else {
        out = std::move(local);
    }
    if (!at) return out;
    out += '@';
    for (const Token* t = at + 1; t != e; ++t) {
        switch (t->kind) {
        case Tok::Quoted: append_unquoted(out, t->raw); break;
        case Tok::Dot: out += '.'; break;
        case Tok::Comment: break;
        default: out += t->raw; break;
        }
    }
    return out;
}

// Groups tokens into addresses. Everything that is not a delimiter lands in `phrase_`;
// '<' turns the phrase into a display name, ',' ends an address, ':' opens a group (its
// name is dropped), ';' closes it.
class Reader {
public:
    Reader(std::vector<Address>& out, bool names) : out_(out), names_(names) {}

    void run(const std::vector<Token>& toks) {
        for (const Token& t : toks) {
            if (in_angle_)
                angle_token(t);
            else
                outer_token(t);
        }
        finish();
    }

private:
    void angle_token(const Token& t) {
        switch (t.kind) {
        case Tok::Gt:
            close_angle(true);
            break;
        case Tok::Comma:
            if (route_) break;       // "<@a,@b:user@d>": commas separate the route's hops
            finish();                // a missing '>'
            break;
        case Tok::Semi:
            finish();
            break;
        case Tok::Colon:             // RFC 5322 4.4 obs-route ends here; "<mailto:x@y>" too
            angle_.clear();
            route_ = false;
            break;
        case Tok::Lt:
        case Tok::Comment:
            break;
        default:
            if (angle_.empty() && t.kind == Tok::At) route_ = true;
            angle_.push_back(t);
            break;
        }
    }

    void outer_token(const Token& t) {
        switch (t.kind) {
        case Tok::Lt:
            if (have_addr_) emit();  // "A <a@x> B <b@y>": a comma is missing
            before_.swap(phrase_);
            phrase_.clear();
            in_angle_ = true;
            angle_.clear();
            route_ = false;
            break;
        case Tok::Comma:
            finish();
            break;
        case Tok::Semi:
            finish();
            break;
        case Tok::Colon:
            // RFC 5322 3.4 group: "display-name:" — members follow; the name is no address.
            if (!have_addr_) {
                phrase_.clear();
                comment_ = {};
            }
            break;
        case Tok::Gt:
            break;
        case Tok::Comment:
            if (comment_.empty()) comment_ = t.raw;
            break;
        default:
            phrase_.push_back(t);
            break;
        }
    }

    // "<>" is no address; an unclosed, empty '<' is a stray one, and the words before it
    // may still hold a bare address.
    void close_angle(bool closed) {
        in_angle_ = false;
        if (angle_.empty() && !closed) {
            phrase_.swap(before_);
            before_.clear();
            return;
        }
        have_addr_ = true;
        if (names_) name_ = phrase_text(before_.data(), before_.data() + before_.size());
        addr_ = addr_spec(angle_.data(), angle_.data() + angle_.size());
        angle_.clear();
        before_.clear();
    }

    void emit() {
        if (names_ && name_.empty() && !comment_.empty()) {
            std::string c;
            append_unquoted(c, comment_);
            name_ = c.find("=?") == std::string::npos ? c : decode_header_value(c);
        }
        if (!addr_.empty()) out_.push_back(Address{std::move(name_), std::move(addr_)});
        name_.clear();
        addr_.clear();
        comment_ = {};
        have_addr_ = false;
    }

    void finish() {
        if (in_angle_) close_angle(false);
        if (!have_addr_ && !phrase_.empty()) bare_address();
        if (have_addr_) emit();
        phrase_.clear();
        comment_ = {};
        name_.clear();
    }

    // No angle brackets: "a@b", "jdoe@test . example" (RFC 5322 4.4), or broken forms such
    // as "Bob Smith bob@x.org", where the word holding the '@' is the address and the words
    // before it the name. Words are tokens joined unless blanks separate them; blanks
    // around '.' and '@' do not (obs-local-part, obs-domain).
    void bare_address() {
        const Token* b = phrase_.data();
        const Token* e = b + phrase_.size();
        const auto starts_word = [b](const Token* t) {
            return t != b && t->space_before && t->kind != Tok::Dot && t->kind != Tok::At &&
                   t[-1].kind != Tok::Dot && t[-1].kind != Tok::At;
        };
        const Token* word = b;  // start of the current word
        const Token* at_word = nullptr;
        const Token* at_end = nullptr;
        for (const Token* t = b; t != e; ++t) {
            if (starts_word(t)) word = t;
            if (t->kind == Tok::At) at_word = word;
            if (at_word == word) at_end = t + 1;
        }
        if (at_word) {
            if (names_) name_ = phrase_text(b, at_word);
            addr_ = addr_spec(at_word, at_end);
        } else {
            // No domain: kept as given (RFC 5321 4.5.1 "postmaster"), words one space apart.
            // Quoted strings alone are a display name without an address.
            addr_.clear();
            bool atom = false;
            for (const Token* t = b; t != e; ++t) atom = atom || t->kind == Tok::Atom;
            if (!atom) return;
            word = b;
            for (const Token* t = b + 1; t <= e; ++t) {
                if (t != e && !starts_word(t)) continue;
                if (!addr_.empty()) addr_ += ' ';
                addr_ += addr_spec(word, t);
                word = t;
            }
        }
        have_addr_ = true;
    }

    std::vector<Address>& out_;
    bool names_;                // display names wanted (extract_addresses skips them)
    std::vector<Token> phrase_;
    std::vector<Token> before_;  // the display name of the open angle-addr
    std::vector<Token> angle_;
    std::string name_;
    std::string addr_;
    std::string_view comment_;  // the first comment of this address: a fallback name
    bool in_angle_ = false;
    bool route_ = false;
    bool have_addr_ = false;
};

std::vector<Address> read_list(std::string_view header, bool names) {
    std::string converted;
    if (!is_valid_utf8(header)) {
        converted = utf8_or_latin1(header);  // 8-bit header bytes: see charset.hpp
        header = converted;
    }
    std::vector<Token> toks;
    toks.reserve(header.size() / 4 + 4);
    lex(header, toks);
    std::vector<Address> out;
    Reader(out, names).run(toks);
    return out;
}

}  // namespace

std::vector<Address> parse_address_list(std::string_view header) { return read_list(header, true); }

std::vector<std::string> extract_addresses(std::string_view header) {
    std::vector<std::string> out;
    for (auto& a : read_list(header, false)) out.push_back(std::move(a.address));
    return out;
}

}  // namespace ringmail::mime
