// io/mailbox.hpp — how other threads hand work to a ring's thread: a bounded lock-free
// queue plus an eventfd that the ring reads, so a post wakes a ring asleep in
// io_uring_enter. The owner drains on every turn of its loop (and every timer tick), so
// the eventfd only ends a wait; it is not what moves the items.
// No lost wake-up: a producer pushes, then exchange(true) on `pending_`; the drain does
// exchange(false) before it pops. Both are read-modify-writes of one atomic, so either
// the producer's exchange comes after the drain's (it reads false and writes the
// eventfd) or before it (the drain's acquire sees the push). A plain store(false) may be
// reordered after the pops (store-load reordering), and a push in that window was lost.
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <thread>

#include "io/mpmc_queue.hpp"
#include "io/ring.hpp"

namespace ringmail::io {

template <class T>
class Mailbox final : public Handler {
public:
    Mailbox(Ring& ring, std::size_t capacity_pow2) : ring_(ring), id_(ring.add(*this)), queue_(capacity_pow2) {
        fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd_ < 0) throw std::runtime_error("eventfd failed");
    }
    ~Mailbox() { ::close(fd_); }
    Mailbox(const Mailbox&) = delete;
    Mailbox& operator=(const Mailbox&) = delete;

    // On the ring's thread, once its loop runs: waits for posts.
    void arm() noexcept { io_uring_prep_read(ring_.prep(id_, 0), fd_, &buf_, sizeof buf_, 0); }

    // From any thread. False when full; the item is left in `v`.
    bool try_post(T&& v) noexcept {
        if (!queue_.push(std::move(v))) return false;
        wake();
        return true;
    }
    // From a thread that may wait (never a ring's): yields while the queue is full.
    void post(T&& v) noexcept {
        while (!queue_.push(std::move(v))) std::this_thread::yield();
        wake();
    }
    // From any thread: makes the ring's thread turn (and so drain) without an item.
    void wake() noexcept {
        if (pending_.exchange(true, std::memory_order_acq_rel)) return;  // a wake is on its way
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
    }

    // On the ring's thread: hands every queued item to `f`; returns how many.
    template <class F>
    std::size_t drain(F&& f) noexcept {
        pending_.exchange(false, std::memory_order_acq_rel);
        std::size_t n = 0;
        T v;
        while (queue_.pop(v)) {
            f(std::move(v));
            ++n;
        }
        return n;
    }

    void on_completion(const io_uring_cqe& cqe, std::uint64_t) noexcept override {
        if (cqe.res != -ECANCELED) arm();
    }

private:
    Ring& ring_;
    std::uint8_t id_;
    int fd_ = -1;
    std::uint64_t buf_ = 0;
    MpmcQueue<T> queue_;
    std::atomic<bool> pending_{false};
};

}  // namespace ringmail::io
