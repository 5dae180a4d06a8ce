// io/mpmc_queue.hpp — bounded lock-free multi-producer multi-consumer queue
// (Vyukov's sequence-per-cell ring). The only shared state between reactors and handler
// threads (invariant 2). push/pop never block; a full queue is the caller's to handle.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace ringmail::io {

template <class T>
class MpmcQueue {
public:
    explicit MpmcQueue(std::size_t capacity_pow2)
        : mask_(capacity_pow2 - 1), cells_(new Cell[capacity_pow2]) {
        for (std::size_t i = 0; i < capacity_pow2; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
    }

    bool push(T&& v) noexcept {
        std::size_t pos = tail_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
            if (diff == 0) {
                if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    c.value = std::move(v);
                    c.seq.store(pos + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;  // full
            } else {
                pos = tail_.load(std::memory_order_relaxed);
            }
        }
    }

    bool pop(T& out) noexcept {
        std::size_t pos = head_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
            if (diff == 0) {
                if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    out = std::move(c.value);
                    c.seq.store(pos + mask_ + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;  // empty
            } else {
                pos = head_.load(std::memory_order_relaxed);
            }
        }
    }

private:
    struct Cell {
        std::atomic<std::size_t> seq;
        T value;
    };
    static constexpr std::size_t line = 64;
    const std::size_t mask_;
    std::unique_ptr<Cell[]> cells_;
    alignas(line) std::atomic<std::size_t> head_{0};
    alignas(line) std::atomic<std::size_t> tail_{0};
};

// Sleep/wake for queue consumers: a futex word (std::atomic::wait) plus a sleeper count
// so that producers make the wake-up syscall only when somebody sleeps.
class Doorbell {
public:
    void ring() noexcept {
        word_.fetch_add(1, std::memory_order_release);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) word_.notify_all();
    }
    std::uint32_t ticket() const noexcept { return word_.load(std::memory_order_acquire); }
    // Sleeps unless the doorbell rang since `ticket` was read.
    void wait(std::uint32_t ticket) noexcept {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        word_.wait(ticket, std::memory_order_acquire);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint32_t> word_{0};
    std::atomic<int> sleepers_{0};
};

}  // namespace ringmail::io
