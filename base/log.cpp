// base/log.cpp — formatting of log records. The text form quotes a value that holds a
// space, quote or backslash; both forms write control and non-ASCII octets as escapes.
#include "base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cerrno>
#include <ctime>

#include "base/ascii.hpp"

namespace ringmail::log {
namespace {

std::atomic<Format> g_format{Format::Text};

bool json() noexcept { return g_format.load(std::memory_order_relaxed) == Format::Json; }

// Printable ASCII other than '"' and '\\' goes as it is; a line per message is mostly that,
// so runs of it are appended whole rather than an octet at a time.
bool plain(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

template <typename Escape>
void append_escaped(std::string& out, std::string_view v, Escape escape) {
    std::size_t i = 0;
    while (i < v.size()) {
        std::size_t j = i;
        while (j < v.size() && plain(static_cast<unsigned char>(v[j]))) ++j;
        out.append(v.data() + i, j - i);
        if (j == v.size()) break;
        escape(out, static_cast<unsigned char>(v[j]));
        i = j + 1;
    }
}

void escape_json(std::string& out, std::string_view v) {
    append_escaped(out, v, [](std::string& o, unsigned char c) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += static_cast<char>(c);
        } else {  // controls, and non-ASCII too: a client's bytes need not be UTF-8
            o += "\\u00";
            base::append_hex(o, c);
        }
    });
}

void escape_text(std::string& out, std::string_view v) {
    const bool quote = v.empty() || v.find_first_of(" \"\\=") != std::string_view::npos;
    if (quote) out += '"';
    append_escaped(out, v, [](std::string& o, unsigned char c) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += static_cast<char>(c);
        } else {
            o += "\\x";
            base::append_hex(o, c);
        }
    });
    if (quote) out += '"';
}

void write_all(const char* p, std::size_t n) noexcept {
    while (n > 0) {
        const ssize_t w = ::write(2, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // nowhere to log to: nothing else to do
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

}  // namespace

void set_format(Format f) noexcept { g_format.store(f, std::memory_order_relaxed); }
Format format() noexcept { return g_format.load(std::memory_order_relaxed); }

Line::Line(std::string_view event) : Line(event, format()) {}

namespace {
thread_local std::string spare_line;
}  // namespace

Line::~Line() {
    if (s_.capacity() > spare_line.capacity() && s_.capacity() <= 4096) {
        s_.clear();
        spare_line.swap(s_);
    }
}

Line::Line(std::string_view event, Format f) : s_(std::move(spare_line)), json_(f == Format::Json) {
    s_.clear();
    if (json_) {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        tm t{};
        ::gmtime_r(&ts.tv_sec, &t);
        char buf[40];
        const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
        s_ = "{\"ts\":\"";
        s_.append(buf, n);
        const auto ms = static_cast<unsigned>(ts.tv_nsec / 1000000) % 1000;
        s_ += '.';
        s_ += static_cast<char>('0' + ms / 100);
        s_ += static_cast<char>('0' + ms / 10 % 10);
        s_ += static_cast<char>('0' + ms % 10);
        s_ += 'Z';
        s_ += "\",\"event\":\"";
        escape_json(s_, event);
        s_ += '"';
    } else {
        s_ = "ringmail: ";
        s_ += event;
    }
}

Line& Line::str(std::string_view key, std::string_view value) {
    if (json_) {
        s_ += ",\"";
        s_ += key;
        s_ += "\":\"";
        escape_json(s_, value);
        s_ += '"';
    } else {
        s_ += ' ';
        s_ += key;
        s_ += '=';
        escape_text(s_, value);
    }
    return *this;
}

Line& Line::num(std::string_view key, std::uint64_t value) {
    if (json_) {
        s_ += ",\"";
        s_ += key;
        s_ += "\":";
    } else {
        s_ += ' ';
        s_ += key;
        s_ += '=';
    }
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    s_.append(digits, static_cast<std::size_t>(end - digits));
    return *this;
}

void Line::append_to(std::string& out) {
    out += s_;
    out += json_ ? "}\n" : "\n";
}

void Line::write() {
    std::string out;
    append_to(out);
    write_all(out.data(), out.size());
}

void note(std::string_view text) {
    if (!json()) {
        std::string out = "ringmail: ";
        out += text;
        out += '\n';
        return write_all(out.data(), out.size());
    }
    Line("note").str("msg", text).write();
}

void flush(std::string& buf) noexcept {
    if (buf.empty()) return;
    write_all(buf.data(), buf.size());
    buf.clear();
}

}  // namespace ringmail::log
