// tests/relay/mx_result_test.cpp — the pure pieces of MX resolution: MX RDATA parsing
// (wire-format names as libunbound returns them), domain syntax, host order (RFC 5321 5.1),
// verdicts (RFC 7505 null MX 5.1.10, NXDOMAIN 5.1.2, temporary 4.4.3).
#include "relay/mx_result.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace ringmail::relay {
namespace {

std::vector<std::uint8_t> rdata(std::uint16_t pref, std::initializer_list<std::string_view> labels) {
    std::vector<std::uint8_t> out{static_cast<std::uint8_t>(pref >> 8), static_cast<std::uint8_t>(pref)};
    for (auto l : labels) {
        out.push_back(static_cast<std::uint8_t>(l.size()));
        out.insert(out.end(), l.begin(), l.end());
    }
    out.push_back(0);
    return out;
}

TEST(MxRdata, ParsesPreferenceAndName) {
    const auto rec = parse_mx_rdata(rdata(20, {"mx-b", "ringmail-test"}));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->preference, 20);
    EXPECT_EQ(rec->name, "mx-b.ringmail-test");
}

TEST(MxRdata, NullMxIsTheRootName) {
    const auto rec = parse_mx_rdata(rdata(0, {}));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->preference, 0);
    EXPECT_EQ(rec->name, "");
}

TEST(MxRdata, RejectsMalformed) {
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{}));
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{0, 10}));                // no name
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{0, 10, 3, 'a', 'b'}));   // label past the end
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{0, 10, 1, 'a'}));        // no root label
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{0, 10, 0xc0, 12}));      // compression pointer
    EXPECT_FALSE(parse_mx_rdata(std::vector<std::uint8_t>{0, 10, 0, 0}));          // bytes after the name
    EXPECT_FALSE(parse_mx_rdata(rdata(10, {"a.b"})));                              // dot inside a label
    EXPECT_FALSE(parse_mx_rdata(rdata(10, {std::string_view("a\0b", 3)})));        // NUL inside a label
    EXPECT_FALSE(parse_mx_rdata(rdata(10, {"a\r\nb"})));                           // controls
    const std::string l63(63, 'a');
    EXPECT_TRUE(parse_mx_rdata(rdata(10, {l63})));
    std::vector<std::uint8_t> too_long{0, 10, 64};
    too_long.insert(too_long.end(), 64, 'a');
    too_long.push_back(0);
    EXPECT_FALSE(parse_mx_rdata(too_long));
}

TEST(Domain, NormalizesCaseAndFinalDot) {
    EXPECT_EQ(normalize_domain("Example.COM."), "example.com");
    EXPECT_EQ(normalize_domain("_dmarc.x-y.example"), "_dmarc.x-y.example");
}

TEST(Domain, RefusesWhatIsNoHostName) {
    for (std::string_view d : {"", ".", "a..b", ".a", "a b", "a\\046b", "exa\xc3\xa9mple.org", "[192.0.2.1]", "a;b"})
        EXPECT_FALSE(normalize_domain(d)) << d;
    EXPECT_FALSE(normalize_domain(std::string(64, 'a') + ".org"));
    EXPECT_TRUE(normalize_domain(std::string(63, 'a') + ".org"));
    std::string long_name;
    while (long_name.size() < 254) long_name += "abcdefghi.";
    long_name.resize(254);
    EXPECT_FALSE(normalize_domain(long_name));
}

TEST(HostOrder, LowestPreferenceFirstEqualOnesShuffled) {
    std::vector<MxHost> hosts;
    for (const auto& [p, n] : std::vector<std::pair<int, std::string>>{{30, "c"}, {10, "a1"}, {20, "b"}, {10, "a2"}, {10, "a3"}})
        hosts.push_back(MxHost{static_cast<std::uint16_t>(p), n, {}, {}, 0, HostStatus::Ok});
    std::mt19937_64 rng(42);
    std::set<std::string> firsts;
    for (int i = 0; i < 200; ++i) {
        auto h = hosts;
        order_hosts(h, rng);
        ASSERT_EQ(h.size(), 5u);
        EXPECT_EQ(h[0].preference, 10);
        EXPECT_EQ(h[2].preference, 10);
        EXPECT_EQ(h[3].name, "b");
        EXPECT_EQ(h[4].name, "c");
        firsts.insert(h[0].name);
    }
    EXPECT_EQ(firsts.size(), 3u);  // each of the preference-10 hosts came first sometimes
}

MxResult with_hosts(MxStatus s, std::vector<HostStatus> statuses) {
    MxResult r;
    r.status = s;
    r.domain = "example.org";
    for (auto st : statuses) r.hosts.push_back(MxHost{10, "mx.example.org", {}, {}, 60, st});
    return r;
}

TEST(Verdict, DeliverWhenAnyHostHasAnAddress) {
    EXPECT_EQ(verdict(with_hosts(MxStatus::Mx, {HostStatus::NoAddress, HostStatus::Ok})).kind, MxVerdict::Kind::Deliver);
    EXPECT_EQ(verdict(with_hosts(MxStatus::ImplicitMx, {HostStatus::Ok})).kind, MxVerdict::Kind::Deliver);
}

TEST(Verdict, NoAddressAnywhereFailsUnlessALookupMayStillWork) {
    const auto fail = verdict(with_hosts(MxStatus::Mx, {HostStatus::NoAddress}));
    EXPECT_EQ(fail.kind, MxVerdict::Kind::Fail);
    EXPECT_EQ(fail.enhanced, "5.4.4");
    const auto retry = verdict(with_hosts(MxStatus::Mx, {HostStatus::NoAddress, HostStatus::TempFail}));
    EXPECT_EQ(retry.kind, MxVerdict::Kind::Retry);
    EXPECT_EQ(retry.code, 451);
}

TEST(Verdict, NullMxNxDomainAndTemporaryFailure) {
    MxResult r;
    r.domain = "example.org";
    r.status = MxStatus::NullMx;
    auto v = verdict(r);
    EXPECT_EQ(v.kind, MxVerdict::Kind::Fail);
    EXPECT_EQ(v.code, 556);
    EXPECT_EQ(v.enhanced, "5.1.10");
    r.status = MxStatus::NxDomain;
    v = verdict(r);
    EXPECT_EQ(v.kind, MxVerdict::Kind::Fail);
    EXPECT_EQ(v.enhanced, "5.1.2");
    r.status = MxStatus::TempFail;
    r.why = "SERVFAIL from the DNS server";
    v = verdict(r);
    EXPECT_EQ(v.kind, MxVerdict::Kind::Retry);
    EXPECT_EQ(v.enhanced, "4.4.3");
    EXPECT_NE(v.text.find("SERVFAIL"), std::string::npos);
}

TEST(Address, FormatsBothFamilies) {
    EXPECT_EQ(format_address(std::array<std::uint8_t, 4>{192, 0, 2, 1}), "192.0.2.1");
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
    v6[15] = 1;
    EXPECT_EQ(format_address(v6), "2001:db8::1");
}

}  // namespace
}  // namespace ringmail::relay
