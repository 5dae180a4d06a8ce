// bench/loadgen/payload.cpp — builds each size class's bytes once; the run only points
// into them. The plans' groups are views into this Payload's strings and live as long.
#include "payload.hpp"

#include <algorithm>
#include <memory>

namespace ringmail::bench {
namespace {

constexpr std::size_t kLine = 72;  // under RFC 5322 2.1.1's 78 recommended characters

const char kHeader[] =
    "From: ringmail-bench <bench@example.com>\r\n"
    "To: <rcpt@example.net>\r\n"
    "Subject: ringmail-bench load\r\n"
    "Message-ID: <load@bench.example.com>\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n";

}  // namespace

std::string make_message(std::size_t bytes) {
    bytes = std::max<std::size_t>(bytes, 2);
    std::string m;
    m.reserve(bytes);
    if (bytes >= sizeof kHeader - 1 + 2) m.append(kHeader);
    unsigned line_no = 0;
    while (m.size() < bytes) {
        const std::size_t left = bytes - m.size();
        std::size_t c = std::min(kLine, left - 2);
        if (left - c - 2 == 1) --c;  // never leave a single byte: it could not end in CRLF
        for (std::size_t i = 0; i < c; ++i) m.push_back(static_cast<char>('a' + (line_no + i) % 26));
        if (c > 0 && line_no % 8 == 7) m[m.size() - c] = '.';
        m.append("\r\n");
        ++line_no;
    }
    return m;
}

std::string dot_stuff(const std::string& message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 3);
    bool at_line_start = true;
    for (const char ch : message) {
        if (at_line_start && ch == '.') out.push_back('.');
        out.push_back(ch);
        at_line_start = ch == '\n';
    }
    out.append(".\r\n");
    return out;
}

Payload::Payload(std::size_t bytes, unsigned recipients) : bytes_(std::max<std::size_t>(bytes, 2)) {
    const std::string message = make_message(bytes_);
    std::string envelope = "MAIL FROM:<bench@example.com>\r\n";
    std::vector<std::size_t> cuts{0, envelope.size()};  // command boundaries
    for (unsigned i = 0; i < recipients; ++i) {
        envelope += "RCPT TO:<rcpt" + std::to_string(i) + "@example.net>\r\n";
        cuts.push_back(envelope.size());
    }
    data_buf_ = envelope + "DATA\r\n";
    const std::size_t data_end = data_buf_.size();
    data_buf_ += dot_stuff(message);
    bdat_buf_ = envelope + "BDAT " + std::to_string(message.size()) + " LAST\r\n" + message;

    const char* d = data_buf_.data();
    const char* b = bdat_buf_.data();
    const unsigned n_env = recipients + 1;  // MAIL and the RCPTs
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        lock_data_.push_back({d + cuts[i], cuts[i + 1] - cuts[i], 1});
        lock_bdat_.push_back({b + cuts[i], cuts[i + 1] - cuts[i], 1});
    }
    const std::size_t env_end = cuts.back();
    lock_data_.push_back({d + env_end, data_end - env_end, 1});                  // DATA -> 354
    lock_data_.push_back({d + data_end, data_buf_.size() - data_end, 1});        // body -> 250
    lock_bdat_.push_back({b + env_end, bdat_buf_.size() - env_end, 1});          // BDAT+chunk -> 250
    pipe_data_.push_back({d, data_end, n_env + 1});
    pipe_data_.push_back({d + data_end, data_buf_.size() - data_end, 1});
    pipe_bdat_.push_back({b, bdat_buf_.size(), n_env + 1});
}

PayloadSet::PayloadSet(const std::vector<SizeClass>& sizes, unsigned recipients) {
    std::uint64_t sum = 0;
    for (const SizeClass& sc : sizes) {
        payloads_.push_back(std::make_unique<Payload>(sc.bytes, recipients));
        sum += sc.weight;
        cumulative_.push_back(sum);
    }
}

const Payload& PayloadSet::pick(std::uint64_t r) const noexcept {
    if (payloads_.size() == 1) return *payloads_[0];
    const std::uint64_t x = r % cumulative_.back();
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
    return *payloads_[static_cast<std::size_t>(it - cumulative_.begin())];
}

}  // namespace ringmail::bench
