// tests/relay/dns_test.cpp — the Resolver without a DNS server: unbound answers the
// RFC 6761 special names itself (localhost: 127.0.0.1 and ::1, no MX; .invalid:
// NXDOMAIN), so the asynchronous path (MX, then A/AAAA from inside unbound's callback),
// the io::Ring driver, lookup sharing, the cache and the timeout are checked here; the
// real-server cases are tests/e2e/test_mx.py against knotd. The forwarder is a loopback
// port with nothing on it, which only the timeout test ever reaches.
#include "relay/dns.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "io/fd_poll.hpp"

namespace ringmail::relay {
namespace {

ResolverOptions offline() {
    ResolverOptions o;
    o.resolver = "127.0.0.1:9";  // discard: nothing answers there on a test machine
    o.dnssec = false;
    return o;
}

TEST(Forwarder, HostPortIntoUnboundSyntax) {
    EXPECT_EQ(unbound_forwarder("127.0.0.1:5353"), "127.0.0.1@5353");
    EXPECT_EQ(unbound_forwarder("192.0.2.1"), "192.0.2.1@53");
    EXPECT_EQ(unbound_forwarder("[::1]:5353"), "::1@5353");
    EXPECT_EQ(unbound_forwarder("[2001:db8::1]"), "2001:db8::1@53");
    EXPECT_EQ(unbound_forwarder("2001:db8::1"), "2001:db8::1@53");
    for (const char* bad : {"", "dns.example:53", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "[::1", "[::1]x", "1.2.3.4:5x"})
        EXPECT_THROW(unbound_forwarder(bad), std::invalid_argument) << bad;
}

TEST(Resolver, RefusesABadResolverOrAMissingTrustAnchor) {
    auto o = offline();
    o.resolver = "not-an-address";
    EXPECT_THROW(Resolver{o}, std::runtime_error);
    o = offline();
    o.dnssec = true;
    o.trust_anchor_file = "no-such-dir/root.key";
    EXPECT_THROW(Resolver{o}, std::runtime_error);
}

TEST(Resolver, ImplicitMxWithBothAddressFamilies) {
    Resolver r(offline());
    const MxResult res = r.resolve_sync("LocalHost.");
    EXPECT_EQ(res.status, MxStatus::ImplicitMx) << res.why;
    EXPECT_EQ(res.domain, "localhost");
    ASSERT_EQ(res.hosts.size(), 1u);
    EXPECT_EQ(res.hosts[0].name, "localhost");
    EXPECT_EQ(res.hosts[0].preference, 0);
    EXPECT_EQ(res.hosts[0].status, HostStatus::Ok);
    ASSERT_EQ(res.hosts[0].v4.size(), 1u);
    EXPECT_EQ(format_address(res.hosts[0].v4[0]), "127.0.0.1");
    ASSERT_EQ(res.hosts[0].v6.size(), 1u);
    EXPECT_EQ(format_address(res.hosts[0].v6[0]), "::1");
    EXPECT_GT(res.ttl, 0u);
    EXPECT_EQ(verdict(res).kind, MxVerdict::Kind::Deliver);
    EXPECT_EQ(r.in_flight(), 0u);
}

TEST(Resolver, NxDomainIsCachedAndPermanent) {
    Resolver r(offline());
    const MxResult res = r.resolve_sync("nothing.invalid");
    EXPECT_EQ(res.status, MxStatus::NxDomain) << res.why;
    EXPECT_GT(res.ttl, 0u);
    EXPECT_LE(res.ttl, ResolverOptions{}.max_negative_ttl);
    EXPECT_FALSE(res.from_cache);
    EXPECT_EQ(verdict(res).enhanced, "5.1.2");
    EXPECT_TRUE(r.resolve_sync("nothing.invalid").from_cache);
}

TEST(Resolver, BadNameAnsweredAtOnce) {
    Resolver r(offline());
    std::optional<MxResult> got;
    r.resolve("bad domain", 0, [&](const MxResult& m) { got = m; });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, MxStatus::BadName);
    EXPECT_EQ(r.in_flight(), 0u);
}

std::unique_ptr<io::Ring> try_ring() {
    try {
        auto ring = std::make_unique<io::Ring>(64);
        ring->start();
        return ring;
    } catch (const std::runtime_error&) {
        return nullptr;
    }
}

// The way the delivery reactor drives it: an io::FdPoll on fd(), process() on each
// readiness. Two resolve() of one domain share a lookup; a callback may start the
// next lookup; a later resolve() is a cache hit answered at once.
TEST(Resolver, DrivenByTheRingSharedLookupsAndCallbackChains) {
    auto ring = try_ring();
    if (!ring) GTEST_SKIP() << "no io_uring here";
    Resolver r(offline());
    io::FdPoll poll(*ring, r.fd(), [&] { r.process(ring->now_ms()); });
    poll.arm();
    std::vector<MxResult> got;
    const auto keep = [&](const MxResult& m) { got.push_back(m); };
    r.resolve("localhost", ring->now_ms(), keep);
    r.resolve("localhost", ring->now_ms(), [&](const MxResult& m) {
        got.push_back(m);
        r.resolve("chained.invalid", ring->now_ms(), keep);  // from inside process()
    });
    EXPECT_EQ(r.in_flight(), 1u);
    const __kernel_timespec second{1, 0};
    for (int i = 0; i < 100 && got.size() < 3; ++i) ASSERT_GE(ring->turn(&second), 0);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].status, MxStatus::ImplicitMx);
    EXPECT_EQ(got[1].status, MxStatus::ImplicitMx);
    EXPECT_EQ(got[2].status, MxStatus::NxDomain);
    EXPECT_EQ(r.in_flight(), 0u);
    EXPECT_EQ(r.cached(), 2u);
    r.resolve("localhost", ring->now_ms(), keep);
    ASSERT_EQ(got.size(), 4u);  // answered before resolve() returned
    EXPECT_TRUE(got[3].from_cache);
    EXPECT_EQ(got[3].hosts.size(), 1u);
    EXPECT_EQ(got[3].ttl, got[0].ttl);
    // Later, the TTLs have counted down.
    r.resolve("localhost", ring->now_ms() + 10'000, keep);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[4].ttl, got[0].ttl - 10);
    EXPECT_EQ(got[4].hosts[0].ttl, got[0].hosts[0].ttl - 10);
    got.pop_back();
    // The cache follows the caller's clock: past the TTL the next resolve() asks again.
    r.resolve("localhost", ring->now_ms() + std::uint64_t(got[0].ttl) * 1000 + 1, keep);
    EXPECT_EQ(got.size(), 4u);
    EXPECT_EQ(r.in_flight(), 1u);
    for (int i = 0; i < 100 && got.size() < 5; ++i) ASSERT_GE(ring->turn(&second), 0);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_FALSE(got[4].from_cache);
    poll.cancel();
    ring->turn(&second);
}

// Time is an argument: expire() with a time past timeout_ms fails the lookup at once,
// whatever unbound is still doing with the dead forwarder; its late answer is dropped.
TEST(Resolver, ExpireFailsALookupPastItsTimeout) {
    auto o = offline();
    o.timeout_ms = 5000;
    Resolver r(o);
    std::optional<MxResult> got;
    r.resolve("example.org", 1000, [&](const MxResult& m) { got = m; });
    r.expire(5999);
    EXPECT_FALSE(got);
    r.expire(6000);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, MxStatus::TempFail);
    EXPECT_NE(got->why.find("timeout"), std::string::npos);
    EXPECT_EQ(verdict(*got).kind, MxVerdict::Kind::Retry);
    EXPECT_EQ(r.in_flight(), 0u);
    EXPECT_EQ(r.cached(), 0u);  // a temporary failure is never cached
    r.process(7000);            // nothing left to call back
}

// The answer is already in the pipe when expire() gives up on the lookup: process() must
// then drop it (no second callback, no freed query touched; ASan builds check the latter).
TEST(Resolver, AnswerArrivingAfterExpireIsDropped) {
    auto o = offline();
    o.timeout_ms = 1000;
    Resolver r(o);
    int calls = 0;
    r.resolve("localhost", 0, [&](const MxResult& m) {
        ++calls;
        EXPECT_EQ(m.status, MxStatus::TempFail);
    });
    pollfd p{r.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1);  // unbound's local answer to the MX query is waiting
    r.expire(1000);
    EXPECT_EQ(calls, 1);
    r.process(1001);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(r.in_flight(), 0u);
    const MxResult again = r.resolve_sync("localhost");  // the resolver is still usable
    EXPECT_EQ(again.status, MxStatus::ImplicitMx);
}

}  // namespace
}  // namespace ringmail::relay
