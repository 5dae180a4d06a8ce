// mime/stream_parser.cpp — one pass over the message, fed in pieces of any size.
// Body bytes are scanned for lines starting with "--" (memchr for '-': base64 has none,
// so an attachment is skipped in one sweep) and fed to the part's decoder in runs; only
// a header line or a possible delimiter line that straddles two feeds is copied, and
// that copy is bounded. The line break before a delimiter belongs to the delimiter
// (RFC 2046 5.1.1), so each run's final line break is held back until the next line
// is known not to be one.
#include "mime/stream_parser.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <unordered_map>

#include "base/ascii.hpp"
#include "base/growth.hpp"
#include "mime/base64.hpp"
#include "mime/charset.hpp"
#include "mime/encoded_words.hpp"
#include "mime/header_params.hpp"
#include "mime/quoted_printable.hpp"

namespace ringmail::mime {
namespace {

// RFC 2046 5.1.1: a boundary has at most 70 characters; with "--", a closing "--" and
// some transport padding, a longer line is never a delimiter.
constexpr std::size_t kMaxDelimiterLine = 256;

using base::iequals;

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

std::string_view strip_eol(std::string_view line) noexcept {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

std::string extension_for(std::string_view type) {
    if (type == "text/plain") return ".txt";
    if (type == "text/html") return ".html";
    if (type == "message/rfc822") return ".eml";
    const std::size_t slash = type.find('/');
    if (slash != std::string_view::npos) {
        const std::string_view sub = type.substr(slash + 1);
        if (!sub.empty() && sub.size() <= 8 &&
            std::all_of(sub.begin(), sub.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); })) {
            std::string ext = ".";  // not "." + std::string(sub): GCC 12 -O3 warns (-Wrestrict)
            ext.append(sub);
            return ext;
        }
    }
    return ".bin";
}

struct Multipart {
    std::string boundary;
    std::string subtype;  // "mixed", "alternative", "related", ...
    std::size_t parts = 0;  // parts begun so far
    std::string start;      // multipart/related: Content-ID of the root (RFC 2387 3.2)
};

enum class Sink : std::uint8_t { Discard, Html, Text, Attachment };
enum class Coding : std::uint8_t { Identity, Base64, Qp };

struct Part {
    Sink sink = Sink::Discard;
    Coding coding = Coding::Identity;
    Base64Decoder b64;
    QpDecoder qp;
    std::string data;
    Utf8Check utf8;  // of `data`, for a body candidate: checked as it is decoded
    std::string charset;
    std::string name, type, cid;
    bool extra_text = false;  // a body candidate that came too late: an attachment
};

}  // namespace

struct StreamParser::Impl {
    MimeLimits limits;
    ParsedMail result;

    enum class State : std::uint8_t { Headers, Body } state = State::Headers;
    bool top = true;               // headers being read are the message's own
    std::vector<Multipart> stack;  // enclosing multiparts, outermost first
    std::string carry;             // a line that straddles feeds (bounded)
    bool carry_skip = false;       // over-long header line: drop until its end
    std::string header;            // this part's header section, unfolded later
    bool header_seen = true;       // a line of this part's header section (or its end) was read
    bool header_full = false;
    Part part;                     // the part whose body is being read
    bool at_line_start = true;
    std::string eol;               // held line break: "", "\n", "\r\n" or "\r" (split CRLF)
    std::size_t leaves = 0;
    bool have_html = false, have_text = false;
    std::string html, text;        // decoded, still in their charsets
    std::string html_charset, text_charset;
    Utf8Check html_utf8, text_utf8;
    // The text body part's file name and Content-ID, and whether it sits directly in a
    // multipart/alternative: a named one that HTML replaces becomes an attachment.
    std::string text_name, text_cid;
    bool text_in_alternative = false;
    std::unordered_map<std::string, std::size_t> next_duplicate;  // name -> next number to try
    std::string field_value;       // scratch: one unfolded header field's value
    // Scratch: this part's Content-Type, -Transfer-Encoding, -Disposition and -ID values.
    std::string ctype, cte, cdisp, cid;

    explicit Impl(const MimeLimits& l) : limits(l) {}
    void reset();

    void feed(std::string_view in);
    std::size_t scan_body(std::string_view in);
    void line(std::string_view l);  // a whole line, line break included
    void header_line(std::string_view l);
    void begin_body();
    bool delimiter(std::string_view l);
    void content(std::string_view bytes);
    void decode(std::string_view bytes);  // into part.data, by the part's transfer encoding
    void flush_eol();
    void end_part();
    void new_part_headers();
    void choose_sink(const std::string& type, bool attachment);
    void add_attachment(std::string name, Attachment a);
    ParsedMail finish();
};

void StreamParser::Impl::feed(std::string_view in) {
    std::size_t pos = 0;
    while (pos < in.size()) {
        // A split CRLF held from the last feed: it is a line break only if LF follows.
        if (state == State::Body && eol == "\r") {
            if (in[pos] == '\n') {
                eol = "\r\n";
                at_line_start = true;
                ++pos;
                continue;
            }
            eol.clear();
            content("\r");
        }
        const bool line_mode = state == State::Headers || !carry.empty() ||
                               (at_line_start && in[pos] == '-');
        if (!line_mode) {
            pos += scan_body(in.substr(pos));
            continue;
        }
        const void* lf = std::memchr(in.data() + pos, '\n', in.size() - pos);
        const std::size_t end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - in.data()) + 1 : in.size();
        const std::string_view piece = in.substr(pos, end - pos);
        pos = end;
        if (!lf) {  // the line goes on in the next feed
            if (state == State::Headers) {
                if (!carry_skip) {
                    if (carry.size() + piece.size() > limits.max_header_bytes) {
                        carry.clear();
                        carry_skip = true;
                        header_full = true;
                    } else {
                        carry.append(piece);
                    }
                }
            } else if (carry.size() + piece.size() > kMaxDelimiterLine) {
                // Too long to be a delimiter: it is content.
                carry.append(piece);
                flush_eol();
                content(carry);
                carry.clear();
                at_line_start = false;
            } else {
                carry.append(piece);
            }
            continue;
        }
        if (carry_skip) {
            carry_skip = false;
            continue;
        }
        if (carry.empty()) {
            line(piece);
        } else {
            carry.append(piece);
            std::string l = std::move(carry);
            carry.clear();
            line(l);
        }
    }
}

// Content mode: runs up to the next line that starts with '-'.
std::size_t StreamParser::Impl::scan_body(std::string_view in) {
    std::size_t from = 0;
    for (;;) {
        const void* dash = std::memchr(in.data() + from, '-', in.size() - from);
        if (!dash) break;
        const std::size_t i = static_cast<std::size_t>(static_cast<const char*>(dash) - in.data());
        if (i > 0 && in[i - 1] == '\n') {
            std::size_t stop = i - 1;
            std::string_view brk = "\n";
            if (stop > 0 && in[stop - 1] == '\r') {
                --stop;
                brk = "\r\n";
            }
            // The held break is followed by this run (maybe an empty line): not a delimiter.
            flush_eol();
            content(in.substr(0, stop));
            eol.assign(brk);
            at_line_start = true;
            return i;
        }
        from = i + 1;
    }
    // No candidate here: everything goes out but a final line break, held back.
    std::size_t stop = in.size();
    std::string_view held;
    if (stop > 0 && in[stop - 1] == '\n') {
        --stop;
        held = "\n";
        if (stop > 0 && in[stop - 1] == '\r') {
            --stop;
            held = "\r\n";
        }
    } else if (stop > 0 && in[stop - 1] == '\r') {
        --stop;
        held = "\r";
    }
    flush_eol();
    content(in.substr(0, stop));
    eol.assign(held);
    at_line_start = held == "\n" || held == "\r\n";
    return in.size();
}

void StreamParser::Impl::flush_eol() {
    if (eol.empty()) return;
    const std::string e = std::move(eol);
    eol.clear();
    content(e);
}

void StreamParser::Impl::line(std::string_view l) {
    if (state == State::Headers) {
        header_line(l);
        return;
    }
    if (delimiter(l)) return;
    // Not a delimiter: an ordinary line of content.
    const std::string_view body = strip_eol(l);
    flush_eol();
    content(body);
    eol.assign(l.substr(body.size()));
    at_line_start = !eol.empty();
}

bool StreamParser::Impl::delimiter(std::string_view l) {
    if (l.size() > kMaxDelimiterLine || l.size() < 3 || l[0] != '-' || l[1] != '-') return false;
    const std::string_view rest = strip_eol(l).substr(2);
    for (std::size_t k = stack.size(); k-- > 0;) {
        const std::string& b = stack[k].boundary;
        if (rest.size() < b.size() || rest.compare(0, b.size(), b) != 0) continue;
        std::string_view tail = rest.substr(b.size());
        const bool close = tail.size() >= 2 && tail[0] == '-' && tail[1] == '-';
        if (close) tail.remove_prefix(2);
        if (!trim(tail).empty()) continue;  // only transport padding may follow
        eol.clear();                         // the break before a delimiter is the delimiter's
        if (state == State::Headers && !header_seen) {
            // "--b" right after "--b": no part at all (what Python's email does too).
            part = Part{};
            if (!stack.empty() && stack.back().parts > 0) --stack.back().parts;
        } else {
            end_part();
        }
        stack.resize(k + 1);                 // inner multiparts end with an outer delimiter
        if (close) {
            stack.pop_back();                // the epilogue: discarded
            part = Part{};
            at_line_start = true;
        } else {
            ++stack.back().parts;
            new_part_headers();
        }
        return true;
    }
    return false;
}

void StreamParser::Impl::new_part_headers() {
    state = State::Headers;
    top = false;
    header_seen = false;
    header.clear();
    header_full = false;
    part = Part{};
}

namespace {

// An mbox envelope line, "From " or ">From " (mboxrd quoting), but not the From field
// in obsolete syntax, "From :" (RFC 5322 4.5.3). Forwarded mbox messages carry them
// anywhere in the header; Python's email, mutt and GMime skip them there.
bool is_mbox_from_line(std::string_view s) noexcept {
    if (!s.empty() && s.front() == '>') s.remove_prefix(1);
    if (s.rfind("From ", 0) != 0) return false;
    s.remove_prefix(5);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s.empty() || s.front() != ':';
}

// "Name:" with a printable, space-free name (RFC 5322 2.2), or a folded continuation.
bool is_field_line(std::string_view s) noexcept {
    if (s.front() == ' ' || s.front() == '\t') return true;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == ':') return i > 0;
        if (c <= 32 || c >= 127) {
            // Tolerate "Name :" (obsolete syntax, RFC 5322 4.5.3) but nothing else.
            std::size_t j = i;
            while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
            return i > 0 && j < s.size() && s[j] == ':';
        }
    }
    return false;
}

}  // namespace

void StreamParser::Impl::header_line(std::string_view l) {
    const std::string_view s = strip_eol(l);
    // Broken input: a delimiter before the blank line ends this part's header too.
    if (!stack.empty() && s.size() > 2 && s[0] == '-' && s[1] == '-' && delimiter(l)) return;
    header_seen = true;
    if (s.empty()) {
        begin_body();
        return;
    }
    if (top && is_mbox_from_line(s)) return;  // the message's own header only
    if (!is_field_line(s)) {
        // Not a header field and not a continuation: the blank line is missing, so the
        // body starts here (RFC 5322 2.1; Python's email reads it the same way).
        begin_body();
        line(l);
        return;
    }
    if (header_full || header.size() + s.size() + 1 > limits.max_header_bytes) {
        header_full = true;
        return;
    }
    header.append(s);
    header.push_back('\n');
}

namespace {

// Calls f(name, raw value) for each field of an unfolded header section.
template <class F>
void for_each_field(std::string_view block, std::string& value, F&& f) {
    std::size_t pos = 0;
    value.clear();
    std::string_view name;
    auto emit = [&] {
        if (!name.empty()) f(name, std::string_view(value));
        name = {};
        value.clear();
    };
    while (pos < block.size()) {
        std::size_t end = block.find('\n', pos);
        if (end == std::string_view::npos) end = block.size();
        const std::string_view l = block.substr(pos, end - pos);
        pos = end + 1;
        if (!l.empty() && (l[0] == ' ' || l[0] == '\t')) {
            if (!name.empty()) value.append(l);  // RFC 5322 2.2.3: unfold
            continue;
        }
        emit();
        const std::size_t colon = l.find(':');
        if (colon == std::string_view::npos) continue;
        name = trim(l.substr(0, colon));
        value.assign(trim(l.substr(colon + 1)));
    }
    emit();
}

}  // namespace

void StreamParser::Impl::begin_body() {
    state = State::Body;
    at_line_start = true;
    eol.clear();
    ctype.clear();
    cte.clear();
    cdisp.clear();
    cid.clear();
    for_each_field(header, field_value, [&](std::string_view name, std::string_view value) {
        auto set_once = [&](std::optional<std::string>& slot) {
            if (!slot) slot = decode_header_value(value);
        };
        if (iequals(name, "content-type") && ctype.empty()) ctype = value;
        else if (iequals(name, "content-transfer-encoding") && cte.empty()) cte = value;
        else if (iequals(name, "content-disposition") && cdisp.empty()) cdisp = value;
        else if (iequals(name, "content-id") && cid.empty()) cid = value;
        else if (top && iequals(name, "from")) set_once(result.from);
        else if (top && iequals(name, "to")) set_once(result.to);
        else if (top && iequals(name, "cc")) set_once(result.cc);
        else if (top && iequals(name, "bcc")) set_once(result.bcc);
        else if (top && iequals(name, "subject")) set_once(result.subject);
    });
    // RFC 2045 5.2: no Content-Type means text/plain (in multipart/digest, message/rfc822).
    const bool digest = !stack.empty() && stack.back().subtype == "digest";
    HeaderParams ct = parse_header_params(ctype);
    if (ct.value.empty() || ct.value.find('/') == std::string::npos)
        ct.value = digest ? "message/rfc822" : "text/plain";
    const bool is_multipart = ct.value.rfind("multipart/", 0) == 0;
    // The parameters are moved out of `ct` and `cd`, never copied.
    std::string boundary = is_multipart ? ct.take("boundary") : std::string();
    if (is_multipart && !boundary.empty() && stack.size() < limits.max_depth) {
        std::string start = ct.take("start");
        if (start.size() >= 2 && start.front() == '<' && start.back() == '>') start = start.substr(1, start.size() - 2);
        stack.push_back({std::move(boundary), ct.value.substr(10), 0, std::move(start)});
        part = Part{};  // the preamble: discarded
        return;
    }

    part = Part{};
    if (leaves++ >= limits.max_parts) return;  // past the limit: read on, keep nothing
    std::string_view c = trim(cte);
    if (iequals(c, "base64")) part.coding = Coding::Base64;
    else if (iequals(c, "quoted-printable")) part.coding = Coding::Qp;
    HeaderParams cd = parse_header_params(cdisp);
    part.charset = ct.take("charset");
    part.name = cd.take("filename");
    if (part.name.empty()) part.name = ct.take("name");
    std::string_view id = trim(cid);
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
    part.cid = id;

    part.type = std::move(ct.value);
    choose_sink(part.type, cd.value == "attachment");
}

// Body or attachment (RFC 2183 2.1: an inline part is shown, whatever its file name).
// The first HTML candidate is the body, else the first text one. A later candidate is an
// attachment, or dropped inside a multipart/alternative (another rendering of the body)
// unless it has a file name: a named part is a file the sender attached, never dropped
// but as the plain rendering in the HTML body's multipart/alternative.
void StreamParser::Impl::choose_sink(const std::string& type, bool attachment) {
    const bool named = !part.name.empty();
    const bool in_alternative = !stack.empty() && stack.back().subtype == "alternative";
    // In multipart/related only the root (the first part) can be the body (RFC 2387 3.2).
    // In multipart/related the root is the part named by `start`, else the first.
    const bool related_root = stack.empty() || stack.back().subtype != "related" ||
                              (stack.back().start.empty() ? stack.back().parts == 1 : part.cid == stack.back().start);
    const bool body_candidate = !attachment && related_root;
    const Sink later = in_alternative && !named ? Sink::Discard : Sink::Attachment;
    if (body_candidate && type == "text/html") {
        part.sink = have_html ? later : Sink::Html;
        if (!have_html && have_text && !text_name.empty() && !text_in_alternative) {
            // The named text part that looked like the body is a file after all.
            add_attachment(std::move(text_name), Attachment{std::move(text), "text/plain", std::move(text_cid)});
            text.clear();
            text_name.clear();
            text_cid.clear();
            have_text = false;  // as if it had never been a candidate
        }
        have_html = true;
    } else if (body_candidate && type == "text/plain" && !(named && have_html && !in_alternative)) {
        part.sink = have_text ? later : Sink::Text;
        if (!have_text) {
            text_name = part.name;
            text_cid = part.cid;
            text_in_alternative = in_alternative;
        }
        have_text = true;
    } else {
        part.sink = Sink::Attachment;
    }
    part.extra_text = body_candidate && part.sink == Sink::Attachment &&
                      (type == "text/html" || type == "text/plain");
}

void StreamParser::Impl::content(std::string_view bytes) {
    if (part.sink == Sink::Discard || bytes.empty()) return;
    const bool body = part.sink == Sink::Html || part.sink == Sink::Text;
    if (!body) {
        decode(bytes);
        return;
    }
    // The body's text is decoded and checked a slice at a time, so that the UTF-8 check
    // reads bytes still in cache and the conversion at the end need not read them again
    // when they are ASCII or valid UTF-8. Decoding makes at most the bytes it reads plus
    // the few it held from the last call, so room is reserved once for all the slices
    // (the decoders still grow it if they must), growing as each coding grew it before:
    // fourfold past 1 MiB for 8bit bodies (base/growth.hpp), doubling for QP.
    if (part.coding != Coding::Base64) {
        constexpr std::size_t kLarge = std::size_t(1) << 20;
        const std::size_t need = part.data.size() + bytes.size();
        const std::size_t cap = part.data.capacity();
        // Two octets more: the line break held back at the end of a feed, which follows.
        if (need > cap)
            part.data.reserve(part.coding == Coding::Identity && cap >= kLarge ? std::max(need, cap * 4) : need + 2);
    }
    constexpr std::size_t kSlice = 32 * 1024;
    while (!bytes.empty()) {
        const std::string_view slice = bytes.substr(0, kSlice);
        decode(slice);
        part.utf8.update(part.data);
        bytes.remove_prefix(slice.size());
    }
}

void StreamParser::Impl::decode(std::string_view bytes) {
    switch (part.coding) {
    case Coding::Identity: base::append_growing(part.data, bytes); break;
    case Coding::Base64: part.b64.feed(bytes, part.data); break;
    case Coding::Qp: part.qp.feed(bytes, part.data); break;
    }
}

// Duplicate names: "a.pdf", "a (2).pdf", "a (3).pdf", ...: the lowest number whose name
// is free. Names are never removed, so every number below the last one given for a name
// stays taken and the search goes on from there: linear over all parts, not quadratic.
void StreamParser::Impl::add_attachment(std::string name, Attachment a) {
    if (result.attachments.count(name)) {
        const std::size_t dot = name.rfind('.');
        const std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
        const std::string ext = dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
        std::size_t& next = next_duplicate.try_emplace(name, 2).first->second;
        for (;; ++next) {
            std::string candidate = stem + " (" + std::to_string(next) + ")" + ext;
            if (!result.attachments.count(candidate)) {
                name = std::move(candidate);
                ++next;
                break;
            }
        }
    }
    result.attachments.emplace(std::move(name), std::move(a));
}

void StreamParser::Impl::end_part() {
    if (state == State::Headers) {  // a part that ended inside its header section
        begin_body();
    }
    if (part.sink == Sink::Discard) return;
    switch (part.coding) {
    case Coding::Identity: break;
    case Coding::Base64: part.b64.finish(part.data); break;
    case Coding::Qp: part.qp.finish(part.data); break;
    }
    switch (part.sink) {
    case Sink::Html:
        part.utf8.update(part.data);  // what finish() added
        html = std::move(part.data);
        html_charset = std::move(part.charset);
        html_utf8 = part.utf8;
        break;
    case Sink::Text:
        part.utf8.update(part.data);
        text = std::move(part.data);
        text_charset = std::move(part.charset);
        text_utf8 = part.utf8;
        break;
    case Sink::Attachment: {
        // A later text part is kept as an attachment so that nothing is lost; one without
        // a file name that is empty after decoding holds nothing to lose.
        if (part.extra_text && part.name.empty() && part.data.empty()) break;
        std::string name = part.name;
        if (name.empty()) name = part.cid;  // inline parts are found by cid:
        if (name.empty()) name = "part-" + std::to_string(leaves) + extension_for(part.type);
        add_attachment(std::move(name), Attachment{std::move(part.data), part.type, part.cid});
        break;
    }
    case Sink::Discard:
        break;
    }
    part = Part{};
}

ParsedMail StreamParser::Impl::finish() {
    if (!carry.empty()) {  // a last line without a line break
        std::string l = std::move(carry);
        carry.clear();
        if (state == State::Headers) header_line(l);
        else if (!delimiter(l)) {
            flush_eol();
            content(l);
        }
    }
    // The final line break of the last part stays with it: no delimiter follows.
    flush_eol();
    end_part();
    if (have_html) {
        result.message = to_utf8_moved(std::move(html), html_charset, html_utf8);
        result.message_is_html = true;
    } else if (have_text) {
        result.message = to_utf8_moved(std::move(text), text_charset, text_utf8);
    }
    return std::move(result);
}

// Everything as a new Impl has it, then the kept buffers put back, emptied: no field of
// one message's state can reach the next.
void StreamParser::Impl::reset() {
    constexpr std::size_t kKeep = 16 * 1024;  // a larger buffer goes with its message
    auto keep = [](std::string& s) {
        std::string kept;
        if (s.capacity() <= kKeep) kept.swap(s);
        kept.clear();
        return kept;
    };
    std::string h = keep(header), c = keep(carry), v = keep(field_value);
    std::string ct = keep(ctype), te = keep(cte), cd = keep(cdisp), id = keep(cid);
    std::vector<Multipart> st = std::move(stack);
    st.clear();
    const MimeLimits l = limits;
    // Made anew in place (Impl's constructor allocates nothing, so cannot throw): cheaper
    // than assigning every member from a new one.
    this->~Impl();
    new (this) Impl(l);
    header = std::move(h);
    carry = std::move(c);
    field_value = std::move(v);
    ctype = std::move(ct);
    cte = std::move(te);
    cdisp = std::move(cd);
    cid = std::move(id);
    stack = std::move(st);
}

StreamParser::StreamParser(const MimeLimits& limits) : impl_(std::make_unique<Impl>(limits)) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

void StreamParser::feed(std::span<const char> in) { impl_->feed({in.data(), in.size()}); }

ParsedMail StreamParser::finish() { return impl_->finish(); }

void StreamParser::reset() { impl_->reset(); }

ParsedMail parse_message(std::string_view message, const MimeLimits& limits) {
    StreamParser p(limits);
    p.feed({message.data(), message.size()});
    return p.finish();
}

}  // namespace ringmail::mime
