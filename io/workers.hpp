// io/workers.hpp — the one worker-thread skeleton: N threads fed by one bounded lock-free
// queue, each taking up to `batch_max` items at a time (1 for handlers; many for a group
// commit). submit() never blocks (a full queue is the caller's answer to give); stop()
// lets the threads finish what is queued, then joins them; stop_by() does so only until a
// deadline, for threads that run code of unknown duration (a user's handler).
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "io/mpmc_queue.hpp"

namespace ringmail::io {

template <class T>
class Workers {
public:
    using Run = std::function<void(std::vector<T>& batch)>;

    // Starts the threads at once: construct Workers last, after what `run` uses. At most
    // `max_queued` items wait (bounded by the queue's 65,536 cells in any case).
    Workers(unsigned threads, std::size_t batch_max, Run run, std::size_t max_queued = 1u << 16)
        : batch_max_(batch_max), max_queued_(max_queued), run_(std::move(run)) {
        for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
    }
    ~Workers() { stop(); }
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;

    // From any thread; false when the queue is full (the item stays in `v`).
    bool submit(T& v) noexcept {
        // Counted before the push: a burst of submitters cannot overshoot the bound.
        if (queued_.fetch_add(1, std::memory_order_relaxed) >= max_queued_ || !queue_.push(std::move(v))) {
            queued_.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        bell_.ring();
        return true;
    }
    std::size_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }

    void stop() {
        running_.store(false);
        bell_.ring();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    // As stop(), but waits only until `deadline`. When threads are still busy then, all
    // are detached and their number is returned: they still use this object, which the
    // caller must then never destroy (leak it; the process is on its way out).
    std::size_t stop_by(std::chrono::steady_clock::time_point deadline) {
        running_.store(false);
        bell_.ring();
        // Polled: a thread stuck in user code has nothing to notify us with. 10 ms steps,
        // bounded by the deadline.
        while (exited_.load(std::memory_order_acquire) < threads_.size() &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const std::size_t stuck = threads_.size() - exited_.load(std::memory_order_acquire);
        for (auto& t : threads_) {
            if (stuck == 0) t.join();
            else t.detach();
        }
        threads_.clear();
        return stuck;
    }

private:
    void work() {
        std::vector<T> batch;
        T item;
        for (;;) {
            const auto ticket = bell_.ticket();
            // Everything queued while the last batch ran joins this one, up to the bound
            // that keeps one batch's latency bounded too.
            while (batch.size() < batch_max_ && queue_.pop(item)) {
                batch.push_back(std::move(item));
                queued_.fetch_sub(1, std::memory_order_relaxed);
            }
            if (!batch.empty()) {
                run_(batch);
                batch.clear();
                continue;
            }
            if (!running_.load()) {  // the queue is drained after stop()
                exited_.fetch_add(1, std::memory_order_release);
                return;
            }
            bell_.wait(ticket);
        }
    }

    std::size_t batch_max_;
    std::size_t max_queued_;
    Run run_;
    std::atomic<std::size_t> queued_{0};
    MpmcQueue<T> queue_{1u << 16};
    Doorbell bell_;
    std::atomic<bool> running_{true};
    std::atomic<std::size_t> exited_{0};  // threads out of work()
    std::vector<std::thread> threads_;
};

}  // namespace ringmail::io
