// base/log.cpp — formatting of log records, and their way to stderr. The text form quotes
// a value that holds a space, quote or backslash; both forms write control and non-ASCII
// octets as escapes. Order: every line handed over (note, write, flush) is written after
// the ones handed over before it, by whichever thread, with or without the writer thread.
#include "base/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <thread>
#include <utility>

#include "base/ascii.hpp"

namespace ringmail::log {
namespace {

std::atomic<Format> g_format{Format::Text};

bool json() noexcept { return g_format.load(std::memory_order_relaxed) == Format::Json; }

// Printable ASCII other than '"' and '\\' goes as it is; a line per message is mostly that,
// so runs of it are appended whole rather than an octet at a time.
bool plain(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// A value of printable ASCII with nothing to escape or quote (an address, a number, an IP
// address: most values): appended in one piece after one look at each octet.
bool simple_text(std::string_view v) noexcept {
    if (v.empty()) return false;
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (!plain(c) || c == ' ' || c == '=') return false;
    }
    return true;
}

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
    if (simple_text(v)) {
        out += v;
        return;
    }
    static constexpr base::OctetSet kQuoted(" \"\\=");
    const bool quote = v.empty() || kQuoted.any_in(v);
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

// The writer thread: posters append under the lock (a copy of a turn's lines, no system
// call) and wake it only when it sleeps; it writes a batch, then gathers for kLingerMs
// before the next, so that a busy server makes about 1000 / kLingerMs writes a second
// whatever its turns. Lines keep the order in which they were appended: batches are taken
// under m_ and written under write_m_, taken before m_ is let go. A poster that finds
// kFlushAt waiting (the disk, or the writer, lags behind) writes them itself, after the
// batch being written: the log slows the server rather than drop lines or grow (a reply
// flood in test_hostile grew the server past its bound with a megabyte here and a new
// buffer for each flush).
// Made once and never freed: a thread that logs while it stops finds it still there, and
// writes its lines itself once it has stopped.
class Writer {
public:
    void start() {
        std::lock_guard lk(m_);
        if (running_) return;
        running_ = true;
        stop_ = false;
        thread_ = std::thread([this] { run(); });
    }
    void stop() noexcept {
        {
            std::lock_guard lk(m_);
            if (!running_) return;
            stop_ = true;
        }
        cv_.notify_one();
        thread_.join();
        std::lock_guard lk(m_);
        running_ = false;
        write_all(waiting_.data(), waiting_.size());  // none, unless posted as it ended
        waiting_.clear();
    }
    bool running() noexcept {
        std::lock_guard lk(m_);
        return running_;
    }
    void post(std::string_view lines) noexcept {
        std::unique_lock lk(m_);
        if (!running_) return write_all(lines.data(), lines.size());
        waiting_.append(lines);
        if (waiting_.size() >= kFlushAt) {
            // The poster's own buffer takes the backlog, and waiting_ its emptied one:
            // capacities are kept on both sides, so a flood costs no allocation a flush.
            thread_local std::string out;
            out.swap(waiting_);
            waiting_.clear();
            std::lock_guard wl(write_m_);
            lk.unlock();
            write_all(out.data(), out.size());
            out.clear();
            return;
        }
        const bool wake = std::exchange(asleep_, false);
        lk.unlock();
        if (wake) cv_.notify_one();
    }

private:
    // Far more than 10 ms of lines at 100,000 messages a second (about 130 KB), so a
    // poster writes only when the writer cannot keep up; small enough that the buffers
    // (waiting_, the batch, a poster's) stay under a megabyte in all.
    static constexpr std::size_t kFlushAt = 256u << 10;

    void run() noexcept {
        std::string batch;
        std::unique_lock lk(m_);
        for (;;) {
            if (waiting_.empty()) {
                if (stop_) return;
                asleep_ = true;
                cv_.wait(lk, [this] { return !asleep_ || stop_; });
                asleep_ = false;
                continue;
            }
            batch.swap(waiting_);  // waiting_ takes the written batch's buffer back
            {
                std::lock_guard wl(write_m_);
                lk.unlock();
                write_all(batch.data(), batch.size());
            }
            batch.clear();
            lk.lock();
            // Gather for a moment (a stop cuts it short).
            cv_.wait_for(lk, std::chrono::milliseconds(kLingerMs), [this] { return stop_; });
        }
    }

    std::mutex m_;        // waiting_ and the flags
    std::mutex write_m_;  // held while a batch is written
    std::condition_variable cv_;
    std::string waiting_;
    bool running_ = false;
    bool asleep_ = false;
    bool stop_ = false;
    std::thread thread_;
};

std::atomic<Writer*> g_writer{nullptr};  // set once, by the first start_writer()

// Every way out to stderr goes through here.
void emit(std::string_view lines) noexcept {
    if (Writer* w = g_writer.load(std::memory_order_acquire)) return w->post(lines);
    write_all(lines.data(), lines.size());
}

}  // namespace

bool start_writer() {
    struct stat st{};
    if (::fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    static Writer* const w = [] {
        auto* made = new Writer;  // never freed (see Writer)
        std::atexit([] { stop_writer(); });
        return made;
    }();
    w->start();
    g_writer.store(w, std::memory_order_release);
    return true;
}

void stop_writer() noexcept {
    if (Writer* w = g_writer.load(std::memory_order_acquire)) w->stop();
}

bool writer_running() noexcept {
    Writer* w = g_writer.load(std::memory_order_acquire);
    return w && w->running();
}


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
    emit(out);
}

void note(std::string_view text) {
    if (!json()) {
        std::string out = "ringmail: ";
        out += text;
        out += '\n';
        return emit(out);
    }
    Line("note").str("msg", text).write();
}

void flush(std::string& buf) noexcept {
    if (buf.empty()) return;
    emit(buf);
    buf.clear();
}

}  // namespace ringmail::log
