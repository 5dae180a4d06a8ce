// base/log.hpp — the log on stderr (server and relay): one line per record, as text
//   ringmail: EVENT key=value key="value with spaces"
// or, with `log_format = json`, one JSON object per line
//   {"ts":"2026-12-06T23:40:00.123Z","event":"EVENT","key":"value"}
// Values are escaped either way: a client's bytes never reach the terminal raw. Reactors
// collect their records during a turn and hand them over once per turn (post()).
// Lines go out with a write(2) each, at once, unless start_writer() found stderr to be a
// regular file: then a thread of the log's own gathers them, in the order they were
// handed over, and writes them at most kLingerMs later (a write per turn of each reactor
// cost more than all the log formatting). Nothing is dropped: when 256 KiB wait, the
// thread handing over more writes them itself.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::log {

enum class Format : std::uint8_t { Text, Json };
void set_format(Format f) noexcept;  // once, before any thread logs
Format format() noexcept;

class Line {
public:
    explicit Line(std::string_view event);
    Line(std::string_view event, Format f);  // in this format, whatever set_format() chose
    Line& str(std::string_view key, std::string_view value);
    Line& num(std::string_view key, std::uint64_t value);
    void append_to(std::string& out);  // with its line end
    void write();                      // now, one write(2) to stderr
    ~Line();
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

private:
    // Built in the thread's spare buffer (taken in the constructor, given back by the
    // destructor), so that a line per message costs no allocation once the thread has
    // logged one; a second Line alive at once on the thread starts its own.
    std::string s_;
    bool json_;
};

// A free-text record (start-up, signals, failures that have no fields yet).
void note(std::string_view text);
// Hands whole lines (from Line::append_to) over to be written after everything handed over
// before, from any thread, and clears `buf`.
void flush(std::string& buf) noexcept;

// The writer thread, for a server whose stderr is a regular file (a pipe, socket or
// terminal is written by the reactors' rings, io/ring_writer): started once, before the
// threads that log; stop_writer() (also at exit) writes what waits and joins it. Lines
// wait at most this long; a crash loses at most that much of the log.
inline constexpr unsigned kLingerMs = 10;
bool start_writer();          // true when it runs (stderr is a regular file)
void stop_writer() noexcept;  // idempotent
bool writer_running() noexcept;

}  // namespace ringmail::log
