// tests/relay/host_lookup_test.cpp — the smarthost's name off the caller's thread: an IP
// address answered at once (no resolver asked), `localhost` through the system's resolver
// (/etc/hosts), a bad port at once, a lookup given up. Loopback names only: no DNS server.
#include "relay/host_lookup.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <condition_variable>
#include <mutex>

using namespace ringmail::relay;

namespace {

// The lookup thread's wake, for a test to wait on.
struct Waker {
    std::mutex m;
    std::condition_variable cv;
    bool woken = false;
    void wake() {
        std::lock_guard lock(m);
        woken = true;
        cv.notify_all();
    }
    void wait() {
        std::unique_lock lock(m);
        cv.wait(lock, [this] { return woken; });
    }
};

std::uint16_t port_of(const Target& t) {
    if (t.addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&t.addr)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&t.addr)->sin_port);
}

}  // namespace

TEST(HostLookup, AnIpAddressIsAnsweredAtOnce) {
    HostLookup h([] { ADD_FAILURE() << "no thread for an IP address"; });
    h.start("127.0.0.1", "2525", 0);
    EXPECT_FALSE(h.busy());
    auto r = h.take();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->kind, Route::Kind::Ok) << r->reason;
    ASSERT_EQ(r->targets.size(), 1u);
    EXPECT_EQ(r->targets[0].ip(), "127.0.0.1");
    EXPECT_EQ(r->targets[0].host, "127.0.0.1");
    EXPECT_EQ(port_of(r->targets[0]), 2525);
    EXPECT_FALSE(h.take());  // an answer is taken once

    h.start("::1", "25", 0);
    r = h.take();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->kind, Route::Kind::Ok) << r->reason;
    ASSERT_EQ(r->targets.size(), 1u);
    EXPECT_EQ(r->targets[0].ip(), "::1");
    EXPECT_EQ(port_of(r->targets[0]), 25);
}

TEST(HostLookup, ABadPortFailsAtOnceForNow) {
    HostLookup h([] {});
    h.start("127.0.0.1", "no-such-service", 0);
    const auto r = h.take();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, Route::Kind::TempFail);
    EXPECT_TRUE(r->reason.starts_with("127.0.0.1: ")) << r->reason;
}

TEST(HostLookup, LocalhostComesFromTheSystemResolverOffThisThread) {
    Waker w;
    HostLookup h([&w] { w.wake(); });
    h.start("localhost", "2525", 0);
    w.wait();
    const auto r = h.take();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->kind, Route::Kind::Ok) << r->reason;
    ASSERT_FALSE(r->targets.empty());
    for (const Target& t : r->targets) {
        EXPECT_EQ(t.host, "localhost");
        EXPECT_TRUE(t.ip().starts_with("127.") || t.ip() == "::1") << t.ip();
        EXPECT_EQ(port_of(t), 2525);
    }
    EXPECT_FALSE(h.busy());
}

TEST(HostLookup, GivenUpAtItsDeadline) {
    HostLookup h([] {});
    h.start("localhost", "25", 1000);
    h.expire(1000 + 29'999, 30'000);  // not yet
    h.expire(1000 + 30'000, 30'000);
    // Either the answer came first (then it stands) or the lookup was given up.
    const auto r = h.take();
    ASSERT_TRUE(r);
    if (r->kind != Route::Kind::Ok) {
        EXPECT_EQ(r->reason, "localhost: no answer from the system's resolver in 30 s");
    }
    EXPECT_FALSE(h.busy());
}
