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
    // As many as a reactor's connections may have in flight at once (hundreds under load),
    // within kMaxBytes of buffers in all.
    static constexpr std::size_t kMaxKept = 1024;              // buffers
    static constexpr std::size_t kMaxCapacity = 256 * 1024;    // octets each (bigger ones are freed)
    static constexpr std::size_t kMaxBytes = 4 << 20;          // octets in all

    void give(std::string&& body) noexcept {
        const std::size_t cap = body.capacity();
        if (cap <= std::string().capacity() || cap > kMaxCapacity) return;
        if (spare_.size() >= kMaxKept || bytes_ + cap > kMaxBytes) return;
        body.clear();
        bytes_ += cap;
        spare_.push_back(std::move(body));  // no allocation: reserved at construction
    }
    bool empty() const noexcept { return spare_.empty(); }
    std::string take() noexcept {
        std::string s = std::move(spare_.back());
        spare_.pop_back();
        bytes_ -= s.capacity();
        return s;
    }
    void clear() noexcept {  // a quiet reactor gives its memory back
        spare_.clear();
        bytes_ = 0;
    }

    BodyPool() { spare_.reserve(kMaxKept); }

private:
    std::vector<std::string> spare_;
    std::size_t bytes_ = 0;  // capacity of the buffers in spare_
};

}  // namespace ringmail::smtpd
