// smtpd/body_pool.hpp — a reactor's spare message-body buffers. A body the server drops
// (the discard handler) comes back here, and the next transaction on any of the
// reactor's connections borrows it, so that in steady state a message costs no
// allocation; a connection keeps no buffer of its own between messages, so idle ones
// stay small. Bounded in count and in the size of what it keeps. One reactor's only.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ringmail::smtpd {

class BodyPool {
public:
    static constexpr std::size_t kMaxKept = 32;                // buffers
    static constexpr std::size_t kMaxCapacity = 256 * 1024;    // octets each (bigger ones are freed)

    void give(std::string&& body) noexcept {
        if (body.capacity() <= std::string().capacity() || body.capacity() > kMaxCapacity) return;
        if (spare_.size() >= kMaxKept) return;
        body.clear();
        spare_.push_back(std::move(body));  // no allocation: reserved at construction
    }
    bool empty() const noexcept { return spare_.empty(); }
    std::string take() noexcept {
        std::string s = std::move(spare_.back());
        spare_.pop_back();
        return s;
    }
    void clear() noexcept { spare_.clear(); }  // a quiet reactor gives its memory back

    BodyPool() { spare_.reserve(kMaxKept); }

private:
    std::vector<std::string> spare_;
};

}  // namespace ringmail::smtpd
