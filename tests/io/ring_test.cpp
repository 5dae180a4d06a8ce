// tests/io/ring_test.cpp — io::Ring, io::Mailbox and io::SlotTable on a real io_uring:
// no cross-thread wake-up is lost, and a completion for a freed slot is dropped. Skips
// (GTEST_SKIP) where the kernel has no io_uring.
#include "io/ring.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "io/mailbox.hpp"
#include "io/slot_table.hpp"

namespace ringmail::io {
namespace {

std::unique_ptr<Ring> try_ring(unsigned entries = 256) {
    try {
        auto r = std::make_unique<Ring>(entries);
        r->start();
        return r;
    } catch (const std::runtime_error&) {
        return nullptr;
    }
}

// Two threads post 500,000 items each. Each producer waits until its previous item was
// taken before it posts the next, so the ring's thread has mostly drained everything and
// gone to sleep in io_uring_enter (no timer) when a post arrives: nearly every post must
// wake it. A lost wake-up leaves it asleep with an item queued, which the 30 s wait
// below turns into a failure instead of a hang.
TEST(Mailbox, MillionWakeupsFromTwoThreadsNoneLost) {
    auto ring = try_ring();
    if (!ring) GTEST_SKIP() << "no io_uring here";
    Mailbox<std::uint32_t> box(*ring, 1u << 12);  // small: producers also meet a full queue
    box.arm();
    constexpr std::uint32_t kPerThread = 500'000;
    std::atomic<std::uint32_t> taken[2] = {0, 0};
    std::vector<std::thread> producers;
    for (std::uint32_t t = 0; t < 2; ++t) {
        producers.emplace_back([&box, &taken, t] {
            for (std::uint32_t i = 0; i < kPerThread; ++i) {
                box.post(t * kPerThread + i);
                while (taken[t].load(std::memory_order_acquire) <= i) std::this_thread::yield();
            }
        });
    }
    std::vector<std::uint8_t> seen(2 * kPerThread, 0);
    std::uint64_t got = 0;
    std::uint64_t duplicates = 0;
    unsigned idle_waits = 0;
    const auto take = [&](std::uint32_t v) {
        if (seen[v]++) ++duplicates;
        ++got;
        taken[v / kPerThread].fetch_add(1, std::memory_order_release);
    };
    while (got < 2 * kPerThread) {
        static constexpr __kernel_timespec kLongWait{30, 0};
        const int n = ring->turn(&kLongWait);
        ASSERT_GE(n, 0);
        const std::size_t drained = box.drain(take);
        if (n == 0 && drained == 0) {
            ++idle_waits;  // 30 s with items still to come and no wake-up: one was lost
            ASSERT_LT(idle_waits, 2u) << "wake-up lost with " << got << " of " << 2 * kPerThread << " taken";
        }
    }
    for (auto& p : producers) p.join();
    box.drain(take);
    EXPECT_EQ(got, 2u * kPerThread);
    EXPECT_EQ(duplicates, 0u);
}

// A handler that names objects by SlotId and counts completions it could not place.
struct Named final : Handler {
    explicit Named(Ring& r) : ring(r), id(r.add(*this)) {}
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override {
        if (int* obj = table.find(SlotId::unpack(payload))) *obj += cqe.res;
        else ++dropped;
    }
    Ring& ring;
    std::uint8_t id;
    SlotTable<int> table;
    int dropped = 0;
};

// A read is armed for object A; A is freed and its slot reused by B before the read
// completes. The completion names A's generation and must not reach B.
TEST(SlotTable, StaleCompletionAfterCloseIsDropped) {
    auto ring = try_ring();
    if (!ring) GTEST_SKIP() << "no io_uring here";
    Named h(*ring);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    auto [a, pa] = h.table.emplace(0);
    char buf[8];
    io_uring_prep_read(ring->prep(h.id, a.pack()), fds[0], buf, sizeof buf, 0);
    ring->submit();
    h.table.erase(a);
    auto [b, pb] = h.table.emplace(0);
    EXPECT_EQ(b.slot, a.slot);  // the slot is reused ...
    EXPECT_NE(b.gen, a.gen);    // ... under a new name
    ASSERT_EQ(::write(fds[1], "hello", 5), 5);
    while (h.dropped == 0 && *pb == 0) ASSERT_GE(ring->turn(nullptr), 0);
    EXPECT_EQ(h.dropped, 1);
    EXPECT_EQ(*h.table.find(b), 0);
    EXPECT_EQ(h.table.find(a), nullptr);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(SlotTable, NamesSurvivePackingAndDieOnErase) {
    SlotTable<int> t;
    auto [a, pa] = t.emplace(1);
    auto [b, pb] = t.emplace(2);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.find(SlotId::unpack(a.pack())), pa);
    EXPECT_EQ(*t.find(SlotId::unpack(b.pack())), 2);
    t.erase(a);
    EXPECT_EQ(t.find(a), nullptr);
    t.erase(a);  // twice is harmless
    EXPECT_EQ(t.size(), 1u);
    // A slot reused many times never answers to an old name, even after the generation
    // wraps past the bits that travel (it is compared on those bits: 2^22 reuses apart).
    SlotId old = a;
    for (int i = 0; i < 1000; ++i) {
        auto [c, pc] = t.emplace(i);
        EXPECT_EQ(t.find(old), nullptr);
        t.erase(c);
        old = c;
    }
    EXPECT_EQ(t.find({99, 0}), nullptr);  // a slot that never existed
}

}  // namespace
}  // namespace ringmail::io
