// tests/proto/body_reader_test.cpp — proto::BodyReader on its own: DATA dot-unstuffing and
// end marker, BDAT chunks, latched errors. Every input runs under every split.
#include "proto/body_reader.hpp"
#include "split.hpp"

namespace ringmail::test {
namespace {

using proto::BodyReader;
using proto::Error;

struct DataResult {
    std::string body;
    std::size_t consumed = 0;  // total octets consumed up to and including the end marker
    bool done = false;
    Error error = Error::None;
    bool operator==(const DataResult&) const = default;
};

void PrintTo(const DataResult& r, std::ostream* os) {
    *os << "{body=" << ::testing::PrintToString(r.body) << " consumed=" << r.consumed
        << " done=" << r.done << " error=" << int(r.error) << "}";
}

// Feeds pieces as the session does: the unconsumed rest of a piece is left for commands.
DataResult read_data(const Pieces& pieces, std::uint64_t max_size = 1 << 20, std::size_t max_line = 1000) {
    DataResult r;
    BodyReader br;
    br.start(&r.body, max_size, max_line);
    for (auto p : pieces) {
        const auto res = br.feed_data({p.data(), p.size()});
        r.consumed += res.consumed;
        if (res.done) {
            r.done = true;
            break;
        }
        EXPECT_EQ(res.consumed, p.size());  // without an end, everything is consumed
    }
    r.error = br.error();
    return r;
}

DataResult scan(std::string_view in, std::uint64_t max_size = 1 << 20, std::size_t max_line = 1000) {
    const DataResult whole = read_data(Pieces{in}, max_size, max_line);
    for_each_split(in, [&](const Pieces& p) { EXPECT_EQ(read_data(p, max_size, max_line), whole); });
    return whole;
}

TEST(BodyReader, EndsAtDotLineAndLeavesTheRest) {
    const auto r = scan("a\r\n.\r\nNOOP\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.consumed, 6u);
    EXPECT_EQ(r.body, "a\r\n");
    EXPECT_EQ(r.error, Error::None);
}

TEST(BodyReader, EndMarkerRightAtStartGivesEmptyBody) {
    const auto r = scan(".\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.body, "");
}

TEST(BodyReader, UnstuffsLeadingDots) {
    const auto r = scan("..a\r\n..\r\n.b.\r\n.\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.body, ".a\r\n.\r\nb.\r\n");
}

TEST(BodyReader, NoEndWithoutFinalCrLf) {
    const auto r = scan("a\r\n.");
    EXPECT_FALSE(r.done);
    EXPECT_EQ(r.consumed, 4u);
}

TEST(BodyReader, LatchesBareLfAndKeepsReading) {
    const auto r = scan("a\nb\r\n.\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.error, Error::BareLineEnding);
}

TEST(BodyReader, LatchesBareCr) {
    EXPECT_EQ(scan("a\rb\r\n.\r\n").error, Error::BareLineEnding);
    EXPECT_EQ(scan("a\r\n.\rb\r\n.\r\n").error, Error::BareLineEnding);
}

TEST(BodyReader, BareLfIsNeverALineStart) {
    // "\n.\r\n" after a bare LF must not end the data (SMTP smuggling).
    for (std::string_view fake : {"x\n.\r\n", "x\r\n\n.\r\n", "x\r\n.\n.\r\n"}) {
        SCOPED_TRACE(::testing::PrintToString(std::string(fake)));
        const auto r = scan(std::string(fake) + "MAIL\r\n.\r\n");
        EXPECT_TRUE(r.done);
        EXPECT_EQ(r.consumed, fake.size() + 9);
        EXPECT_EQ(r.error, Error::BareLineEnding);
    }
}

TEST(BodyReader, LatchesLongLineAtLimitPlusOne) {
    EXPECT_EQ(scan(std::string(8, 'x') + "\r\n.\r\n", 1 << 20, 10).error, Error::None);
    EXPECT_EQ(scan(std::string(9, 'x') + "\r\n.\r\n", 1 << 20, 10).error, Error::TextLineTooLong);
}

TEST(BodyReader, LatchesSizeButCountsOn) {
    const auto r = scan("12345\r\n12345\r\n.\r\n", 10);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.error, Error::MessageTooBig);
    EXPECT_LE(r.body.size(), 10u);  // nothing past the limit is kept
}

TEST(BodyReader, FirstErrorWins) {
    const auto r = scan(std::string(20, 'x') + "\n" + "\r\n.\r\n", 1 << 20, 10);
    EXPECT_EQ(r.error, Error::TextLineTooLong);
}

// A reader that keeps nothing (the discard handler's) reads the same bytes to the same
// end with the same error, and counts what a keeping one keeps.
TEST(BodyReader, ACountingReaderAgreesWithAKeepingOne) {
    const std::string inputs[] = {
        "a\r\n..b\r\n.\r\nNOOP\r\n", ".\r\n", "x\ny\r\n.\r\n", "x\ry\r\n.\r\n", "\r\n\n.\r\n.\r\n",
        std::string(20, 'x') + "\r\n.\r\n", "12345\r\n12345\r\n.\r\n", "no end\r\n",
    };
    for (const std::string& in : inputs) {
        for_each_split(in, [&](const Pieces& pieces) {
            std::string kept;
            BodyReader keeping, counting;
            keeping.start(&kept, 10, 12);
            counting.start(nullptr, 10, 12);
            for (auto p : pieces) {
                const auto a = keeping.feed_data({p.data(), p.size()});
                const auto b = counting.feed_data({p.data(), p.size()});
                EXPECT_EQ(a.consumed, b.consumed) << ::testing::PrintToString(in);
                EXPECT_EQ(a.done, b.done) << ::testing::PrintToString(in);
                if (a.done) break;
            }
            EXPECT_EQ(keeping.error(), counting.error()) << ::testing::PrintToString(in);
            EXPECT_EQ(keeping.size(), counting.size()) << ::testing::PrintToString(in);
            if (keeping.error() == Error::None) {
                EXPECT_EQ(counting.size(), kept.size());
            }
        });
    }
}

// BDAT: chunk after chunk, no dots, no end marker.
std::pair<std::string, Error> chunks(const Pieces& pieces) {
    std::string body;
    BodyReader br;
    br.start(&body, 1 << 20, 1000);
    for (auto p : pieces) br.feed_chunk({p.data(), p.size()});
    br.finish_chunks();
    return {body, br.error()};
}

TEST(BodyReader, ChunksAreVerbatim) {
    const std::string in = "..a\r\n.\r\nb\r\n";
    for_each_split(in, [&](const Pieces& p) {
        EXPECT_EQ(chunks(p), std::make_pair(in, Error::None));
    });
}

TEST(BodyReader, ChunkEndingInCrIsBare) {
    for_each_split("a\r\nb\r", [&](const Pieces& p) { EXPECT_EQ(chunks(p).second, Error::BareLineEnding); });
}

TEST(BodyReader, ChunkWithoutFinalNewlineIsAccepted) {
    EXPECT_EQ(chunks({"a\r\nb"}), std::make_pair(std::string("a\r\nb"), Error::None));
}

}  // namespace
}  // namespace ringmail::test
