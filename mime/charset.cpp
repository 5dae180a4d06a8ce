// mime/charset.cpp — declared charset (RFC 2045 5.1, RFC 2046 4.1.2) to UTF-8. UTF-8,
// US-ASCII and windows-1252 (also for ISO-8859-1, as the WHATWG Encoding Standard and mail
// clients read it) are done here; the rest goes through iconv, with converters opened once
// per thread and kept. Invariant: the result is valid UTF-8 and every input byte is
// accounted for (converted or one U+FFFD per bad sequence).
#include "mime/charset.hpp"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>

#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
#include <emmintrin.h>
#endif

namespace ringmail::mime {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// windows-1252 0x80..0x9F (WHATWG index); its five holes map to the C1 control of the
// same value, as the WHATWG decoder does, so no byte is ever lost.
constexpr std::array<char16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void put_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | cp >> 6));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xE0 | cp >> 12));
        out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string cp1252_to_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 2);
    for (char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) out.push_back(ch);
        else if (c < 0xA0) put_utf8(out, kCp1252High[c - 0x80]);
        else put_utf8(out, c);
    }
    return out;
}

// Length of the well-formed UTF-8 sequence at s[0..n) (Unicode 15, table 3-7), or, when
// it is ill-formed, minus the length of its maximal subpart (at least 1): the bytes that
// one U+FFFD replaces (Unicode 3.9, "U+FFFD substitution of maximal subparts").
long utf8_sequence(const unsigned char* s, std::size_t n) noexcept {
    const unsigned char c = s[0];
    if (c < 0x80) return 1;
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;        // no overlong forms
        if (c == 0xED) hi = 0x9F;        // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;        // nothing past U+10FFFF
    } else {
        return -1;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if (i >= n) return -static_cast<long>(i);
        const unsigned char b = s[i];
        const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) return -static_cast<long>(i);
    }
    return static_cast<long>(len);
}

// How far s[0..n) is well-formed UTF-8: the index of the first ill-formed sequence, or of a
// well-formed start cut off by the end (`cut` true), or n. `ascii` is cleared at the first
// byte >= 0x80. ASCII is skipped 16 bytes at a time up to the next non-ASCII byte, and the
// 2- and 3-byte forms that need no range check beyond the continuation bytes are taken
// inline: in mail text non-ASCII characters come every few bytes, so the per-character
// cost is what counts.
std::size_t utf8_prefix(const unsigned char* s, std::size_t n, bool& ascii, bool& cut) noexcept {
    auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
    std::size_t i = 0;
    cut = false;
    while (i < n) {
#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
        if (n - i >= 16) {
            const unsigned m = static_cast<unsigned>(
                _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
            if (!m) {
                i += 16;
                continue;
            }
            i += static_cast<std::size_t>(__builtin_ctz(m));
        }
#else
        if (n - i >= 8) {
            std::uint64_t w;
            std::memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080u)) {
                i += 8;
                continue;
            }
        }
#endif
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        ascii = false;
        if (c >= 0xC2 && c <= 0xDF && n - i >= 2 && cont(s[i + 1])) {
            i += 2;
            continue;
        }
        // E1..EC and EE..EF: any continuation bytes (E0 and ED restrict the second byte).
        if (c >= 0xE1 && c <= 0xEF && c != 0xED && n - i >= 3 && cont(s[i + 1]) && cont(s[i + 2])) {
            i += 3;
            continue;
        }
        const long k = utf8_sequence(s + i, n - i);
        if (k > 0) {
            i += static_cast<std::size_t>(k);
            continue;
        }
        cut = static_cast<std::size_t>(-k) == n - i && c >= 0xC2 && c <= 0xF4;
        return i;
    }
    return i;
}

// Valid UTF-8 kept, each maximal ill-formed subpart replaced by U+FFFD.
std::string sanitize_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0, run = 0;
    bool ascii = true, cut = false;
    for (;;) {
        i += utf8_prefix(s + i, in.size() - i, ascii, cut);
        if (i == in.size()) break;
        const long k = utf8_sequence(s + i, in.size() - i);  // ill-formed (or cut) here
        out.append(in.data() + run, i - run);
        out += kReplacement;
        i += static_cast<std::size_t>(-k);
        run = i;
    }
    out.append(in.data() + run, in.size() - run);
    return out;
}

bool is_ascii(std::string_view s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        if (w & 0x8080808080808080u) return false;
    }
    for (; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
    return true;
}

std::string normalize(std::string_view name) {
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t' || name.front() == '"'))
        name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t' || name.back() == '"'))
        name.remove_suffix(1);
    std::string n(name);
    for (char& c : n)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return n;
}

enum class Family : std::uint8_t { Utf8, Ascii, Cp1252, Iconv };

struct Alias {
    std::string_view label;
    Family family;
    std::string_view iconv_name;  // for Family::Iconv; empty: the label itself
};

// Labels seen in mail that iconv lacks or reads more narrowly than senders meant; the
// wider charset follows the WHATWG Encoding Standard's choice for each label.
constexpr Alias kAliases[] = {
    {"utf-8", Family::Utf8, {}},
    {"utf8", Family::Utf8, {}},
    {"unicode-1-1-utf-8", Family::Utf8, {}},
    {"x-unicode20utf8", Family::Utf8, {}},
    {"", Family::Ascii, {}},
    {"us-ascii", Family::Ascii, {}},
    {"ascii", Family::Ascii, {}},
    {"us", Family::Ascii, {}},
    {"ansi_x3.4-1968", Family::Ascii, {}},
    {"iso646-us", Family::Ascii, {}},
    {"default", Family::Ascii, {}},
    {"x-unknown", Family::Ascii, {}},
    {"unknown-8bit", Family::Ascii, {}},
    {"windows-1252", Family::Cp1252, {}},
    {"cp1252", Family::Cp1252, {}},
    {"x-cp1252", Family::Cp1252, {}},
    {"iso-8859-1", Family::Cp1252, {}},
    {"iso8859-1", Family::Cp1252, {}},
    {"iso_8859-1", Family::Cp1252, {}},
    {"iso_8859-1:1987", Family::Cp1252, {}},
    {"latin1", Family::Cp1252, {}},
    {"latin-1", Family::Cp1252, {}},
    {"l1", Family::Cp1252, {}},
    {"cp819", Family::Cp1252, {}},
    {"ibm819", Family::Cp1252, {}},
    {"unicode-1-1-utf-7", Family::Iconv, "UTF-7"},
    {"utf7", Family::Iconv, "UTF-7"},
    {"ks_c_5601-1987", Family::Iconv, "CP949"},
    {"ks_c_5601", Family::Iconv, "CP949"},
    {"ks_c_5601-1989", Family::Iconv, "CP949"},
    {"euc-kr", Family::Iconv, "CP949"},
    {"gb2312", Family::Iconv, "GB18030"},
    {"gbk", Family::Iconv, "GB18030"},
    {"x-gbk", Family::Iconv, "GB18030"},
    {"cp936", Family::Iconv, "GB18030"},
    {"csgb2312", Family::Iconv, "GB18030"},
    {"big5", Family::Iconv, "BIG5-HKSCS"},
    {"x-x-big5", Family::Iconv, "BIG5-HKSCS"},
    {"shift_jis", Family::Iconv, "CP932"},
    {"shift-jis", Family::Iconv, "CP932"},
    {"sjis", Family::Iconv, "CP932"},
    {"x-sjis", Family::Iconv, "CP932"},
    {"ms_kanji", Family::Iconv, "CP932"},
    {"iso-8859-8-i", Family::Iconv, "ISO-8859-8"},
    {"tis-620", Family::Iconv, "CP874"},
    {"macintosh", Family::Iconv, "MACINTOSH"},
    {"x-mac-roman", Family::Iconv, "MACINTOSH"},
};

// Charsets in which ASCII bytes may not mean ASCII (shift sequences, wide units).
bool ascii_compatible(std::string_view n) noexcept {
    for (std::string_view bad : {"utf-7", "utf7", "16", "32", "ucs", "2022", "hz", "unicode"})
        if (n.find(bad) != std::string_view::npos) return false;
    return true;
}

// What a charset label means: the normalised label, how it is converted and, for iconv,
// the name iconv knows it by (the alias's target, else the label itself).
struct Charset {
    std::string label;
    Family family = Family::Iconv;
    std::string_view alias_target;  // kAliases' iconv name, or empty
    std::string_view iconv_name() const noexcept { return alias_target.empty() ? label : alias_target; }
};

Charset resolve(std::string_view charset) {
    Charset c{normalize(charset), Family::Iconv, {}};
    for (const Alias& a : kAliases) {
        if (a.label == c.label) {
            c.family = a.family;
            c.alias_target = a.iconv_name;
            break;
        }
    }
    return c;
}

// The charsets warm_up_charsets opens: those common in mail that go through iconv.
// UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are converted here, without iconv.
constexpr std::string_view kWarmCharsets[] = {
    "iso-8859-2",  "iso-8859-5", "iso-8859-7", "iso-8859-15", "windows-1250", "windows-1251",
    "koi8-r",      "utf-7",      "utf-16",     "utf-16le",    "utf-16be",     "shift_jis",
    "euc-jp",      "iso-2022-jp", "gb2312",    "big5",        "euc-kr"};

// Converters a thread keeps open, by iconv name (aliases share one). iconv_open may read
// gconv modules from disk, which a reactor thread must not do while mail flows, and an
// iconv_t must not be shared between threads. Bounded to kMaxConverters; past that the
// least recently used converter that warm_up_charsets did not open is closed, so a message
// in many rare charsets costs an iconv_open per use, never the warmed ones. Failed opens
// (unknown labels) are kept too: each costs one iconv_open per thread until evicted.
constexpr std::size_t kMaxConverters = 32;
static_assert(std::size(kWarmCharsets) + 8 <= kMaxConverters, "leave room for other charsets");

thread_local std::size_t converters_opened = 0;  // iconv_open calls on this thread

class ConverterCache {
public:
    ConverterCache() = default;
    ConverterCache(const ConverterCache&) = delete;
    ConverterCache& operator=(const ConverterCache&) = delete;
    ~ConverterCache() {
        for (auto& e : slots_)
            if (e.cd != kNone) iconv_close(e.cd);
    }
    // The converter from `name` to UTF-8 in its initial state, or kNone. A pinned one is
    // never closed before the thread ends.
    iconv_t get(std::string_view name, bool pin = false) {
        ++tick_;
        Slot* victim = nullptr;
        for (auto& e : slots_) {
            if (e.used && e.name == name) {
                e.used = tick_;
                e.pinned = e.pinned || pin;
                if (e.cd != kNone) iconv(e.cd, nullptr, nullptr, nullptr, nullptr);
                return e.cd;
            }
            if (!e.pinned && (!victim || e.used < victim->used)) victim = &e;  // empty first
        }
        if (!victim) return kNone;  // unreachable: kWarmCharsets leaves slots unpinned
        if (victim->cd != kNone) iconv_close(victim->cd);
        victim->name = name;
        victim->cd = iconv_open("UTF-8", victim->name.c_str());
        ++converters_opened;
        victim->used = tick_;
        victim->pinned = pin;
        return victim->cd;
    }
    static inline const iconv_t kNone = reinterpret_cast<iconv_t>(-1);

private:
    struct Slot {
        std::string name;
        iconv_t cd = kNone;
        std::uint64_t used = 0;  // 0: empty
        bool pinned = false;
    };
    std::array<Slot, kMaxConverters> slots_{};
    std::uint64_t tick_ = 0;
};

ConverterCache& converter_cache() {
    static thread_local ConverterCache cache;
    return cache;
}

// A label is a token (RFC 2045 5.1); anything else could carry iconv suffixes such as
// "//IGNORE" or be arbitrarily long: it is read as unknown, never passed to iconv.
bool iconv_name_ok(std::string_view name) noexcept {
    return name.size() <= 64 && name.find('/') == std::string_view::npos;
}

std::string iconv_to_utf8(iconv_t cd, std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 2);
    char buf[4096];
    char* ip = const_cast<char*>(in.data());  // iconv's signature; it does not write
    std::size_t il = in.size();
    while (il > 0) {
        char* op = buf;
        std::size_t ol = sizeof buf;
        const std::size_t r = iconv(cd, &ip, &il, &op, &ol);
        out.append(buf, static_cast<std::size_t>(op - buf));
        if (r != static_cast<std::size_t>(-1) || errno == E2BIG) continue;
        out += kReplacement;
        if (errno != EILSEQ) break;  // EINVAL: an incomplete sequence ends the input
        // Skip the bad byte and go on with the rest from the initial state: a stateful
        // decoder (UTF-7's base64 run, ISO-2022's shift) can stay in the state that
        // failed, and would turn the rest of the part into U+FFFD or garbage.
        iconv(cd, nullptr, nullptr, nullptr, nullptr);
        ++ip;
        --il;
    }
    char* op = buf;
    std::size_t ol = sizeof buf;
    iconv(cd, nullptr, nullptr, &op, &ol);  // close a stateful encoding's shift state
    out.append(buf, static_cast<std::size_t>(op - buf));
    return out;
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    bool ascii = true, cut = false;
    return utf8_prefix(reinterpret_cast<const unsigned char*>(s.data()), s.size(), ascii, cut) == s.size();
}

std::string utf8_or_latin1(std::string_view s) {
    return is_valid_utf8(s) ? std::string(s) : cp1252_to_utf8(s);
}

std::string to_utf8_moved(std::string&& in, std::string_view charset) {
    // The common cases (ASCII, or valid UTF-8 labelled so) need no second copy of the text.
    const Charset c = resolve(charset);
    if ((c.family != Family::Iconv || ascii_compatible(c.label)) && is_ascii(in)) return std::move(in);
    if (c.family == Family::Utf8 && is_valid_utf8(in)) return std::move(in);
    return to_utf8(std::string_view(in), charset);
}

void Utf8Check::update(std::string_view text) noexcept {
    if (bad_ || checked_ >= text.size()) return;
    bool cut = false;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size() - checked_;
    const std::size_t ok = utf8_prefix(p + checked_, n, ascii_, cut);
    checked_ += ok;
    // A well-formed start cut off by the end of the text: the next update decides.
    bad_ = ok < n && !cut;
}

std::string to_utf8_moved(std::string&& in, std::string_view charset, const Utf8Check& known) {
    // What to_utf8_moved(in, charset) decides, with is_ascii/is_valid_utf8 already known.
    const Charset c = resolve(charset);
    if ((c.family != Family::Iconv || ascii_compatible(c.label)) && known.ascii(in)) return std::move(in);
    if (c.family == Family::Utf8 && known.valid(in)) return std::move(in);
    return to_utf8(std::string_view(in), charset);
}

std::string to_utf8(std::string_view in, std::string_view charset) {
    const Charset c = resolve(charset);
    if (c.family != Family::Iconv || ascii_compatible(c.label)) {
        if (is_ascii(in)) return std::string(in);
    }
    switch (c.family) {
    case Family::Utf8:
        return sanitize_utf8(in);
    case Family::Ascii:  // 8-bit bytes under US-ASCII: UTF-8 if they are, else windows-1252
        return utf8_or_latin1(in);
    case Family::Cp1252:
        return cp1252_to_utf8(in);
    case Family::Iconv:
        break;
    }
    if (!iconv_name_ok(c.iconv_name())) return utf8_or_latin1(in);
    const iconv_t cd = converter_cache().get(c.iconv_name());
    if (cd == ConverterCache::kNone) return utf8_or_latin1(in);  // unknown charset
    // glibc's iconv writes code points past U+10FFFF (from UCS-4/UTF-32 input) as 5- and
    // 6-byte sequences that are not UTF-8 (found by fuzz_mime_headers): check what it made.
    std::string out = iconv_to_utf8(cd, in);
    if (!is_valid_utf8(out)) out = sanitize_utf8(out);
    return out;
}

bool from_utf8(std::string_view in, std::string_view charset, std::string& out) {
    const Charset c = resolve(charset);
    if (c.family == Family::Utf8 || (c.family == Family::Ascii && is_ascii(in))) {
        if (!is_valid_utf8(in)) return false;
        out.assign(in);
        return true;
    }
    if (c.family == Family::Ascii || !iconv_name_ok(c.iconv_name()) || c.label.empty()) return false;
    // XXX: opened per call, outside the per-thread cache (which converts to UTF-8 only):
    // composing in a legacy charset is rare and never on the server's path.
    const std::string name(c.iconv_name());
    iconv_t cd = iconv_open(name.c_str(), "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) return false;
    std::string result;
    result.reserve(in.size());
    char buf[4096];
    char* ip = const_cast<char*>(in.data());  // iconv's signature; it does not write
    std::size_t il = in.size();
    bool ok = true;
    while (ok && il > 0) {
        char* op = buf;
        std::size_t ol = sizeof buf;
        const std::size_t r = iconv(cd, &ip, &il, &op, &ol);
        result.append(buf, static_cast<std::size_t>(op - buf));
        if (r == static_cast<std::size_t>(-1) && errno != E2BIG) ok = false;  // unencodable or bad UTF-8
    }
    if (ok) {
        char* op = buf;
        std::size_t ol = sizeof buf;
        iconv(cd, nullptr, nullptr, &op, &ol);  // a stateful encoding's closing shift
        result.append(buf, static_cast<std::size_t>(op - buf));
    }
    iconv_close(cd);
    if (ok) out = std::move(result);
    return ok;
}

void warm_up_charsets() {
    for (std::string_view label : kWarmCharsets) converter_cache().get(resolve(label).iconv_name(), true);
}

std::size_t charset_converters_opened() noexcept { return converters_opened; }

}  // namespace ringmail::mime
