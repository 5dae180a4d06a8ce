// tests/relay/message_route_test.cpp — a message's own smarthost to its store text and back.
#include "relay/message_route.hpp"

#include <gtest/gtest.h>

namespace ringmail::relay {
namespace {

MessageRoute full() {
    MessageRoute r;
    r.host = "smtp.example.com";
    r.port = 587;
    r.tls = SmarthostTls::StartTls;
    r.user = "user@example.com";
    r.password = std::string("a,b:c\n\0d9:", 10);  // octets of the encoding itself
    r.timeout_s = 30;
    r.verify = false;
    return r;
}

TEST(MessageRoute, EncodeThenDecodeGivesItBack) {
    for (const SmarthostTls t : {SmarthostTls::None, SmarthostTls::StartTls, SmarthostTls::Smtps}) {
        MessageRoute r = full();
        r.tls = t;
        EXPECT_EQ(MessageRoute::decode(r.encode()), r);
    }
    MessageRoute bare;
    bare.host = "10.0.0.1";
    EXPECT_EQ(MessageRoute::decode(bare.encode()), bare);
}

TEST(MessageRoute, DecodeRefusesWhatEncodeNeverWrites) {
    const std::string good = full().encode();
    EXPECT_FALSE(MessageRoute::decode(""));
    EXPECT_FALSE(MessageRoute::decode(good.substr(0, good.size() - 1)));  // cut short
    EXPECT_FALSE(MessageRoute::decode(good + "0:,"));                     // a field too many
    EXPECT_FALSE(MessageRoute::decode("1:2," + good.substr(4)));          // a later version
    MessageRoute r = full();
    r.host.clear();
    EXPECT_FALSE(MessageRoute::decode(r.encode()));  // no host
    r = full();
    r.port = 0;
    EXPECT_FALSE(MessageRoute::decode(r.encode()));
    // Every prefix of a good text, and the good text with each octet changed to 'x'
    // or '9', decodes to nothing or to some route, never crashes (run under ASan).
    for (std::size_t i = 0; i < good.size(); ++i) {
        (void)MessageRoute::decode(good.substr(0, i));
        for (const char c : {'x', '9', ':', ','}) {
            std::string bad = good;
            bad[i] = c;
            (void)MessageRoute::decode(bad);
        }
    }
}

TEST(MessageRoute, LabelNamesHostAndPortOnly) {
    const MessageRoute r = full();
    EXPECT_EQ(r.label(), "smtp.example.com:587");
    MessageRoute v6;
    v6.host = "::1";
    v6.port = 2525;
    EXPECT_EQ(v6.label(), "[::1]:2525");
}

}  // namespace
}  // namespace ringmail::relay
