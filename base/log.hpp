// base/log.hpp — the log on stderr (server and relay): one line per record, as text
//   ringmail: EVENT key=value key="value with spaces"
// or, with `log_format = json`, one JSON object per line
//   {"ts":"2026-12-06T23:40:00.123Z","event":"EVENT","key":"value"}
// Values are escaped either way: a client's bytes never reach the terminal raw. Reactors
// collect their records during a turn and write them with one write(2) per turn.
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
// Writes out `buf` (lines from Line::append_to) with one write(2) and clears it.
void flush(std::string& buf) noexcept;

}  // namespace ringmail::log
