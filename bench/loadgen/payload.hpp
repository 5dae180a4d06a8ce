// bench/loadgen/payload.hpp — the pre-built bytes of every transaction, built once per size
// class before the run: commands, the dot-stuffed DATA body (RFC 5321 4.5.2) and the BDAT
// form (RFC 3030), all CRLF. A transaction is a plan of groups, each sent with one send.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "options.hpp"

namespace ringmail::bench {

// One send, then `replies` replies are read before the next group goes out.
struct Group {
    const char* data;
    std::size_t len;
    unsigned replies;
};

class Payload {
public:
    Payload(std::size_t bytes, unsigned recipients);
    Payload(const Payload&) = delete;
    Payload& operator=(const Payload&) = delete;

    std::size_t bytes() const noexcept { return bytes_; }  // the message, before stuffing
    // Lock-step sends one command per group; pipelining (RFC 2920 3.1) sends MAIL, the RCPTs
    // and DATA (last in its group) together, then the body; with BDAT all of it at once.
    const std::vector<Group>& plan(bool pipelining, bool bdat) const noexcept {
        return bdat ? (pipelining ? pipe_bdat_ : lock_bdat_) : (pipelining ? pipe_data_ : lock_data_);
    }

private:
    std::size_t bytes_;
    std::string data_buf_;  // MAIL..RCPT..DATA CRLF, then the stuffed body and "." CRLF
    std::string bdat_buf_;  // MAIL..RCPT..BDAT n LAST CRLF, then the raw message
    std::vector<Group> lock_data_, pipe_data_, lock_bdat_, pipe_bdat_;
};

// The message itself: a few header fields and 72-column lines up to exactly `bytes`
// (at least 2: a message ends with CRLF); every 8th body line starts with a dot, so
// the DATA form really is stuffed.
std::string make_message(std::size_t bytes);
// RFC 5321 4.5.2: a leading dot doubled; then the end-of-data line.
std::string dot_stuff(const std::string& message);

// The size classes of --size/--size-dist and a cheap weighted pick among them.
class PayloadSet {
public:
    PayloadSet(const std::vector<SizeClass>& sizes, unsigned recipients);
    std::size_t size() const noexcept { return payloads_.size(); }
    // `r` is a uniform 64-bit random number.
    const Payload& pick(std::uint64_t r) const noexcept;

private:
    std::vector<std::unique_ptr<Payload>> payloads_;
    std::vector<std::uint64_t> cumulative_;  // running sum of weights
};

}  // namespace ringmail::bench
